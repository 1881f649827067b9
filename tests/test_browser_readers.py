"""What a reader sees in a real Chromium: search, the topic index and chart, times."""

from __future__ import annotations

import pytest

import tests.test_browser as shared  # skips this module too when Chromium is missing
from tests.pages_fixtures import make_article, make_tag

# The shared Chromium and its per-width pages.
browser = shared.browser
page = shared.page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

NB_HYPHEN = "\u2011"


def test_search_counts_results_labels_its_forms_and_marks_a_hyphenated_word_whole(
    live_server, page
):
    tag = make_tag("Search topic")
    title = f"Tokyo Doubles Rare{NB_HYPHEN}Earth Stockpile"
    make_article(title, tags=[tag], summary="A stockpile of rare earths grows.")
    make_article("Rare earths in Ohio", tags=[tag], summary="Magnets and rare earths.")
    make_article("Unrelated", tags=[tag], summary="Nothing to see.")

    page.goto(f"{live_server.url}/search/?q=rare+earths")
    assert page.locator(".result-count").inner_text() == "2 articles found"
    labels = page.locator("[role=search]").evaluate_all(
        "forms => forms.map(f => f.getAttribute('aria-label'))"
    )
    assert len(labels) == 2 and all(labels) and len(set(labels)) == 2
    marks = page.locator(".entry-title mark").all_inner_texts()
    assert f"Rare{NB_HYPHEN}Earth" in marks
