"""The ingestion verbs end to end: a loopback HTTP server plays the publishers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from werkzeug.wrappers import Response as WerkzeugResponse

from articles import ingest
from articles.models import Article, ArticleFeed, Feed, PollLog, RawPage
from tags.models import ArticleTag, Tag
from tests.factories import article_html, make_feed, rss

pytestmark = pytest.mark.django_db

GALLIUM = (
    "Beijing tightened export controls on gallium and germanium on Monday, requiring licences "
    "for every shipment of the two metals used in chips and solar cells."
)
MAGNETS = (
    "A Japanese magnet maker said it had secured two years of rare earth supply from a new "
    "refinery in Malaysia, easing worries about shortages of neodymium."
)


def serve_story(httpserver, path: str, title: str, lead: str, **kwargs) -> str:
    httpserver.expect_request(path).respond_with_data(
        article_html(title, [lead], **kwargs), content_type="text/html; charset=utf-8"
    )
    return httpserver.url_for(path)


def serve_feed(httpserver, path: str, items: list[dict], **headers) -> str:
    httpserver.expect_request(path).respond_with_data(
        rss(items), content_type="application/rss+xml", headers=headers
    )
    return httpserver.url_for(path)


@pytest.fixture
def two_story_feed(httpserver):
    gallium = serve_story(httpserver, "/a/gallium", "China curbs gallium exports", GALLIUM)
    magnets = serve_story(httpserver, "/a/magnets", "Magnet maker secures supply", MAGNETS)
    url = serve_feed(
        httpserver,
        "/feed.xml",
        [
            {"title": "China curbs gallium exports", "link": gallium + "?utm_source=rss"},
            {"title": "Magnet maker secures supply", "link": magnets, "categories": ["Mining"]},
        ],
    )
    return make_feed(url)


def test_it_polls_a_feed_fetches_its_articles_and_tags_them(two_story_feed):
    tag = Tag.objects.get(slug="rare-earths")  # a starter topic; "neodymium" is an alias
    report = ingest.ingest_feeds([two_story_feed])

    assert (report.ok, report.new_articles, report.extracted) == (1, 2, 2)
    magnets = Article.objects.get(title="Magnet maker secures supply")
    assert magnets.status == Article.Status.OK
    assert "neodymium" in magnets.text
    assert magnets.summary
    assert magnets.word_count > 50
    assert magnets.raw_page.html().startswith(b"<!doctype html>")
    link = ArticleTag.objects.get(article=magnets, tag=tag)
    assert link.terms
    tag.refresh_from_db()
    assert tag.article_count == 1


def test_tracking_parameters_never_reach_the_stored_url(two_story_feed, httpserver):
    ingest.poll_feed(two_story_feed)
    urls = set(Article.objects.values_list("url", flat=True))
    assert httpserver.url_for("/a/gallium") in urls
    assert not any("utm_" in url for url in urls)


def test_polling_twice_stores_each_entry_once(two_story_feed):
    ingest.poll_feed(two_story_feed)
    two_story_feed.next_poll_at = timezone.now()
    second = ingest.poll_feed(two_story_feed)
    assert second.new_article_ids == []
    assert Article.objects.count() == 2
    assert ArticleFeed.objects.count() == 2
    assert PollLog.objects.filter(feed=two_story_feed).count() == 2


def test_the_same_story_in_two_feeds_is_one_article_linked_to_both(httpserver):
    story = serve_story(httpserver, "/a/gallium", "China curbs gallium exports", GALLIUM)
    first = make_feed(serve_feed(httpserver, "/one.xml", [{"title": "Gallium", "link": story}]))
    second = make_feed(serve_feed(httpserver, "/two.xml", [{"title": "Gallium!", "link": story}]))
    ingest.ingest_feeds([first, second])
    article = Article.objects.get()
    assert set(article.feeds.all()) == {first, second}


def test_a_second_poll_sends_the_etag_and_a_304_costs_no_parsing(httpserver):
    story = serve_story(httpserver, "/a/gallium", "China curbs gallium exports", GALLIUM)
    httpserver.expect_ordered_request("/feed.xml").respond_with_data(
        rss([{"title": "Gallium", "link": story}]),
        content_type="application/rss+xml",
        headers={"ETag": '"v1"', "Last-Modified": "Fri, 20 Nov 2026 10:00:00 GMT"},
    )
    httpserver.expect_ordered_request(
        "/feed.xml",
        headers={"If-None-Match": '"v1"', "If-Modified-Since": "Fri, 20 Nov 2026 10:00:00 GMT"},
    ).respond_with_data("", status=304)
    feed = make_feed(httpserver.url_for("/feed.xml"))
    assert ingest.poll_feed(feed).outcome == Feed.Status.OK
    result = ingest.poll_feed(feed)
    assert (result.outcome, result.http_status) == (Feed.Status.NOT_MODIFIED, 304)
    feed.refresh_from_db()
    assert feed.etag == '"v1"'
    assert feed.last_status == Feed.Status.NOT_MODIFIED


def test_a_gone_feed_is_disabled_at_once_with_the_reason(httpserver):
    httpserver.expect_request("/feed.xml").respond_with_data("gone", status=410)
    feed = make_feed(httpserver.url_for("/feed.xml"))
    ingest.poll_feed(feed)
    feed.refresh_from_db()
    assert not feed.is_active
    assert feed.last_status == Feed.Status.DISABLED
    assert "410" in feed.disabled_reason


def test_failures_back_off_and_eventually_disable_the_feed(httpserver, settings):
    settings.NEWSDESK_MAX_FEED_FAILURES = 3
    httpserver.expect_request("/feed.xml").respond_with_data("oops", status=500)
    feed = make_feed(httpserver.url_for("/feed.xml"))
    delays = []
    for _ in range(3):
        before = timezone.now()
        ingest.poll_feed(feed)
        feed.refresh_from_db()
        delays.append((feed.next_poll_at - before).total_seconds())
    assert feed.consecutive_failures == 3
    assert delays[1] > delays[0] * 1.3
    assert not feed.is_active
    assert "3 polls failed in a row" in feed.disabled_reason


def test_a_success_after_failures_resets_the_count(httpserver):
    url = serve_feed(httpserver, "/feed.xml", [{"title": "Quiet", "link": "http://x.test/a"}])
    feed = make_feed(url, consecutive_failures=4, last_error="timed out")
    ingest.poll_feed(feed)
    feed.refresh_from_db()
    assert (feed.consecutive_failures, feed.last_error) == (0, "")


def test_a_permanent_redirect_updates_the_stored_feed_url(httpserver):
    new_url = serve_feed(httpserver, "/new.xml", [{"title": "Moved", "link": "http://x.test/a"}])
    httpserver.expect_request("/old.xml").respond_with_response(
        WerkzeugResponse(status=301, headers={"Location": new_url})
    )
    feed = make_feed(httpserver.url_for("/old.xml"))
    ingest.poll_feed(feed)
    feed.refresh_from_db()
    assert feed.url == new_url


def test_a_feed_at_a_private_address_is_refused_and_recorded():
    feed = make_feed("http://10.1.2.3/feed.xml")
    result = ingest.poll_feed(feed)
    assert result.outcome == Feed.Status.ERROR
    feed.refresh_from_db()
    assert "private" in feed.last_error


def test_a_broken_feed_marks_that_feed_and_the_run_goes_on(httpserver):
    httpserver.expect_request("/broken.xml").respond_with_data(
        "<html><body>Not a feed</body></html>", content_type="text/html"
    )
    story = serve_story(httpserver, "/a/gallium", "China curbs gallium exports", GALLIUM)
    broken = make_feed(httpserver.url_for("/broken.xml"))
    good = make_feed(serve_feed(httpserver, "/good.xml", [{"title": "G", "link": story}]))
    report = ingest.ingest_feeds([broken, good])
    assert (report.failed, report.ok, report.extracted) == (1, 1, 1)
    broken.refresh_from_db()
    assert broken.last_status == Feed.Status.ERROR
    assert broken.last_error


def test_entries_without_links_are_skipped_and_duplicate_guids_stored_once(httpserver):
    story = serve_story(httpserver, "/a/gallium", "China curbs gallium exports", GALLIUM)
    items = [
        {"title": "No link here", "guid": "no-link"},
        {"title": "Gallium", "link": story, "guid": "same"},
        {"title": "Gallium again", "link": story + "?v=2", "guid": "same"},
    ]
    feed = make_feed(serve_feed(httpserver, "/feed.xml", items))
    result = ingest.poll_feed(feed)
    assert len(result.new_article_ids) == 1
    assert Article.objects.count() == 1


def test_a_claimed_feed_is_not_polled_by_a_second_worker_until_the_claim_expires(
    two_story_feed,
):
    assert two_story_feed.claim(300)
    assert ingest.poll_feed(two_story_feed).outcome == "skipped"
    assert Article.objects.count() == 0
    # A worker that died mid-poll leaves a claim in the past: the feed is due again.
    Feed.objects.filter(pk=two_story_feed.pk).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )
    assert two_story_feed in Feed.objects.due()
    assert ingest.poll_feed(two_story_feed).outcome == Feed.Status.OK


def test_a_missing_page_is_kept_with_its_error(httpserver):
    httpserver.expect_request("/a/missing").respond_with_data("nope", status=404)
    feed = make_feed(
        serve_feed(
            httpserver, "/feed.xml", [{"title": "Lost", "link": httpserver.url_for("/a/missing")}]
        )
    )
    report = ingest.ingest_feeds([feed])
    article = Article.objects.get()
    assert article.status == Article.Status.FAILED
    assert "404" in article.error
    assert report.article_errors


def test_a_page_with_almost_no_text_is_kept_with_an_extraction_error(httpserver):
    httpserver.expect_request("/a/stub").respond_with_data(
        "<html><head><title>Moved</title></head><body><p>This page has moved.</p></body></html>",
        content_type="text/html",
    )
    feed = make_feed(
        serve_feed(
            httpserver, "/feed.xml", [{"title": "Stub", "link": httpserver.url_for("/a/stub")}]
        )
    )
    ingest.ingest_feeds([feed])
    article = Article.objects.get()
    assert article.status == Article.Status.FAILED
    assert article.error
    assert RawPage.objects.filter(article=article).exists()


def test_robots_txt_is_honoured_for_article_pages(httpserver):
    httpserver.expect_request("/robots.txt").respond_with_data(
        "User-agent: *\nDisallow: /private/\n", content_type="text/plain"
    )
    story = serve_story(httpserver, "/private/story", "Secret", GALLIUM)
    feed = make_feed(serve_feed(httpserver, "/feed.xml", [{"title": "Secret", "link": story}]))
    ingest.ingest_feeds([feed])
    article = Article.objects.get()
    assert article.status == Article.Status.FAILED
    assert "robots.txt" in article.error


def test_the_same_text_at_two_urls_is_stored_once_and_linked(httpserver):
    first = serve_story(httpserver, "/a/one", "China curbs gallium exports", GALLIUM)
    second = serve_story(httpserver, "/b/two", "China curbs gallium exports", GALLIUM)
    feed = make_feed(
        serve_feed(
            httpserver, "/feed.xml", [{"title": "1", "link": first}, {"title": "2", "link": second}]
        )
    )
    ingest.ingest_feeds([feed])
    original = Article.objects.get(status=Article.Status.OK)
    duplicate = Article.objects.get(status=Article.Status.DUPLICATE)
    assert duplicate.duplicate_of == original
    assert duplicate.text == ""
    assert not duplicate.is_visible


def test_reextract_runs_again_from_the_stored_html_without_fetching(two_story_feed, httpserver):
    ingest.ingest_feeds([two_story_feed])
    article = Article.objects.get(title="Magnet maker secures supply")
    Article.objects.filter(pk=article.pk).update(text="", summary="")
    httpserver.clear()  # a fetch now would fail
    article.refresh_from_db()
    ingest.reextract(article)
    article.refresh_from_db()
    assert "neodymium" in article.text
    assert article.summary


def test_an_editors_summary_survives_reextraction(two_story_feed):
    ingest.ingest_feeds([two_story_feed])
    article = Article.objects.get(title="Magnet maker secures supply")
    article.editor_summary = "A Japanese firm lines up two years of rare earths."
    article.save()
    ingest.reextract(article)
    article.refresh_from_db()
    assert article.summary == "A Japanese firm lines up two years of rare earths."
    assert article.summary_source == Article.SummarySource.EDITOR


def test_prune_removes_old_raw_html_and_poll_history(two_story_feed, settings):
    ingest.ingest_feeds([two_story_feed])
    later = timezone.now() + timedelta(days=settings.NEWSDESK_RAW_HTML_RETENTION_DAYS + 1)
    removed = ingest.prune(now=later)
    assert removed["raw_pages"] == 2
    assert removed["poll_logs"] == 1
    assert Article.objects.count() == 2
