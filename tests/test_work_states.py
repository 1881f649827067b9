"""Work states owned by the database: claims, no-op copies, the sweep, fair dispatch, editors'
fields, and chunked jobs. In-process here; tests/test_faults.py repeats the faults with real
worker processes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer

from articles import dispatch, ingest, tasks
from articles.models import Article, Feed, PollLog
from tags import linking, retagging
from tags.models import ArticleTag, RetagJob, Tag, TagDecision
from tests.factories import article_html, make_article, make_feed, make_tag, rss

pytestmark = pytest.mark.django_db

LEAD = (
    "A refinery in Malaysia began separating rare earths on Monday, its owners said, adding "
    "that neodymium output would double by the end of next year under the new contracts."
)


def serve_feed_of(server, n: int, prefix: str) -> str:
    items = [{"title": f"{prefix} {i}", "link": server.url_for(f"/{prefix}/{i}")} for i in range(n)]
    server.expect_request("/feed.xml").respond_with_data(
        rss(items), content_type="application/rss+xml"
    )
    for i in range(n):
        server.expect_request(f"/{prefix}/{i}").respond_with_data(
            article_html(f"{prefix} {i}", [f"{LEAD} Report {i} of the {prefix} desk."]),
            content_type="text/html",
        )
    return server.url_for("/feed.xml")


def feed_requests(server) -> int:
    return sum(1 for request, _ in server.log if request.path == "/feed.xml")


# --- Feeds: due → claimed → polled | failed --------------------------------------------------


def test_an_unexpected_error_in_a_poll_is_recorded_and_the_run_goes_on(httpserver, monkeypatch):
    first = make_feed(serve_feed_of(httpserver, 1, "a"))
    second = make_feed(httpserver.url_for("/feed.xml") + "?second")
    real_store = ingest.store_entries_capped

    def store(feed, parsed):
        if feed.pk == first.pk:
            raise RuntimeError("the database said no")
        return real_store(feed, parsed)

    monkeypatch.setattr(ingest, "store_entries_capped", store)
    before = timezone.now()
    report = ingest.ingest_feeds([first, second])

    assert (report.failed, report.ok) == (1, 1)
    first.refresh_from_db()
    assert first.last_status == Feed.Status.ERROR
    assert first.consecutive_failures == 1
    assert "RuntimeError: the database said no" in first.last_error
    assert first.next_poll_at > before + timedelta(minutes=5)  # backoff, not every minute
    assert first.claimed_until is None
    assert PollLog.objects.get(feed=first).outcome == Feed.Status.ERROR
    assert not Article.objects.filter(feed_entries__feed=first).exists()  # rolled back whole
    assert Feed.objects.get(pk=second.pk).last_status == Feed.Status.OK


def test_the_same_poll_message_three_times_polls_once(httpserver):
    httpserver.expect_request("/feed.xml").respond_with_data("down", status=503)
    feed = make_feed(httpserver.url_for("/feed.xml"))
    [(feed_id, token)] = dispatch.claim_due()
    for _ in range(3):
        tasks.poll_feed(feed_id, token)
    feed.refresh_from_db()
    assert feed_requests(httpserver) == 1
    assert feed.consecutive_failures == 1
    assert PollLog.objects.filter(feed=feed).count() == 1


def test_a_claimed_feed_is_not_claimed_again_and_untokened_copies_poll_once(httpserver):
    httpserver.expect_request("/feed.xml").respond_with_data("down", status=503)
    feed = make_feed(httpserver.url_for("/feed.xml"))
    assert len(dispatch.claim_due()) == 1
    assert dispatch.claim_due() == []  # beat's next minute finds it claimed, not due
    Feed.objects.filter(pk=feed.pk).update(
        claim_token="", claimed_until=None, next_poll_at=timezone.now()
    )
    for _ in range(3):
        tasks.poll_feed(feed.pk)
    assert feed_requests(httpserver) == 1


def test_a_lost_poll_message_leaves_the_feed_due_after_its_claim(httpserver):
    feed = make_feed(serve_feed_of(httpserver, 1, "a"))
    dispatch.claim_due()  # ... and the message is lost
    later = timezone.now() + timedelta(seconds=dispatch.POLL_CLAIM_SECONDS + 1)
    assert [pk for pk, _ in dispatch.claim_due(now=later)] == [feed.pk]


# --- Articles: pending → fetched → extracted | failed → tagged --------------------------------


def test_articles_move_through_their_states(httpserver):
    feed = make_feed(serve_feed_of(httpserver, 1, "a"))
    ingest.poll_feed(feed)
    article = Article.objects.get()
    assert (article.status, article.fetch_host) == (
        Article.Status.PENDING,
        httpserver.host + f":{httpserver.port}",
    )
    tasks.sweep()
    article.refresh_from_db()
    assert article.status == Article.Status.OK
    assert article.tagged_at is not None
    assert article.article_tags.filter(tag__slug="rare-earths").exists()


def test_the_sweep_recovers_work_whose_message_was_lost(httpserver, settings):
    settings.NEWSDESK_STUCK_AFTER = 60
    feed = make_feed(serve_feed_of(httpserver, 3, "a"))
    ingest.poll_feed(feed)
    old = timezone.now() - timedelta(minutes=5)
    pending, fetched, untagged = Article.objects.order_by("pk")
    Article.objects.filter(pk=pending.pk).update(queued_at=old)  # its fetch message was lost
    ingest.fetch_article(fetched)
    Article.objects.filter(pk=fetched.pk).update(  # lost after its page was stored
        status=Article.Status.FETCHED, queued_at=old, tagged_at=None
    )
    ingest.fetch_article(untagged)
    ArticleTag.objects.filter(article=untagged).delete()
    linking.recount()
    Article.objects.filter(pk=untagged.pk).update(tagged_at=None, queued_at=old)
    requests_before = len(httpserver.log)

    result = tasks.sweep()

    assert result == {"fetch": 1, "extract": 1, "tag": 1}
    assert len(httpserver.log) == requests_before + 1  # only the pending one is fetched
    for article in Article.objects.all():
        assert (article.status, article.tagged_at is not None) == (Article.Status.OK, True)
    assert Tag.objects.get(slug="rare-earths").article_count == 3
    assert tasks.sweep() == {"fetch": 0, "extract": 0, "tag": 0}  # nothing sent twice


def test_a_fetch_delivered_after_its_work_is_done_does_nothing(httpserver):
    feed = make_feed(serve_feed_of(httpserver, 1, "a"))
    ingest.poll_feed(feed)
    article = Article.objects.get()
    for _ in range(3):
        tasks.fetch_article(article.pk)
    assert sum(1 for r, _ in httpserver.log if r.path == "/a/0") == 1
    assert Article.objects.get().fetch_attempts == 1


def test_an_editors_hide_and_title_made_during_a_fetch_survive_extraction(httpserver, monkeypatch):
    feed = make_feed(serve_feed_of(httpserver, 1, "a"))
    ingest.poll_feed(feed)
    article = Article.objects.get()
    real_fetch = ingest.polite_fetch

    def fetch_while_an_editor_works(url, **kwargs):
        response = real_fetch(url, **kwargs)
        Article.objects.filter(pk=article.pk).update(
            is_hidden=True, title="The editor's title", title_by_editor=True
        )
        return response

    monkeypatch.setattr(ingest, "polite_fetch", fetch_while_an_editor_works)
    ingest.fetch_article(article)
    article.refresh_from_db()
    assert article.status == Article.Status.OK
    assert (article.is_hidden, article.title) == (True, "The editor's title")
    assert article.text  # the machine's fields were written
    assert not article.article_tags.filter(is_visible=True).exists()
    assert Tag.objects.get(slug="rare-earths").article_count == 0
    ingest.reextract(article)  # later re-extractions keep the editor's title too
    assert Article.objects.get().title == "The editor's title"


def test_a_blocked_fetch_waits_in_the_queue_without_spending_an_attempt(httpserver, settings):
    from articles.fetching import take_turn

    feed = make_feed(serve_feed_of(httpserver, 1, "a"))
    ingest.poll_feed(feed)
    settings.NEWSDESK_HOST_DELAY = 5
    article = Article.objects.get()
    take_turn(article.url, 0)  # another worker just asked this host
    with pytest.raises(ingest.HostWait) as waited:
        ingest.fetch_article(article, max_wait=0, final_attempt=False)
    assert 4 < waited.value.wait <= 5  # the real wait, not a guess
    article.refresh_from_db()
    assert (article.status, article.fetch_attempts) == (Article.Status.PENDING, 0)


def test_fetch_work_is_dispatched_round_robin_by_host(settings):
    """A 10,000-entry backlog on one host never delays another host's articles."""
    settings.NEWSDESK_HOST_DELAY = 1
    settings.NEWSDESK_DISPATCH_INTERVAL = 30
    now = timezone.now()
    Article.objects.bulk_create(
        Article(
            url=f"http://big.example:8001/{i}",
            fetch_host="big.example:8001",
            published_at=now,
            status=Article.Status.PENDING,
        )
        for i in range(10_000)
    )
    small = [
        make_article(
            url=f"http://big.example:8002/{i}",
            fetch_host="big.example:8002",
            status=Article.Status.PENDING,
        ).pk
        for i in range(5)
    ]
    chosen = dispatch.take_pending()
    order = [item.article_id for item in chosen]
    assert len(chosen) == 30 + 5  # one round: as many per host as its politeness allows
    assert set(small) <= set(order[:10])  # interleaved: the small host is served at once
    countdowns = sorted(item.countdown for item in chosen if item.article_id not in small)
    assert countdowns[:3] == [0, 1, 2]  # the big host's share is spread over the round
    # Queued now: another round (every poll sends one) adds nothing while the share is in flight.
    assert dispatch.take_pending() == []
    Article.objects.filter(pk__in=order[:10]).update(status=Article.Status.OK)
    again = dispatch.take_pending()
    assert len(again) == 10 - 5
    assert min(item.countdown for item in again) == 25  # behind the 25 still queued


