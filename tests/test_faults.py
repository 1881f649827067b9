"""Faults against the real stack: PostgreSQL, Redis and `celery worker` processes (not eager).

Workers are killed with SIGKILL mid-fetch and mid-tagging, a private Redis is restarted with
messages in flight, a poll message is delivered three times, a poll hits a database error,
two workers share one host's politeness, and a rule change lands during a running retag.
PostgreSQL is not restarted here: the machine's server is shared, and a private cluster per
test run was not reliable enough to add (see the README).
"""

from __future__ import annotations

import itertools
import time
from types import SimpleNamespace

import pytest
from django.db import connection

from articles.models import Article, ArticleFeed, Feed, PollLog
from tags import linking
from tags.models import ArticleTag, RetagJob, Tag
from tests.factories import make_feed, make_tag
from tests.faultkit import PrivateRedis, Publisher, Worker, send, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]


def database_url() -> str:
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s["PASSWORD"] else ""
    host = f"{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}"
    return f"postgres://{s['USER']}{password}@{host}/{s['NAME']}"


@pytest.fixture
def broker():
    server = PrivateRedis()
    server.start()
    yield server
    server.close()


@pytest.fixture
def publisher(allow_host):
    site = Publisher(page_delay=0.3)
    # This process polls the publisher itself in some tests, as a poll task would.
    allow_host(f"http://{site.host}/")
    yield site
    site.stop()


@pytest.fixture
def workers(broker):
    started: list[Worker] = []

    def start(concurrency: int = 1, **env: str) -> Worker:
        env.setdefault("NEWSDESK_STUCK_AFTER", "2")
        worker = Worker(database_url(), broker.url, **env).start(concurrency)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()
        print(worker.output())


def settled() -> bool:
    return (
        not Article.objects.filter(
            status__in=[Article.Status.PENDING, Article.Status.FETCHED]
        ).exists()
        and not Article.objects.filter(status=Article.Status.OK, tagged_at__isnull=True).exists()
    )


def sweep_until_settled(broker, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if settled():
            return True
        send(broker.url, "articles.tasks.sweep", queue="poll")
        wait_for(settled, timeout=2.5)
    return settled()


def assert_exact(expected_articles: int) -> None:
    assert Article.objects.count() == expected_articles
    assert ArticleFeed.objects.count() == expected_articles
    assert set(Article.objects.values_list("status", flat=True)) <= {
        Article.Status.OK,
        Article.Status.FAILED,
    }
    assert linking.recount() == 0, "a topic's count differed from its links"


def test_the_same_poll_message_three_times_makes_one_request(broker, workers, publisher):
    feed = make_feed(publisher.url("/missing.xml"))  # answers 404: a failure each poll
    workers(concurrency=2)
    send(broker.url, "articles.tasks.enqueue_due_feeds", queue="poll")
    assert wait_for(lambda: PollLog.objects.filter(feed=feed).exists())
    claimed = Feed.objects.get(pk=feed.pk)
    # Now the same claimed message three times more, as a broker redelivering would.
    Feed.objects.filter(pk=feed.pk).update(claim_token="t" * 32)
    send(broker.url, "articles.tasks.poll_feed", feed.pk, "t" * 32, queue="poll", times=3)
    time.sleep(3)
    feed.refresh_from_db()
    assert len(publisher.requests_to("/missing.xml")) == 2  # the first poll, then one
    assert feed.consecutive_failures == claimed.consecutive_failures + 1
    assert PollLog.objects.filter(feed=feed).count() == 2


def test_a_poll_that_hits_a_database_error_is_recorded_and_the_next_feed_polled(
    broker, workers, publisher
):
    long_link = publisher.url("/" + "x" * 2000)  # 2,023 characters: over Article.url's 2,000
    bad = make_feed(
        publisher.add_feed("/bad.xml", 2, "bad", extra=[{"title": "Long", "link": long_link}])
    )
    good = make_feed(publisher.add_feed("/good.xml", 2, "good"))
    workers()
    send(broker.url, "articles.tasks.enqueue_due_feeds", queue="poll")
    assert wait_for(lambda: PollLog.objects.filter(feed__in=[bad, good]).count() == 2)
    bad.refresh_from_db()
    # Either the boundary clipped the link (the poll is fine) or the database refused it (the
    # poll failed): both are recorded, the claim is released, and the poll is not repeated
    # every minute.
    assert bad.claimed_until is None and bad.last_status != Feed.Status.NEW
    assert bad.next_poll_at.timestamp() > time.time() + 60
    assert sweep_until_settled(broker)
    assert Article.objects.filter(url__contains="/good/", status=Article.Status.OK).count() == 2


def test_a_worker_killed_mid_fetch_loses_and_duplicates_nothing(broker, workers, publisher):
    topic = make_tag("magnet review", aliases=["neodymium"])
    feed = make_feed(publisher.add_feed("/feed.xml", 12, "kill"))
    first = workers(concurrency=2)
    send(broker.url, "articles.tasks.poll_feed", feed.pk, queue="poll")
    assert wait_for(lambda: Article.objects.filter(status=Article.Status.OK).count() >= 2)
    first.kill()  # SIGKILL to the whole pool, pages in flight
    assert Article.objects.exclude(status=Article.Status.OK).exists(), "killed too late"
    workers(concurrency=2)
    assert sweep_until_settled(broker, timeout=90)
    assert_exact(12)
    assert Tag.objects.get(pk=topic.pk).article_count == 12


def test_a_worker_killed_mid_retag_resumes_and_counts_stay_exact(broker, workers):
    topic = make_tag("gallium watch", aliases=["gallium"])
    Article.objects.bulk_create(
        make_article_row(i, "Gallium export licences" if i % 2 else "Port volumes")
        for i in range(1500)
    )
    job = RetagJob.objects.create(tag=None, whole_archive=True, total=1500)
    first = workers()
    send(broker.url, "tags.tasks.run_retag_job", job.pk)
    assert wait_for(lambda: RetagJob.objects.get(pk=job.pk).done >= 500, timeout=60)
    first.kill()
    job.refresh_from_db()
    assert job.state == RetagJob.State.RUNNING and job.done < 1500, "killed too late"
    workers()
    time.sleep(2.5)  # past NEWSDESK_STUCK_AFTER: the job counts as stalled
    send(broker.url, "tags.tasks.resume_jobs")
    assert wait_for(
        lambda: RetagJob.objects.get(pk=job.pk).state == RetagJob.State.DONE, timeout=90
    )
    assert ArticleTag.objects.filter(tag=topic).count() == 750
    assert linking.recount() == 0
    assert Tag.objects.get(pk=topic.pk).article_count == 750


def make_article_row(i: int, title: str) -> Article:
    from datetime import UTC, datetime, timedelta

    return Article(
        url=f"https://retag.example/{i}",
        title=f"{title} {i}",
        text=f"{title}. Filed as report {i}.",
        status=Article.Status.OK,
        published_at=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=i),
    )


