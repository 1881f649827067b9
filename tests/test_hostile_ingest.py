"""Hostile feeds and pages through the real ingestion verbs, served from a local server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone
from werkzeug import Request
from werkzeug.wrappers import Response as WerkzeugResponse

from articles import ingest
from articles.models import Article, Feed, PollLog
from bench.hostile import control_character_feed, overlong_fields_feed
from tests.factories import article_html, make_feed, rss

pytestmark = pytest.mark.django_db

LEAD = (
    "Officials in Zürich met rare\u2011earth producers on Tuesday to discuss quotas for the "
    "coming year, and agreed to publish monthly figures for every refinery in the region."
)


def serve_page(httpserver, path: str, html: bytes | str, charset: str = "utf-8") -> str:
    httpserver.expect_request(path).respond_with_data(
        html, content_type=f"text/html; charset={charset}"
    )
    return httpserver.url_for(path)


def test_a_nul_feed_then_a_good_feed_in_one_ingest_run(httpserver, capsys):
    base = httpserver.url_for("").rstrip("/")
    for n, path in enumerate(("/ctl/1", "/ctl/2", "/good/1")):
        lead = f"Report number {n}: {LEAD}"  # distinct pages, so none is a duplicate
        serve_page(httpserver, path, article_html("Story\x00 with \x1b controls", [lead]))
    httpserver.expect_request("/nul.xml").respond_with_data(
        control_character_feed(base), content_type="application/rss+xml"
    )
    good_items = [{"title": "Good story", "link": f"{base}/good/1"}]
    httpserver.expect_request("/good.xml").respond_with_data(
        rss(good_items), content_type="application/rss+xml"
    )
    nul = make_feed(httpserver.url_for("/nul.xml"))
    good = make_feed(httpserver.url_for("/good.xml"))

    call_command("ingest", "--all")

    for feed in (nul, good):
        feed.refresh_from_db()
        assert feed.last_status == Feed.Status.OK
        assert PollLog.objects.filter(feed=feed).count() == 1
    assert Article.objects.filter(feeds=good, status=Article.Status.OK).count() == 1
    stored = Article.objects.filter(feeds=nul).order_by("url")
    assert stored.count() == 2
    for article in stored:
        assert article.status == Article.Status.OK
        for text in (article.title, article.text, article.summary, article.guid):
            assert "\x00" not in text and "\x1b" not in text and "\ufffe" not in text
    assert "\u202e" not in "".join(stored.values_list("title", flat=True))


def test_invalid_utf8_in_a_page_keeps_the_rest_of_the_text(httpserver):
    page = article_html("Zürich rare\u2011earth talks", [LEAD]).encode()
    page = page.replace(b"Officials in", b"Officials \xff\xfe in")
    link = serve_page(httpserver, "/utf", page)
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss([{"title": "Zürich talks", "link": link}]), content_type="application/rss+xml"
    )
    ingest.ingest_feeds([make_feed(httpserver.url_for("/feed.xml"))])
    article = Article.objects.get()
    assert article.status == Article.Status.OK
    # Only the two bad bytes are replaced; the rest is read as the UTF-8 it is.
    assert article.text.startswith("Officials \ufffd\ufffd in Zürich met rare")
    assert "Ã" not in article.text and "â€" not in article.text
    assert article.title == "Zürich talks"


def test_overlong_fields_are_recorded_and_the_next_feed_is_still_polled(httpserver):
    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/long.xml").respond_with_data(
        overlong_fields_feed(base), content_type="application/rss+xml"
    )
    httpserver.expect_request("/next.xml").respond_with_data(
        rss([{"title": "Next feed story", "link": f"{base}/next/1"}]),
        content_type="application/rss+xml",
    )
    long_feed = make_feed(httpserver.url_for("/long.xml"))
    next_feed = make_feed(httpserver.url_for("/next.xml"))

    report = ingest.ingest_feeds([long_feed, next_feed], fetch_articles=False)

    assert report.ok == 2
    titles = set(Article.objects.filter(feeds=long_feed).values_list("title", flat=True))
    assert {"Good story 0", "Good story 1", "Good story 2"} <= titles
    assert len(titles) == 4  # the long title and GUID entry is stored, clipped and hashed
    assert all(len(title) <= 500 for title in titles)
    long_feed.refresh_from_db()
    assert "1 entries not taken" in long_feed.last_error
    assert "link is 2040 characters long, over the 2000 limit" in long_feed.last_error
    log = PollLog.objects.get(feed=long_feed)
    assert "over the 2000 limit" in log.error
    assert Article.objects.filter(feeds=next_feed).count() == 1


def test_retry_after_is_obeyed_capped_and_reported(httpserver, settings):
    httpserver.expect_request("/busy.xml").respond_with_response(
        WerkzeugResponse("slow down", status=429, headers={"Retry-After": "3600"})
    )
    httpserver.expect_request("/greedy.xml").respond_with_response(
        WerkzeugResponse("slow down", status=429, headers={"Retry-After": str(30 * 86400)})
    )
    busy = make_feed(httpserver.url_for("/busy.xml"))
    greedy = make_feed(httpserver.url_for("/greedy.xml"))
    before = timezone.now()

    ingest.poll_feed(busy)
    busy.refresh_from_db()
    assert busy.next_poll_at >= before + timedelta(seconds=3600)
    assert "waiting 3600 s as Retry-After asks" in busy.last_error

    cache.clear()  # the same test host is held for an hour by the first answer
    ingest.poll_feed(greedy)
    greedy.refresh_from_db()
    cap = settings.NEWSDESK_MAX_RETRY_AFTER
    assert before + timedelta(seconds=cap) <= greedy.next_poll_at
    assert greedy.next_poll_at <= timezone.now() + timedelta(seconds=cap + 5)
    assert f"waiting {cap:.0f} s as Retry-After asks, capped from 2592000 s" in greedy.last_error


def test_a_blocked_fetch_reports_the_real_wait(httpserver, settings):
    from articles.fetching import HostBusyError, polite_fetch

    settings.NEWSDESK_HOST_DELAY = 1
    httpserver.expect_request("/limited").respond_with_response(
        WerkzeugResponse("no", status=429, headers={"Retry-After": "900"})
    )
    with pytest.raises(Exception, match="900 s"):
        polite_fetch(httpserver.url_for("/limited"))
    with pytest.raises(HostBusyError) as caught:
        polite_fetch(httpserver.url_for("/other"), max_wait=1)
    assert 890 <= caught.value.retry_after <= 900
    assert "before asking this host again (it answered 429 with Retry-After)" in str(caught.value)


def test_a_poll_blocked_by_a_held_host_waits_without_counting_a_failure(httpserver, settings):
    from articles.fetching import hold_host

    settings.NEWSDESK_HOST_DELAY = 1
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss([]), content_type="application/rss+xml"
    )
    feed = make_feed(httpserver.url_for("/feed.xml"))
    hold_host(feed.url, 600, "it answered 429 with Retry-After")
    before = timezone.now()

    result = ingest.poll_feed(feed)

    feed.refresh_from_db()
    assert result.outcome == "skipped" and "Retry-After" in result.error
    assert feed.consecutive_failures == 0 and feed.last_status == Feed.Status.NEW
    assert before + timedelta(seconds=590) <= feed.next_poll_at
    assert not httpserver.log  # nobody asked the held host
    assert feed.claimed_until is None


def test_new_entries_are_capped_per_poll_and_the_rest_come_next_even_with_etags(
    httpserver, settings
):
    settings.NEWSDESK_MAX_NEW_ENTRIES_PER_POLL = 5
    base = httpserver.url_for("").rstrip("/")
    items = [{"title": f"Story {n:02d}", "link": f"{base}/s/{n}"} for n in range(12)]
    body = rss(items)  # newest first: Story 00 is the newest

    def conditional(request: Request) -> WerkzeugResponse:
        if request.headers.get("If-None-Match") == '"v1"':
            return WerkzeugResponse(status=304, headers={"ETag": '"v1"'})
        return WerkzeugResponse(body, content_type="application/rss+xml", headers={"ETag": '"v1"'})

    httpserver.expect_request("/big.xml").respond_with_handler(conditional)
    feed = make_feed(httpserver.url_for("/big.xml"))

    taken = []
    for _ in range(4):
        result = ingest.poll_feed(feed)
        feed.refresh_from_db()
        taken.append(len(result.new_article_ids))
    assert taken == [5, 5, 2, 0]
    first_five = Article.objects.order_by("pk").values_list("title", flat=True)[:5]
    assert list(first_five) == [f"Story {n:02d}" for n in range(5)]
    assert Article.objects.count() == 12
    assert feed.etag == '"v1"'  # validators kept once nothing is left over
    assert feed.last_status == Feed.Status.NOT_MODIFIED
    logs = list(PollLog.objects.filter(feed=feed).order_by("pk").values_list("error", flat=True))
    assert "took the newest 5 of 12 new entries" in logs[0]


def test_an_article_redirected_to_a_refused_address_keeps_its_own_url(httpserver):
    httpserver.expect_request("/a/moved").respond_with_response(
        WerkzeugResponse(status=302, headers={"Location": "http://169.254.169.254/latest/"})
    )
    link = httpserver.url_for("/a/moved")
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss([{"title": "Moved story", "link": link}]), content_type="application/rss+xml"
    )
    ingest.ingest_feeds([make_feed(httpserver.url_for("/feed.xml"))])
    article = Article.objects.get()
    assert article.status == Article.Status.FAILED
    assert article.url == link
    assert f"{link} redirected to http://169.254.169.254/latest/" in article.error
    assert "cloud metadata" in article.error


def test_a_feed_redirected_to_a_refused_address_says_so(httpserver):
    httpserver.expect_request("/feed.xml").respond_with_response(
        WerkzeugResponse(status=301, headers={"Location": "http://localhost:1/feed.xml"})
    )
    feed = make_feed(httpserver.url_for("/feed.xml"))
    ingest.poll_feed(feed)
    feed.refresh_from_db()
    assert feed.url == httpserver.url_for("/feed.xml")
    assert "redirected to http://localhost:1/feed.xml, which failed: refused" in feed.last_error


def test_a_right_to_left_override_never_reaches_the_page(httpserver, client):
    lead = f"Override story: {LEAD}"
    link = serve_page(httpserver, "/rtl", article_html("Page \u202eeulav\u202c title", [lead]))
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss([{"title": "Cobalt \u202eslips\u202c again", "link": link}]),
        content_type="application/rss+xml",
    )
    ingest.ingest_feeds([make_feed(httpserver.url_for("/feed.xml"))])
    article = Article.objects.get()
    assert "\u202e" not in article.title and "\u202c" not in article.title
    page = client.get(article.get_absolute_url()).content.decode()
    assert "\u202e" not in page
    assert f'<h1 dir="auto">{article.title}</h1>' in page


def test_a_host_asking_to_wait_an_hour_does_not_delay_another_host(
    httpserver, settings, allow_host
):
    settings.NEWSDESK_HOST_DELAY = 1
    other = f"http://127.0.0.1:{httpserver.port}"  # a second host name for the same server
    allow_host(other)
    httpserver.expect_request("/slow.xml").respond_with_response(
        WerkzeugResponse("later", status=429, headers={"Retry-After": "3600"})
    )
    link = serve_page(httpserver, "/fast/1", article_html("Fast story", [f"Fast: {LEAD}"]))
    httpserver.expect_request("/fast.xml").respond_with_data(
        rss([{"title": "Fast story", "link": link.replace("localhost", "127.0.0.1")}]),
        content_type="application/rss+xml",
    )
    slow = make_feed(httpserver.url_for("/slow.xml"))
    fast = make_feed(f"{other}/fast.xml")

    started = timezone.now()
    report = ingest.ingest_feeds([slow, fast])
    took = (timezone.now() - started).total_seconds()

    assert report.failed == 1 and report.ok == 1
    assert Article.objects.get().status == Article.Status.OK
    assert took < 10  # the second host waited at most its own politeness delay
    slow.refresh_from_db()
    assert slow.next_poll_at >= started + timedelta(seconds=3600)
