"""Retag one topic over a generated archive through real workers, and a rule change mid-run.

    uv run python bench/retag.py [--database newsdesk_scale] [--topic SLUG]
        [--baseline-seconds 60] [--supersede-after 10000] [--run-seconds 3600]

Against a database made by bench/generate.py (default: the scale database, 1,000,000
articles), with a private redis-server on a free port and `celery worker` processes:

1. baseline: the per-article path (NEWSDESK_RETAG_PER_ARTICLE=true), time-capped, articles/s;
2. a retag job of the topic (the biggest by default: its links plus its phrases' full-text
   matches) on the batched path; after --supersede-after articles a rule change lands (an
   alias that matches nothing, so the archive's links end as they were) and
   `retagging.start` supersedes the running job; the new job runs to the end through chunks.
   Printed: each job's state and articles done, chunk times against the task time limits,
   and the batched articles/s with its ratio to the baseline;
3. consistency: COUNT(*) of the topic's links and visible links before and after, the stored
   counts of the topic and its ancestors against a COUNT, and the alias removed again.

The workers tag with the rules as they are, so on an archive tagged by those rules the retag
changes nothing; any link it does change is counted and printed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import database_url  # noqa: E402

NO_MATCH_ALIAS = "zqxv retag bench marker"


def setup_django(url: str, broker_url: str) -> None:
    # This process sends the jobs and changes the rules as the admin would: same broker and
    # cache as the workers, so the rules version it bumps is the one they check.
    os.environ.update(
        DATABASE_URL=url,
        CELERY_BROKER_URL=broker_url,
        REDIS_URL=broker_url,
        CELERY_TASK_ALWAYS_EAGER="false",
        DEBUG="false",
        DJANGO_SETTINGS_MODULE="newsdesk.settings",
    )
    os.environ.setdefault("SECRET_KEY", "bench-retag")
    import django

    django.setup()


def topic_counts(tag_id: int) -> tuple[int, int, int]:
    """(links, visible links) by COUNT(*), and the stored count."""
    from django.db import connection

    # One statement, so one snapshot: other processes may be writing links meanwhile (each
    # writer moves links and counts in one transaction).
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*), count(*) FILTER (WHERE is_visible),"
            " (SELECT article_count FROM tags_tag WHERE id = %s)"
            " FROM tags_articletag WHERE tag_id = %s",
            [tag_id, tag_id],
        )
        return cur.fetchone()


def wait_job(job_id: int, until, timeout: float, every: float = 0.5):
    from tags.models import RetagJob

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = RetagJob.objects.get(pk=job_id)
        if until(job):
            return job
        time.sleep(every)
    return RetagJob.objects.get(pk=job_id)


def chunk_times(worker_log: str) -> list[float]:
    """Seconds each run_retag_job task took, from the worker's log."""
    import re

    return [
        float(m)
        for m in re.findall(
            r"Task tags\.tasks\.run_retag_job\[[^\]]+\] succeeded in ([0-9.]+)s", worker_log
        )
    ]


def scope_times(worker_log: str, job_id: int) -> str:
    """How long the worker took to snapshot the job's scope, from its log."""
    import re

    pattern = rf"retag job {job_id}: scope of [0-9]+ articles taken in ([0-9.]+) s"
    found = re.findall(pattern, worker_log)
    return f"in {found[-1]} s" if found else "(time not in the worker's log)"