def test_redis_restarted_with_messages_in_flight_the_sweep_recovers_every_article(
    broker, workers, publisher
):
    feed = make_feed(publisher.add_feed("/feed.xml", 8, "lost"))
    from articles import ingest

    ingest.poll_feed(feed)  # entries stored, as a poll task would
    ids = list(Article.objects.values_list("pk", flat=True))
    for article_id in ids:  # fetch messages waiting in Redis, no worker yet
        send(broker.url, "articles.tasks.fetch_article", article_id, queue="fetch")
    Article.objects.update(queued_at=Article.objects.first().first_seen_at)
    broker.restart()  # no persistence: every message is gone
    workers()
    time.sleep(2.5)
    assert sweep_until_settled(broker, timeout=60)
    assert_exact(8)
    assert Article.objects.filter(status=Article.Status.OK).count() == 8


def test_two_workers_never_ask_one_host_twice_inside_the_delay(broker, workers, allow_host):
    site = Publisher(page_delay=0.0)
    allow_host(f"http://{site.host}/")
    try:
        feed = make_feed(site.add_feed("/feed.xml", 6, "polite"))
        from articles import ingest

        ingest.poll_feed(feed)
        env = {"NEWSDESK_HOST_DELAY": "1", "NEWSDESK_DISPATCH_INTERVAL": "30"}
        workers(**env)
        workers(**env)
        # Every pending article sent at once to both workers, twice: politeness alone decides.
        for article_id in Article.objects.values_list("pk", flat=True):
            send(broker.url, "articles.tasks.fetch_article", article_id, queue="fetch")
        Article.objects.update(queued_at=Article.objects.first().first_seen_at)
        # Two workers starting on a loaded machine can take a minute before the first fetch.
        assert wait_for(settled, timeout=150)
        times = sorted(site.requests_to("/polite/"))
        assert len(times) == 6
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 0.9, gaps
    finally:
        site.stop()