def test_a_host_with_its_own_delay_is_dispatched_by_it_and_the_others_by_the_default(settings):
    settings.NEWSDESK_HOST_DELAY = 1
    settings.NEWSDESK_DISPATCH_INTERVAL = 30
    settings.NEWSDESK_HOST_DELAYS = {"127.0.0.1:8765": 0.0}  # as `run` gives its demo
    now = timezone.now()
    Article.objects.bulk_create(
        Article(url=f"http://{host}/{i}", fetch_host=host, published_at=now, status="pending")
        for host in ("127.0.0.1:8765", "operator.example")
        for i in range(100)
    )
    chosen = dispatch.take_pending()
    by_host = {"127.0.0.1:8765": [], "operator.example": []}
    for item in chosen:
        by_host[Article.objects.get(pk=item.article_id).fetch_host].append(item.countdown)
    assert len(by_host["127.0.0.1:8765"]) == 100 and set(by_host["127.0.0.1:8765"]) == {0}
    assert sorted(by_host["operator.example"]) == list(range(30))  # one a second, as before


def test_two_services_on_one_machine_are_two_hosts_for_politeness():
    from articles.hosts import host_of

    assert host_of("http://127.0.0.1:8001/a") != host_of("http://127.0.0.1:8002/a")
    assert host_of("https://News.Example.org/a") == "news.example.org"


