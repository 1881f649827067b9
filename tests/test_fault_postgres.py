"""PostgreSQL restarted during a run, against a private cluster (never the machine's server).

Real `celery worker` processes fetch, extract and tag through a private Redis; the cluster is
stopped (fast shutdown: every session cut mid-statement) while pages are in flight and started
again. The tasks must retry on their own (no sweep is sent) and finish; nothing is left
half-written or duplicated, and the topic's count equals its links.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faultkit import PrivatePostgres, PrivateRedis, Publisher, Worker, send, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.redis]

PAGES = 24
SETUP = """
from tests.factories import make_feed, make_tag
topic = make_tag("magnet review", aliases=["neodymium"])
feed = make_feed({url!r})
print(feed.pk, topic.pk)
"""


@pytest.fixture
def cluster():
    pg = PrivatePostgres()
    try:
        pg.init()
        pg.manage("migrate", "--noinput")
    except Exception:
        pg.close()
        raise
    yield pg
    pg.close()


@pytest.fixture
def broker():
    server = PrivateRedis()
    server.start()
    yield server
    server.close()


def count(pg: PrivatePostgres, sql: str, *params) -> int | None:
    try:
        return pg.query(sql, *params)[0][0]
    except Exception:  # the cluster is down: no answer yet
        return None


def settled(pg: PrivatePostgres) -> bool:
    unfinished = count(
        pg,
        "SELECT count(*) FROM articles_article WHERE status IN ('pending', 'fetched')"
        " OR (status = 'ok' AND tagged_at IS NULL)",
    )
    return unfinished == 0 and count(pg, "SELECT count(*) FROM articles_article") == PAGES


def test_postgres_restarted_mid_run_tasks_retry_and_finish(cluster, broker, allow_host):
    site = Publisher(page_delay=0.4)
    allow_host(f"http://{site.host}/")
    worker = None
    try:
        url = site.add_feed("/feed.xml", PAGES, "restart")
        feed_id, topic_id = map(
            int, cluster.manage("shell", "-c", SETUP.format(url=url)).split()[-2:]
        )
        worker = Worker(cluster.url, broker.url, NEWSDESK_STUCK_AFTER="600").start(2)
        send(broker.url, "articles.tasks.poll_feed", feed_id, queue="poll")
        assert wait_for(
            lambda: (
                (count(cluster, "SELECT count(*) FROM articles_article WHERE status = 'ok'") or 0)
                >= 3
            ),
            timeout=90,
        ), worker.output()
        cluster.stop()  # pages in flight, sessions cut mid-statement
        time.sleep(4)
        cluster.start()
        # No sweep is sent and NEWSDESK_STUCK_AFTER is long: only the tasks' own retries
        # can finish the work.
        assert wait_for(lambda: settled(cluster), timeout=120), worker.output()

        statuses = dict(
            cluster.query("SELECT status, count(*) FROM articles_article GROUP BY status")
        )
        assert set(statuses) <= {"ok", "failed"} and sum(statuses.values()) == PAGES
        assert statuses.get("ok") == PAGES, statuses
        assert count(cluster, "SELECT count(DISTINCT url) FROM articles_article") == PAGES
        assert count(cluster, "SELECT count(*) FROM articles_articlefeed") == PAGES
        # Nothing half-written: every extracted article has its page and its text.
        assert (
            count(
                cluster,
                "SELECT count(*) FROM articles_article a JOIN articles_rawpage p"
                " ON p.article_id = a.id WHERE a.status = 'ok' AND a.text <> ''",
            )
            == PAGES
        )
        links = count(cluster, "SELECT count(*) FROM tags_articletag WHERE tag_id = %s", topic_id)
        visible = count(
            cluster,
            "SELECT count(*) FROM tags_articletag WHERE tag_id = %s AND is_visible",
            topic_id,
        )
        stored = count(cluster, "SELECT article_count FROM tags_tag WHERE id = %s", topic_id)
        assert links == visible == stored == PAGES
        # The restart really interrupted work: some task saw the database go away (anywhere in
        # the log: each extraction's story drain adds lines after the restart's).
        log = Path(worker.log_path).read_text(errors="replace")
        assert "OperationalError" in log or "InterfaceError" in log
    finally:
        if worker is not None:
            worker.stop()
            print(worker.output())
        site.stop()
