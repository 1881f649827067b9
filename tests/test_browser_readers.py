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


def test_the_topic_index_leaves_out_empty_topics_and_charts_have_readable_weeks(live_server, page):
    busy = make_tag("Busy topic")
    empty = make_tag("Empty topic")
    make_article("Busy story", tags=[busy])

    page.goto(f"{live_server.url}/tags/")
    names = page.locator(".tag-list a").all_inner_texts()
    assert "Busy topic" in names and "Empty topic" not in names

    page.goto(f"{live_server.url}/tags/{busy.slug}/")
    axis = page.locator(".chart-axis span").all_inner_texts()
    assert len(axis) == 3 and all(label.split()[0].isdigit() for label in axis)
    assert page.locator(".chart-axis").is_visible()
    # Screen readers get every week and its count as a table.
    table = page.locator(".chart table")
    assert table.locator("tbody tr").count() == 12
    assert table.locator("caption").inner_text() == "Articles per week about Busy topic"
    shared.assert_fits_the_screen(page)

    page.goto(f"{live_server.url}/tags/{empty.slug}/")
    assert page.locator(".chart").count() == 0
    assert "No articles on this topic yet." in page.locator("main").inner_text()


def test_an_article_page_says_which_time_zone_its_time_is_in(live_server, page, settings):
    article = make_article("Timed story", tags=[make_tag("Times")])
    page.goto(f"{live_server.url}/articles/{article.pk}/")
    shown = page.locator(".story time").inner_text()
    assert shown.endswith(" UTC"), shown


def test_a_story_shows_once_on_its_topic_and_opens_on_its_own_page(live_server, page):
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import make_story
    from tests.pages_fixtures import make_source

    tag = make_tag("Heavy rare earths")
    now = timezone.now()
    wire = make_source("Mineral Wire", "wire.example")
    desk = make_source("Pacific Desk", "desk.example")
    lead = make_article(
        "Sarawak separation plant signs Japanese offtake for its heavy rare earths",
        tags=[tag],
        source=wire,
        published_at=now - timedelta(hours=6),
        summary="A planned plant in Sarawak will sell most of its dysprosium to Japan.",
    )
    retold = make_article(
        "Japanese trader secures a decade of Sarawak dysprosium and terbium",
        tags=[tag],
        source=desk,
        published_at=now - timedelta(hours=2),
    )
    make_article("Unrelated magnet news", tags=[tag], published_at=now - timedelta(hours=1))
    story = make_story(lead, retold)

    page.goto(f"{live_server.url}/tags/{tag.slug}/")
    main = page.locator("main")
    assert "Total: 3 articles found in 2 stories" in main.inner_text()
    titles = page.locator("article.entry h2").all_inner_texts()
    assert titles == ["Unrelated magnet news", lead.title]
    also = page.get_by_role("link", name="Also: Pacific Desk")
    assert also.count() == 1
    shared.assert_fits_the_screen(page)
    shared.shot(page, "topic-with-story")

    also.click()
    page.wait_for_url(f"**/stories/{story.pk}/")
    assert page.locator("h1").inner_text() == lead.title
    # Landmarks and a heading outline a screen reader can walk.
    assert page.locator("header.site-header").count() == 1
    assert page.get_by_role("main").count() == 1
    assert page.get_by_role("contentinfo").count() == 1
    assert page.locator("h1").count() == 1
    listed = page.locator(".story-article h3").all_inner_texts()
    assert listed == [retold.title, lead.title]  # newest first
    assert page.locator(".story-article .source").all_inner_texts() == [
        "Pacific Desk",
        "Mineral Wire",
    ]
    originals = page.locator(".story-article a.original")
    assert originals.nth(0).get_attribute("href") == retold.url
    canonical = page.locator("link[rel=canonical]").get_attribute("href")
    assert canonical.endswith(f"/stories/{story.pk}/")
    shared.assert_fits_the_screen(page)
    shared.shot(page, "story-page")

    page.get_by_role("link", name=retold.title, exact=True).click()
    page.wait_for_url(f"**/articles/{retold.pk}/")
    page.get_by_role("link", name="Part of a story: 2 articles").click()
    page.wait_for_url(f"**/stories/{story.pk}/")
    assert page.console_errors == []