def test_the_small_feed_is_fetched_before_the_big_feeds_backlog(settings, allow_host):
    """Two loopback servers (two hosts: ports differ); the big feed is polled first."""
    settings.NEWSDESK_HOST_DELAY = 0.01
    settings.NEWSDESK_MAX_NEW_ENTRIES_PER_POLL = 1000
    settings.NEWSDESK_DISPATCH_INTERVAL = 0.2  # a round: 20 of the big host
    servers = [HTTPServer(host="127.0.0.1", port=0) for _ in range(2)]
    for server in servers:
        server.start()
        allow_host(server)
    try:
        big_url = serve_feed_of(servers[0], 300, "big")
        small_url = serve_feed_of(servers[1], 3, "small")
        for url in (big_url, small_url):
            ingest.poll_feed(make_feed(url))
        tasks.dispatch_fetches()
        fetched = (
            Article.objects.exclude(status=Article.Status.PENDING)
            .order_by("fetched_at")
            .values_list("url", flat=True)
        )
        first = list(fetched[:6])
        assert sum("/small/" in url for url in first) == 3
        assert Article.objects.filter(status=Article.Status.PENDING).count() == 300 - 20
    finally:
        for server in servers:
            server.stop()


# --- Jobs: queued → running (chunks) → done | failed | superseded -----------------------------


@pytest.fixture
def cobalt():
    return make_tag("cobalt", aliases=["cobalt"])


def tagged(title: str) -> Article:
    article = make_article(title, text=title)
    linking.tag_article(article)
    return article


def test_a_topics_retag_walks_only_its_links_and_its_aliases_matches(cobalt):
    linked = tagged("Cobalt prices climb")
    lithium = make_article("Lithium brine output", text="Lithium brine output")
    for i in range(5):
        tagged(f"Port volumes report {i}")
    from tags.models import Alias

    Alias.objects.create(tag=cobalt, phrase="lithium")
    job = retagging.start(cobalt, run_now=True)
    assert (job.state, job.total, job.done) == (RetagJob.State.DONE, 2, 2)
    assert ArticleTag.objects.filter(tag=cobalt, article=lithium).exists()
    assert ArticleTag.objects.filter(tag=cobalt, article=linked).exists()
    assert Tag.objects.get(pk=cobalt.pk).article_count == 2