def test_a_rule_change_during_a_running_retag_supersedes_it_cleanly(broker, workers, monkeypatch):
    topic = make_tag("cobalt desk", aliases=["cobalt"])
    # Chunks of 1,000 (retagging.BATCH_SIZE): several are left after the first, so the rule
    # change lands while the old job still has work, however fast an idle machine's workers are.
    total = 4500
    Article.objects.bulk_create(
        make_article_row(i, "Cobalt output" if i % 3 else "Lithium brine") for i in range(total)
    )
    from django.core.cache.backends.redis import RedisCache

    from tags import retagging

    # The production path, but sent to the real workers (this process's Celery is eager).
    monkeypatch.setattr(
        "tags.tasks.run_retag_job",
        SimpleNamespace(delay=lambda *a: send(broker.url, "tags.tasks.run_retag_job", *a)),
    )
    workers_cache = RedisCache(broker.url, {"KEY_PREFIX": "newsdesk"})
    old = retagging.start(topic, whole_archive=True)  # sent at commit (autocommit: now)
    workers()
    assert wait_for(lambda: RetagJob.objects.get(pk=old.pk).done >= 500, timeout=60)
    from tags.models import Alias

    Alias.objects.create(tag=topic, phrase="lithium")
    workers_cache.set(linking.RULES_VERSION_KEY, "rules-after-the-change", timeout=None)
    new = retagging.start(topic, whole_archive=True)
    assert wait_for(lambda: RetagJob.objects.get(pk=new.pk).is_finished, timeout=90)
    old.refresh_from_db()
    new.refresh_from_db()
    assert old.state == RetagJob.State.SUPERSEDED and old.done < total
    assert new.state == RetagJob.State.DONE and new.done == total
    assert ArticleTag.objects.filter(tag=topic).count() == total  # every article, new rules
    assert linking.recount() == 0


def test_two_workers_given_one_article_at_once_fetch_it_once(broker, workers, allow_host):
    site = Publisher(page_delay=1.5)  # slow enough that both messages arrive mid-fetch
    allow_host(f"http://{site.host}/")
    try:
        feed = make_feed(site.add_feed("/feed.xml", 3, "twice"))
        from articles import ingest

        ingest.poll_feed(feed)
        workers()
        workers()
        # Each pending article's fetch sent twice as separate messages (a dispatch and a sweep
        # crossing): both workers hold one at once.
        for article_id in Article.objects.values_list("pk", flat=True):
            send(broker.url, "articles.tasks.fetch_article", article_id, queue="fetch")
            send(broker.url, "articles.tasks.fetch_article", article_id, queue="fetch")
        Article.objects.update(queued_at=Article.objects.first().first_seen_at)
        assert wait_for(settled, timeout=90)
        time.sleep(2)  # let the second messages finish too
        for i in range(3):
            assert len(site.requests_to(f"/twice/{i}")) == 1, site.hits
        assert set(Article.objects.values_list("fetch_attempts", flat=True)) == {1}
        assert_exact(3)
    finally:
        site.stop()


def test_an_article_the_database_refuses_to_place_is_recorded_and_placed_once_it_can_be(
    broker, workers
):
    from django.utils import timezone

    from stories import assignment
    from stories.models import PlacementFailure, StoryMembership
    from tests.test_story_batches import make_rows, synthetic_rows

    articles = make_rows(synthetic_rows(6))
    bad = articles[2]
    # A fault in the database itself, which the worker process meets: its membership row is
    # refused, in the batch's bulk insert and again when the article is placed alone.
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse_placement() RETURNS trigger AS $$ BEGIN"
            f" IF NEW.article_id = {int(bad.pk)} THEN"
            " RAISE EXCEPTION 'planted fault: article % refused', NEW.article_id; END IF;"
            " RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            "CREATE TRIGGER refuse_placement BEFORE INSERT ON stories_storymembership"
            " FOR EACH ROW EXECUTE FUNCTION refuse_placement()"
        )
    try:
        workers()
        send(broker.url, "stories.tasks.drain", queue="tag")
        assert wait_for(lambda: PlacementFailure.objects.exists())
        assert wait_for(lambda: StoryMembership.objects.count() == len(articles) - 1)
        failure = PlacementFailure.objects.get()
        assert failure.article_id == bad.pk and failure.attempts == 1
        assert "planted fault" in failure.error
        assert not assignment.waiting().exists()  # out of the queue: later batches are spared
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER IF EXISTS refuse_placement ON stories_storymembership")
            cursor.execute("DROP FUNCTION IF EXISTS refuse_placement()")

    # The fault is over; when its pause is, beat's sweep places it and forgets the failure.
    PlacementFailure.objects.update(retry_after=timezone.now())
    send(broker.url, "stories.tasks.sweep", queue="tag")
    assert wait_for(lambda: StoryMembership.objects.filter(article=bad).exists())
    assert wait_for(lambda: not PlacementFailure.objects.exists())