def baseline(args, url, broker, topic, workers, created: list[int]) -> float:
    """The per-article path (NEWSDESK_RETAG_PER_ARTICLE=true), timed over whole chunks."""
    from django.conf import settings

    from tags import retagging
    from tags.models import RetagJob
    from tests.faultkit import Worker, send

    worker = Worker(url, broker.url, NEWSDESK_RETAG_PER_ARTICLE="true").start(1)
    workers.append(worker)
    job = RetagJob.objects.create(
        tag=topic, tag_name=topic.name, phrases=retagging.phrases_of(topic)
    )
    created.append(job.pk)
    send(broker.url, "tags.tasks.run_retag_job", job.pk, queue="tag")
    # Progress is recorded per chunk: time whole chunks, from the end of the first.
    first = wait_job(job.pk, lambda j: j.done > 0 or j.is_finished, 900)
    started = time.monotonic()
    job = wait_job(
        job.pk,
        lambda j: (
            j.is_finished
            or (j.done > first.done and time.monotonic() - started >= args.baseline_seconds)
        ),
        900,
        every=0.2,
    )
    per_article = (job.done - first.done) / (time.monotonic() - started)
    RetagJob.objects.filter(pk=job.pk).update(state=RetagJob.State.SUPERSEDED)
    print(
        f"  per-article path (baseline): {per_article:,.1f} articles/s"
        f" ({job.done - first.done:,} articles in {time.monotonic() - started:.0f} s,"
        f" chunks of at most {settings.NEWSDESK_RETAG_CHUNK_SECONDS:.0f} s)",
        flush=True,
    )
    worker.stop()
    return per_article


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="newsdesk_scale")
    parser.add_argument("--topic", default="", help="a topic's slug (default: the biggest)")
    parser.add_argument("--baseline-seconds", type=float, default=60)  # at least one chunk
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--supersede-after", type=int, default=10_000)
    parser.add_argument("--run-seconds", type=float, default=3600)
    args = parser.parse_args(argv)

    from tests.faultkit import PrivateRedis, Worker

    # A SIGTERM ends the run through `finally`: workers and the private Redis stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    url = database_url(args.database)
    broker = PrivateRedis()
    broker.start()
    setup_django(url, broker.url)
    from django.conf import settings

    from tags import linking, retagging
    from tags.models import Alias, RetagJob, Tag

    print(f"load average before: {os.getloadavg()}", flush=True)
    topic = (
        Tag.objects.get(slug=args.topic)
        if args.topic
        else Tag.objects.order_by("-article_count").first()
    )
    before = topic_counts(topic.pk)
    print(
        f"{args.database}: topic {topic.slug!r}, links {before[0]:,} (visible {before[1]:,},"
        f" stored count {before[2]:,}); task soft limit {settings.CELERY_TASK_SOFT_TIME_LIMIT} s,"
        f" chunk {retagging.BATCH_SIZE} articles, transaction {retagging.TRANSACTION_SIZE}",
        flush=True,
    )
    workers: list[Worker] = []
    created: list[int] = []  # the bench's jobs: removed at the end, the database is shared
    per_article = 0.0
    try:
        if not args.skip_baseline:
            per_article = baseline(args, url, broker, topic, workers, created)
        # 2. The batched path, superseded by a rule change, then the new job to the end.
        worker = Worker(url, broker.url).start(1)
        workers.append(worker)
        t0 = time.monotonic()
        request_started = time.perf_counter()
        old = retagging.start(topic)  # sends the first chunk at commit (autocommit: now)
        created.append(old.pk)
        request_took = time.perf_counter() - request_started
        print(f"  job {old.pk}: queued by retagging.start in {request_took:.2f} s (the request)")
        old = wait_job(old.pk, lambda j: j.scope_taken or j.is_finished, 600, every=0.2)
        print(
            f"  job {old.pk}: scope of {old.total:,} articles taken by the worker"
            f" {scope_times(Path(worker.log_path).read_text(errors='replace'), old.pk)}",
            flush=True,
        )
        old = wait_job(old.pk, lambda j: j.done >= args.supersede_after or j.is_finished, 1800)
        alias = Alias.objects.create(tag=topic, phrase=NO_MATCH_ALIAS)  # bumps rules version
        new = retagging.start(Tag.objects.get(pk=topic.pk))
        created.append(new.pk)
        old = wait_job(old.pk, lambda j: j.heartbeat_at and j.is_finished, 120)
        new = wait_job(new.pk, lambda j: j.scope_taken or j.is_finished, 600, every=0.2)
        print(
            f"  job {new.pk}: scope of {new.total:,} articles taken by the worker"
            f" {scope_times(Path(worker.log_path).read_text(errors='replace'), new.pk)}",
            flush=True,
        )
        t1 = time.monotonic()
        new = wait_job(new.pk, lambda j: j.is_finished, args.run_seconds, every=2)
        took = time.monotonic() - t1
        if not new.is_finished:
            # Out of time on this machine: stop it between transactions (each is whole, so
            # links and counts stay exact) and say how long the rest would take.
            RetagJob.objects.filter(pk=new.pk).update(state=RetagJob.State.SUPERSEDED)
            new = wait_job(new.pk, lambda j: j.heartbeat_at and j.is_finished, 60)
            rate = new.done / took if took else 0
            print(
                f"  job {new.pk} stopped by the bench after {took:.0f} s (--run-seconds):"
                f" {new.done:,} of {new.total:,} done; the whole scope would take about"
                f" {new.total / rate if rate else float('inf'):,.0f} s at this rate",
                flush=True,
            )
        old_final = RetagJob.objects.get(pk=old.pk)
        print(
            f"  job {old.pk} (rules before the change): {old_final.state} after"
            f" {old_final.done:,} of {old_final.total:,} articles, chunks {old_final.chunks}",
            flush=True,
        )
        print(
            f"  job {new.pk} (rules after the change): {new.state}, {new.done:,} of"
            f" {new.total:,} articles in {took:.1f} s, {new.chunks} chunks, {new.changed:,}"
            f" articles changed{', error: ' + new.error if new.error else ''}",
            flush=True,
        )
        batched = new.done / took if took else 0.0
        times = chunk_times(Path(worker.log_path).read_text(errors="replace"))
        if times:
            print(
                f"  chunk task time: max {max(times):.1f} s, median"
                f" {sorted(times)[len(times) // 2]:.1f} s over {len(times)} tasks"
                f" (soft limit {settings.CELERY_TASK_SOFT_TIME_LIMIT} s)",
                flush=True,
            )
        print(
            f"  batched path: {batched:,.1f} articles/s"
            f" = {batched / per_article if per_article else float('nan'):.1f}x the per-article"
            f" path; whole run {time.monotonic() - t0:.1f} s",
            flush=True,
        )
        alias.delete()  # the marker matched nothing: the rules are as they were

        # 3. Consistency.
        after = topic_counts(topic.pk)
        chain = [topic.pk]
        parent = topic.parent_id
        while parent is not None and parent not in chain:
            chain.append(parent)
            parent = Tag.objects.values_list("parent_id", flat=True).get(pk=parent)
        wrong = linking.recount(chain)
        print(
            f"  after: links {after[0]:,} (visible {after[1]:,}, stored count {after[2]:,});"
            f" counts wrong among the topic and its ancestors: {wrong};"
            f" exact: {after[1] == after[2] and wrong == 0}",
            flush=True,
        )
    finally:
        for w in workers:
            w.stop()
        Alias.objects.filter(tag=topic, phrase=NO_MATCH_ALIAS).delete()
        RetagJob.objects.filter(pk__in=created).delete()  # and their snapshot rows
        broker.close()
        from django.db import connections

        connections.close_all()
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