def test_chunks_are_claimed_by_number_and_a_newer_job_supersedes(cobalt):
    for i in range(5):
        tagged(f"Cobalt story {i}")
    job = retagging.start(cobalt)
    assert retagging.run_chunk(job.pk, 0, size=2) == retagging.CONTINUE
    assert retagging.run_chunk(job.pk, 0, size=2) == RetagJob.State.RUNNING  # a copy: no-op
    job.refresh_from_db()
    assert (job.done, job.chunks, job.state) == (2, 1, RetagJob.State.RUNNING)
    newer = retagging.start(cobalt)
    assert retagging.run_chunk(job.pk, 1, size=2) == RetagJob.State.SUPERSEDED
    job.refresh_from_db()
    assert (job.done, job.state) == (2, RetagJob.State.SUPERSEDED)
    assert retagging.run(newer, size=2).state == RetagJob.State.DONE
    assert Tag.objects.get(pk=cobalt.pk).article_count == 5


def test_a_failing_chunk_marks_the_job_failed(cobalt, monkeypatch):
    tagged("Cobalt story")
    job = retagging.start(cobalt)

    def boom(*args, **kwargs):
        raise RuntimeError("matcher exploded")

    monkeypatch.setattr(linking, "tag_articles", boom)
    with pytest.raises(RuntimeError):
        retagging.run_chunk(job.pk)
    job.refresh_from_db()
    assert job.state == RetagJob.State.FAILED
    assert "matcher exploded" in job.error


def test_deleting_a_topic_runs_as_a_job_and_keeps_parent_counts_exact():
    minerals = make_tag("battery metals")
    cobalt = make_tag("cobalt", aliases=["cobalt"], parent=minerals)
    for i in range(3):
        tagged(f"Cobalt story {i}")
    assert Tag.objects.get(pk=minerals.pk).article_count == 3
    job = retagging.start_delete(cobalt, run_now=True)
    assert job.state == RetagJob.State.DONE
    assert not Tag.objects.filter(pk=cobalt.pk).exists()
    assert Tag.objects.get(pk=minerals.pk).article_count == 0
    assert linking.recount() == 0


def test_an_add_decision_made_in_its_admin_makes_the_link_and_the_count(admin_client, cobalt):
    article = make_article("Port volumes", text="Port volumes")
    response = admin_client.post(
        "/admin/tags/tagdecision/add/",
        {
            "article": article.pk,
            "tag": cobalt.pk,
            "decision": "add",
            "decided_at_0": "2026-12-01",
            "decided_at_1": "10:00:00",
        },
    )
    assert response.status_code == 302
    assert ArticleTag.objects.filter(article=article, tag=cobalt, origin="editor").exists()
    assert Tag.objects.get(pk=cobalt.pk).article_count == 1
    decision = TagDecision.objects.get()
    response = admin_client.post(f"/admin/tags/tagdecision/{decision.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert Tag.objects.get(pk=cobalt.pk).article_count == 0


def test_ingestion_imports_nothing_from_tagging_or_stories():
    """Ingestion announces (articles.signals); tagging and stories listen, and add their parts
    to the article admin (tags.article_admin), the article page (tags.article_page,
    stories.views.with_story) and `manage.py run` (run_report). Every module of the app,
    its admin, views and commands included, at any depth of the file."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "articles"
    modules = sorted(root.rglob("*.py"))
    assert {"admin.py", "views.py", "run.py", "addfeed.py"} <= {m.name for m in modules}
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in {"tags", "stories"}, (path, name)


def test_a_fetch_claim_is_exclusive_and_shown_to_operators(httpserver):
    feed = make_feed(serve_feed_of(httpserver, 1, "a"))
    ingest.poll_feed(feed)
    article = Article.objects.get()
    assert ingest.claim_fetch(article, "message-1")
    assert not ingest.claim_fetch(article, "message-2")  # another message: refused
    assert ingest.claim_fetch(article, "message-1")  # the same message's retry: taken again
    assert dispatch.counts_by_state()["fetching"] == 1
    assert ingest.fetch_article(article, claim="message-2").status == Article.Status.PENDING
    assert not any(r.path == "/a/0" for r, _ in httpserver.log)  # no request was made
    Article.objects.update(fetch_claimed_until=timezone.now() - timedelta(seconds=1))
    assert ingest.fetch_article(article, claim="message-2").status == Article.Status.OK


def test_runs_report_gets_its_topic_lines_from_tagging():
    """`manage.py run` (ingestion) says how many topics are set up and lists the busiest
    topics' pages through `run_report`; the tags app writes those lines."""
    from articles.signals import run_report

    busy = make_tag("cobalt desk", aliases=["cobalt"])
    Tag.objects.filter(pk=busy.pk).update(article_count=7)
    lines: list[str] = []
    run_report.send(sender=None, stage="set up", say=lines.append)
    run_report.send(sender=None, stage="ingested", say=lines.append)
    n = Tag.objects.count()
    assert lines[0] == f"{n} topics; groups Editors and Operators are set up."
    assert f"/tags/{busy.slug}/  7 articles" in lines[1:]
