"""Fault scenarios against real workers, and retag throughput.

    uv run python bench/faults.py [--pages 40] [--retag-database nd_durable_scale]

Each scenario runs in a scratch PostgreSQL database (`newsdesk_bench_faults`, recreated) with
its own redis-server on a free port (never the shared one) and `celery worker` processes, and
prints articles expected / stored / duplicated / lost and the time from the fault's repair
(worker or broker back) until every article is extracted or failed and tagged. The PostgreSQL
restart runs in a private cluster (initdb in a temp dir, its own port; tests/faultkit.py), never
the machine's server.

Retag throughput runs, when --retag-database names a database made by bench/generate.py, the
chunked job over that database's biggest topic (its links plus its aliases' matches), in this
process, for at most --retag-seconds, and prints articles/s.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import database_url, migrate, project_env, scratch_database  # noqa: E402

SCRATCH = "newsdesk_bench_faults"


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsdesk.settings")
    os.environ.setdefault("SECRET_KEY", "bench-faults")
    os.environ["DEBUG"] = "false"
    os.environ["NEWSDESK_HOST_DELAY"] = "0"
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()


def report(name: str, expected: int, recover_s: float | None) -> dict[str, object]:
    from django.db.models import Count, Q

    from articles.models import Article, ArticleFeed

    stored = Article.objects.count()
    duplicated = (
        ArticleFeed.objects.values("feed", "guid").annotate(n=Count("pk")).filter(n__gt=1).count()
    ) + max(0, stored - expected)
    # Finished: failed, or extracted and tagged. Anything else after recovery is lost work.
    finished = Article.objects.filter(
        Q(status=Article.Status.FAILED) | Q(status=Article.Status.OK, tagged_at__isnull=False)
    ).count()
    lost = expected - min(finished, expected)
    row = {
        "scenario": name,
        "expected": expected,
        "stored": stored,
        "duplicated": duplicated,
        "lost": lost,
        "recover_s": None if recover_s is None else round(recover_s, 1),
    }
    recover = "did not recover" if recover_s is None else f"{recover_s:6.1f} s"
    print(
        f"  {name:<44} expected {expected:>5}  stored {stored:>5}  duplicated {duplicated:>3}"
        f"  lost {lost:>3}  recovered in {recover}",
        flush=True,
    )
    return row


def reset() -> None:
    from articles.models import Article, Feed, PollLog, Source
    from tags.models import RetagJob

    RetagJob.objects.all().delete()
    Article.objects.all().delete()
    PollLog.objects.all().delete()
    Feed.objects.all().delete()
    Source.objects.all().delete()


def sweep_until_settled(broker_url: str, timeout: float) -> float | None:
    from tests.faultkit import send, wait_for
    from tests.test_faults import settled

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if settled():
            return time.monotonic() - started
        send(broker_url, "articles.tasks.sweep", queue="poll")
        wait_for(settled, timeout=2.5)
    return time.monotonic() - started if settled() else None


def scenarios(url: str, pages: int) -> list[dict[str, object]]:
    from django.conf import settings

    from articles import ingest
    from articles.models import Article, Feed
    from tests.factories import make_tag
    from tests.faultkit import PrivateRedis, Publisher, Worker, send, wait_for

    rows = []
    broker = PrivateRedis()
    broker.start()
    site = Publisher(page_delay=0.1)
    env = {"NEWSDESK_STUCK_AFTER": "2"}
    try:
        make_tag("magnet review", aliases=["neodymium"])

        # 1. SIGKILL mid-fetch.
        feed = Feed.objects.create(url=site.add_feed("/kill.xml", pages, "kill"))
        worker = Worker(url, broker.url, **env).start(2)
        send(broker.url, "articles.tasks.poll_feed", feed.pk, queue="poll")
        wait_for(lambda: Article.objects.filter(status="ok").count() >= pages // 4, 120)
        worker.kill()
        worker = Worker(url, broker.url, **env).start(2)
        rows.append(
            report("worker SIGKILLed mid-fetch", pages, sweep_until_settled(broker.url, 180))
        )
        worker.stop()
        reset()

        # 2. Redis restarted with fetch messages in flight.
        feed = Feed.objects.create(url=site.add_feed("/lost.xml", pages, "lost"))
        # This process polls the publisher itself, as a poll task would: allow exactly it.
        settings.NEWSDESK_ALLOW_HOSTS = [site.host]
        ingest.poll_feed(feed)
        assert Article.objects.count() == pages, feed.last_error
        for article_id in Article.objects.values_list("pk", flat=True):
            send(broker.url, "articles.tasks.fetch_article", article_id, queue="fetch")
        broker.restart()
        worker = Worker(url, broker.url, **env).start(2)
        time.sleep(2.2)
        rows.append(
            report("Redis restarted, messages lost", pages, sweep_until_settled(broker.url, 180))
        )
        worker.stop()
        reset()

        # 3. One poll message delivered three times.
        feed = Feed.objects.create(url=site.url("/missing.xml"), claim_token="t" * 32)
        worker = Worker(url, broker.url, **env).start(2)
        send(broker.url, "articles.tasks.poll_feed", feed.pk, "t" * 32, queue="poll", times=3)
        wait_for(lambda: feed.polls.exists(), 60)
        time.sleep(2)
        feed.refresh_from_db()
        requests = len(site.requests_to("/missing.xml"))
        print(
            f"  {'poll message delivered 3 times':<44} requests {requests}  "
            f"failure count {feed.consecutive_failures}  (expected 1 and 1)",
            flush=True,
        )
        rows.append({"scenario": "poll x3", "requests": requests})
        worker.stop()
        reset()

        # 4. SIGKILL mid-retag.
        from tags import linking
        from tags.models import ArticleTag, RetagJob, Tag
        from tests.test_faults import make_article_row

        topic = Tag.objects.create(name="gallium watch")
        topic.aliases.create(phrase="gallium")
        n = 3000
        Article.objects.bulk_create(
            make_article_row(i, "Gallium licences" if i % 2 else "Port volumes") for i in range(n)
        )
        Article.objects.update(tagged_at=Article.objects.first().first_seen_at)
        job = RetagJob.objects.create(whole_archive=True, total=n)
        worker = Worker(url, broker.url, **env).start(1)
        send(broker.url, "tags.tasks.run_retag_job", job.pk)
        wait_for(lambda: RetagJob.objects.get(pk=job.pk).done >= 500, 120)
        worker.kill()
        worker = Worker(url, broker.url, **env).start(1)
        started = time.monotonic()
        time.sleep(2.2)
        send(broker.url, "tags.tasks.resume_jobs")
        done = wait_for(lambda: RetagJob.objects.get(pk=job.pk).state == "done", 300)
        took = time.monotonic() - started if done else None
        links = ArticleTag.objects.filter(tag=topic).count()
        wrong = linking.recount()
        print(
            f"  {'worker SIGKILLed mid-retag':<44} links expected {n // 2}  stored {links}  "
            f"counts wrong {wrong}  recovered in {took and round(took, 1)} s",
            flush=True,
        )
        rows.append({"scenario": "retag kill", "links": links, "wrong": wrong})
        worker.stop()
    finally:
        site.stop()
        broker.close()
    return rows


def postgres_restart(pages: int) -> dict[str, object]:
    """A private PostgreSQL cluster stopped (fast: sessions cut) with pages in flight and
    started again 4 s later; no sweep is sent, so only the tasks' own retries can finish."""
    from tests.faultkit import PrivatePostgres, PrivateRedis, Publisher, Worker, send, wait_for
    from tests.test_fault_postgres import SETUP, count

    def unfinished() -> int | None:
        return count(
            cluster,
            "SELECT count(*) FROM articles_article WHERE status IN ('pending', 'fetched')"
            " OR (status = 'ok' AND tagged_at IS NULL)",
        )

    cluster, broker, site, worker = PrivatePostgres(), PrivateRedis(), Publisher(0.3), None
    try:
        cluster.init()
        cluster.manage("migrate", "--noinput")
        broker.start()
        url = site.add_feed("/restart.xml", pages, "restart")
        feed_id, _ = map(int, cluster.manage("shell", "-c", SETUP.format(url=url)).split()[-2:])
        worker = Worker(cluster.url, broker.url, NEWSDESK_STUCK_AFTER="600").start(2)
        send(broker.url, "articles.tasks.poll_feed", feed_id, queue="poll")
        ok = "SELECT count(*) FROM articles_article WHERE status = 'ok'"
        wait_for(lambda: (count(cluster, ok) or 0) >= pages // 4, 180)
        cluster.stop()
        time.sleep(4)
        cluster.start()
        started = time.monotonic()
        total = "SELECT count(*) FROM articles_article"
        recovered = wait_for(
            lambda: unfinished() == 0 and count(cluster, total) == pages, 300, every=0.5
        )
        took = time.monotonic() - started if recovered else None
        stored = count(cluster, total)
        distinct = count(cluster, "SELECT count(DISTINCT url) FROM articles_article")
        finished = count(
            cluster,
            "SELECT count(*) FROM articles_article WHERE status = 'failed'"
            " OR (status = 'ok' AND tagged_at IS NOT NULL)",
        )
        wrong = count(
            cluster,
            "SELECT count(*) FROM tags_tag t WHERE article_count <> (SELECT count(*) FROM"
            " tags_articletag l WHERE l.tag_id = t.id AND l.is_visible)",
        )
        recover = "did not recover" if took is None else f"{took:6.1f} s"
        print(
            f"  {'PostgreSQL restarted mid-run (no sweep)':<44} expected {pages:>5}  stored"
            f" {stored:>5}  duplicated {stored - distinct:>3}  lost {pages - finished:>3}"
            f"  counts wrong {wrong}  recovered in {recover}",
            flush=True,
        )
        return {"scenario": "postgres restart", "stored": stored, "recover_s": took}
    finally:
        if worker is not None:
            worker.stop()
        site.stop()
        broker.close()
        cluster.close()


def retag_throughput(database: str, seconds: float) -> None:
    """The chunked job over the biggest topic of a generated database, here, time-capped."""
    import psycopg

    url = database_url(database)
    with psycopg.connect(url) as conn:
        articles = conn.execute("SELECT count(*) FROM articles_article").fetchone()[0]
    code = f"""
import time
from tags import retagging
from tags.models import Tag, RetagJob
tag = Tag.objects.order_by("-article_count").first()
# The job as retagging.start makes it, run here chunk by chunk (no broker), time-capped.
job = RetagJob.objects.create(
    tag=tag, tag_name=tag.name, phrases=retagging.phrases_of(tag),
    topics=retagging.affected_topics(tag),
)
retagging.take_scope(job)
print(f"  scope: topic {{tag.slug}} ({{tag.article_count:,}} links), {{job.total:,}} articles")
started = time.perf_counter()
while time.perf_counter() - started < {seconds}:
    if retagging.run_chunk(job.pk) != retagging.CONTINUE:
        break
took = time.perf_counter() - started
job.refresh_from_db()
print(f"  retag: {{job.done:,}} articles in {{took:.1f}} s = {{job.done / took:,.0f}} articles/s"
      f" ({{job.chunks}} chunks, {{job.changed:,}} changed, state {{job.state}})")
RetagJob.objects.filter(pk=job.pk).update(state="superseded")
"""
    import subprocess

    print(f"retag throughput on {database} ({articles:,} articles):", flush=True)
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=project_env(url, CELERY_BROKER_URL="", REDIS_URL=""),
        check=True,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--retag-database", default="")
    parser.add_argument("--retag-seconds", type=float, default=120)
    parser.add_argument("--skip-scenarios", action="store_true")
    parser.add_argument(
        "--only-postgres", action="store_true", help="only the PostgreSQL restart scenario"
    )
    args = parser.parse_args(argv)
    print(f"load average before: {os.getloadavg()}", flush=True)
    if args.only_postgres:
        # Django only for the publisher's page builders: every query goes to the private cluster.
        setup_django("sqlite:///:memory:")
        print("fault scenarios (real workers, private Redis, private PostgreSQL):", flush=True)
        postgres_restart(args.pages)
    elif not args.skip_scenarios:
        with scratch_database(SCRATCH) as url:
            migrate(project_env(url))
            setup_django(url)
            print("fault scenarios (real workers, private Redis):", flush=True)
            scenarios(url, args.pages)
            from django.db import connections

            connections.close_all()
        postgres_restart(args.pages)
    if args.retag_database:
        retag_throughput(args.retag_database, args.retag_seconds)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
