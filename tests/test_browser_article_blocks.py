"""A reader sees an article's headings, lists, quotes and code as such, in a real Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.pages_fixtures import make_article, make_source

# test_browser skips (at import) where Chromium is missing; its fixtures are shared here.
from tests.test_browser import assert_fits_the_screen, browser, page, shot

__all__ = ["browser", "page"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
LONG_COMMAND = "curl -sSL https://downloads.example.org/" + "very-long-path/" * 20 + "install.sh"


def test_a_reader_sees_the_article_s_structure(live_server, page: Page):
    # Full text (and so its structure) is shown only for a source licensed for it.
    source = make_source("Metals Wire", "metalswire.example")
    source.full_text_licensed = True
    source.save(update_fields=["full_text_licensed"])
    article = make_article(
        "Magnet makers look beyond China",
        source=source,
        text="Lead.\n\nDomestic capacity grows, unevenly",
        blocks=[
            {"type": "p", "text": "Magnet makers are signing supply contracts with refiners."},
            {"type": "h2", "text": "Domestic capacity grows, unevenly"},
            {"type": "ul", "items": ["A refinery in Estonia", "A plant in Texas"]},
            {"type": "h3", "text": HOSTILE},
            {"type": "ol", "items": ["Traceable origin", "Stable prices"]},
            {"type": "blockquote", "text": "We cannot build a factory on that."},
            {"type": "pre", "text": LONG_COMMAND},
        ],
    )
    page.goto(f"{live_server.url}/articles/{article.pk}/")
    body = page.locator(".story-text")
    assert body.get_by_role("heading", level=2).inner_text() == "Domestic capacity grows, unevenly"
    assert body.get_by_role("heading", level=3).inner_text() == HOSTILE
    items = body.locator("ul > li").all_inner_texts()
    assert items == ["A refinery in Estonia", "A plant in Texas"]
    assert body.locator("ol > li").count() == 2
    assert body.locator("blockquote").inner_text() == "We cannot build a factory on that."
    assert body.locator("pre code").inner_text() == LONG_COMMAND
    assert page.evaluate("window.__pwned") is None
    assert body.locator("script, img").count() == 0
    # A long command scrolls inside its box; the page itself stays as wide as the screen.
    assert_fits_the_screen(page)
    shot(page, "article-structure")
    assert page.console_errors == []
