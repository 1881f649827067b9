"""A real Celery worker process, on Redis and PostgreSQL, runs the ingestion tasks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from celery import Celery
from django.db import connection
from kombu import Connection

from articles.models import Article, Feed
from tests.factories import article_html, make_feed, make_tag, rss

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.redis,
    # The worker sees only committed rows. The tests make their own topics, since the starter
    # ones are gone once an earlier transactional test has flushed the database.
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parents[1]
# A database of its own, emptied first, so stray tasks from other runs cannot interfere. Two
# checkouts testing on one machine at once give each its own with NEWSDESK_TEST_BROKER_URL.
BROKER_URL = os.environ.get("NEWSDESK_TEST_BROKER_URL", "redis://127.0.0.1:6379/15")
TEXT = (
    "Regulators in Brussels opened a review of rare earth magnet imports on Tuesday, saying the "
    "bloc's carmakers depended on a single country for nearly all of their neodymium supply."
)


def database_url() -> str:
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s["PASSWORD"] else ""
    host = f"{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}"
    return f"postgres://{s['USER']}{password}@{host}/{s['NAME']}"


@pytest.fixture(scope="module")
def worker(django_db_setup, make_httpserver):
    redis.Redis.from_url(BROKER_URL).flushdb()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": BROKER_URL,
        "CELERY_BROKER_URL": BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        # Exactly the test server (pytest-httpserver keeps one port for the session).
        "NEWSDESK_ALLOW_HOSTS": f"{make_httpserver.host}:{make_httpserver.port}",
        "NEWSDESK_HOST_DELAY": "0",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "newsdesk",
            "worker",
            "--pool=solo",
            "--queues=poll,fetch,tag,default",
            "--without-mingle",
            "--without-gossip",
            f"--hostname=test-{uuid.uuid4().hex[:8]}@%h",
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield proc
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    print(out[-4000:])


def send_poll(feed_id: int) -> None:
    # An explicit connection: Celery lets a CELERY_BROKER_URL in the environment override an
    # app's configured broker, and the test process's environment names another database.
    with Connection(BROKER_URL) as conn:
        Celery().send_task(
            "articles.tasks.poll_feed", args=[feed_id], queue="poll", connection=conn
        )


def wait_for(predicate, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.25)
    return False


def worker_idle() -> bool:
    """No message waiting in the worker's queues and none taken but unacknowledged (kombu's
    Redis transport keeps a task being run, acks_late, in its "unacked" hash)."""
    broker = redis.Redis.from_url(BROKER_URL)
    queued = sum(broker.llen(queue) for queue in ("poll", "fetch", "tag", "default"))
    return queued == 0 and broker.hlen("unacked") == 0


@pytest.fixture(autouse=True)
def worker_settles(transactional_db):
    """The module's worker outlives each test: let it finish what the test set going (tagging
    and story assignment run after the article is stored) before the database is emptied under
    it, or the flush deadlocks with its writes."""
    yield
    wait_for(worker_idle)


def test_a_worker_polls_a_feed_fetches_and_tags_its_articles(httpserver, worker):
    for slug in ("one", "two"):
        httpserver.expect_request(f"/a/{slug}").respond_with_data(
            article_html(f"Magnet review {slug}", [f"{TEXT} Story {slug}."]),
            content_type="text/html; charset=utf-8",
        )
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss(
            [
                {"title": "Magnet review one", "link": httpserver.url_for("/a/one")},
                {"title": "Magnet review two", "link": httpserver.url_for("/a/two")},
            ]
        ),
        content_type="application/rss+xml",
    )
    feed = make_feed(httpserver.url_for("/feed.xml"))
    magnets = make_tag("magnet imports", aliases=["neodymium"])

    send_poll(feed.pk)

    def both_extracted() -> bool:
        return Article.objects.filter(status=Article.Status.OK).count() == 2

    assert wait_for(both_extracted), "the worker did not store both articles in time"
    feed.refresh_from_db()
    assert feed.last_status == Feed.Status.OK
    article = Article.objects.get(title="Magnet review one")
    assert "neodymium" in article.text
    assert article.article_tags.filter(tag=magnets).exists()


def test_a_task_sent_twice_leaves_no_duplicate(httpserver, worker):
    httpserver.expect_request("/a/one").respond_with_data(
        article_html("Magnet review", [TEXT]), content_type="text/html"
    )
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss([{"title": "Magnet review", "link": httpserver.url_for("/a/one")}]),
        content_type="application/rss+xml",
    )
    feed = make_feed(httpserver.url_for("/feed.xml"))
    for _ in range(2):
        send_poll(feed.pk)
    assert wait_for(
        lambda: (
            feed.polls.count() >= 1 and Article.objects.filter(status=Article.Status.OK).exists()
        )
    )
    time.sleep(2)
    assert Article.objects.count() == 1
    assert feed.entries.count() == 1
