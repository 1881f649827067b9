"""The reader pages in a real headless Chromium, at phone and desktop widths.

Screenshots go to test-artifacts/ for a human to look at; the assertions cover what a reader
does: page through a topic, open an article, search, and meet hostile text that stays inert.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing: install Chromium (apt-get install chromium) to run browser tests",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

from tests.pages_fixtures import (  # noqa: E402
    HOSTILE_SUMMARY,
    HOSTILE_TEXT,
    HOSTILE_TITLE,
    link,
    make_article,
    make_many,
    make_source,
    make_tag,
)

# Serialized rollback puts back the rows migrations created (starter topics, groups) after each
# test flushes the database, so the tests that run after these still find them.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ASYNC_FLAG = "DJANGO_ALLOW_ASYNC_UNSAFE"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(exist_ok=True)
    # Playwright's sync API keeps an event loop running in this thread; the ORM calls made here
    # are ordinary blocking calls between browser steps, so Django's async guard stands down,
    # for this module only: subprocesses other tests start must not inherit the flag.
    previous = os.environ.get(ASYNC_FLAG)
    os.environ[ASYNC_FLAG] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield launched
            launched.close()
    finally:
        if previous is None:
            os.environ.pop(ASYNC_FLAG, None)
        else:
            os.environ[ASYNC_FLAG] = previous


@pytest.fixture(params=sorted(VIEWPORTS))
def page(request, browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORTS[request.param])
    opened = context.new_page()
    opened.width_name = request.param
    # Any CSP violation (an inline style or script slipping in) shows up as a console error.
    opened.console_errors = []
    opened.on(
        "console",
        lambda msg: opened.console_errors.append(msg.text) if msg.type == "error" else None,
    )
    yield opened
    context.close()


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}-{page.width_name}.png"), full_page=True)


def assert_fits_the_screen(page: Page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"page is {overflow}px wider than the {page.width_name} screen"


def test_a_reader_pages_through_a_topic_and_opens_an_article(live_server, page: Page):
    tag = make_tag("Browser topic", description="Latest news and articles about browser topics")
    other = make_tag("Neighbouring topic")
    source = make_source("The Test Gazette", "gazette.example")
    articles = make_many(tag, 45, source=source)
    for article in articles[:3]:
        link(article, other)

    page.goto(f"{live_server.url}/tags/{tag.slug}/")
    assert page.locator("h1").inner_text() == "Browser topic"
    assert "Total: 45 articles found" in page.locator("main").inner_text()
    assert page.locator("article.entry").count() == 20
    assert page.locator("svg[role=img] title").first.text_content().startswith("Articles per week")
    assert_fits_the_screen(page)
    shot(page, "tag-page-1")

    page.get_by_role("link", name="« Older entries").click()
    page.wait_for_url("**/?page=2")
    assert page.locator("article.entry").first.locator("h2").inner_text() == articles[20].title
    shot(page, "tag-page-2")

    page.get_by_role("link", name="Newer entries »").click()
    page.wait_for_url(f"**/tags/{tag.slug}/")
    assert page.locator("article.entry").first.locator("h2").inner_text() == articles[0].title

    page.get_by_role("link", name=articles[0].title, exact=True).click()
    page.wait_for_url(f"**/articles/{articles[0].pk}/")
    assert page.locator("h1").inner_text() == articles[0].title
    # The publisher's text stays on the publisher's site: summary and a prominent link.
    read_more = page.get_by_role("link", name="Read the full article at The Test Gazette")
    assert read_more.get_attribute("href") == articles[0].url
    assert read_more.get_attribute("rel") == "noopener nofollow"
    assert page.locator(".story-text p").count() == 0
    assert page.get_by_role("link", name="Neighbouring topic", exact=True).count() == 1
    assert_fits_the_screen(page)
    shot(page, "article")
    assert page.console_errors == []


def test_a_reader_searches_from_the_header(live_server, page: Page):
    make_article("Yttrium prices climb", summary="Yttrium oxide rose for a third week.")
    make_article("Unrelated harbour news", summary="Ships queued outside the port.")

    page.goto(f"{live_server.url}/")
    page.get_by_label("Search articles").fill("yttrium")
    page.get_by_label("Search articles").press("Enter")
    page.wait_for_url("**/search/?q=yttrium")
    assert page.locator("ol.results li").count() == 1
    assert page.locator("ol.results mark").first.inner_text() == "Yttrium"
    assert_fits_the_screen(page)
    shot(page, "search")

    page.goto(f"{live_server.url}/search/?q=%25%25%25")
    assert "nothing to look for" in page.locator("main").inner_text()
    assert page.console_errors == []


def test_hostile_text_stays_inert_and_literal(live_server, page: Page):
    tag = make_tag("Hostile topic")
    article = make_article(
        HOSTILE_TITLE,
        tags=[tag],
        summary=HOSTILE_SUMMARY,
        text=HOSTILE_TEXT,
        url="javascript:window.__pwned=1",
        # Licensed, so the hostile full text is on the page too.
        source=make_source("Open Hostile Press", "hostile.example"),
    )
    article.source.full_text_licensed = True
    article.source.save()
    urls = [
        f"/tags/{tag.slug}/",
        f"/articles/{article.pk}/",
        "/search/?q=hostile",
        "/",
    ]
    for path in urls:
        response = page.goto(f"{live_server.url}{path}")
        csp = response.headers["content-security-policy"]
        script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
        assert "'unsafe-inline'" not in script_src
        assert page.evaluate("typeof window.__pwned") == "undefined", path
        assert page.locator("main script, main img").count() == 0, path
        assert page.locator("a[href^='javascript:' i]").count() == 0, path
    page.goto(f"{live_server.url}/articles/{article.pk}/")
    assert page.locator("h1").inner_text() == HOSTILE_TITLE
    assert page.locator(".lede").inner_text() == HOSTILE_SUMMARY
    assert "<script>window.__pwned=1</script>" in page.locator(".story-text").inner_text()
    shot(page, "hostile-article")


def test_home_and_the_topic_index_fit_the_screen(live_server, page: Page):
    busy = make_tag("Busy this week")
    make_many(busy, 4, source=make_source("Harbour Post", "harbour.example"))
    make_tag("Quiet topic")

    page.goto(f"{live_server.url}/")
    assert page.locator("h1").inner_text() == "Latest articles"
    trending = page.get_by_role("complementary")
    assert trending.get_by_role("link", name="Busy this week").count() == 1
    assert_fits_the_screen(page)
    shot(page, "home")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Topics").click()
    page.wait_for_url("**/tags/")
    names = page.locator(".tag-list a").all_inner_texts()
    assert names[0] == "Busy this week"
    assert "Quiet topic" not in names  # no articles yet: nothing to show a reader
    assert_fits_the_screen(page)
    shot(page, "topics")
    assert page.console_errors == []


def test_the_keyboard_reaches_a_visible_skip_link_first(live_server, page: Page):
    page.goto(f"{live_server.url}/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to content"
    box = page.locator(".skip-link").bounding_box()
    assert box is not None and box["y"] >= 0
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_an_unknown_page_is_a_styled_404(live_server, page: Page):
    response = page.goto(f"{live_server.url}/tags/no-such-topic/")
    assert response.status == 404
    assert page.locator("h1").inner_text() == "Page not found"
    background = page.evaluate(
        "getComputedStyle(document.querySelector('.site-header')).backgroundColor"
    )
    assert background == "rgb(18, 53, 91)"  # the stylesheet loaded under the CSP
    shot(page, "not-found")


def test_an_editor_previews_what_a_threshold_change_adds(live_server, page: Page):
    from django.contrib.auth.models import User

    from tags import linking
    from tests.factories import make_article as make_plain_article
    from tests.factories import make_tag as make_rule_tag

    User.objects.create_superuser("editor", password="pw")
    tag = make_rule_tag("gold", aliases=["bullion"])
    passing = make_plain_article(
        title="Shares rally", text="Markets were quiet.\n\nAnalysts said gold was flat."
    )
    linking.rules_changed()
    linking.tag_article(passing)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/tags/tag/{tag.pk}/change/")
    page.fill("#id_username", "editor")
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    assert page.is_checked("#id_name_is_alias")
    page.fill("#id_strong_body_mentions", "1")
    with page.context.expect_page() as opened:
        page.click("input[name=_preview]")
    preview = opened.value
    preview.wait_for_load_state()
    assert preview.inner_text("#preview-added") == "1"
    assert preview.inner_text("#preview-dropped") == "0"
    assert preview.locator(".preview-added mark").first.inner_text() == "gold"
    assert "strong rule match" in preview.inner_text(".preview-added")
    preview.screenshot(path=str(ARTIFACTS / f"tag-preview-{page.width_name}.png"), full_page=True)
    tag.refresh_from_db()
    assert tag.strong_body_mentions == 3, "a preview saves nothing"
