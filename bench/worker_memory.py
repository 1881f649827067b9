"""Peak RSS of a real Celery worker that ingests 1,000 pages, a 50 MB page and hostile feeds.

    uv run python bench/worker_memory.py [--pages 1000] [--big-mb 50] [--no-hostile]
        [--django-debug] [--json] [--broker redis://127.0.0.1:6379/14]

Target (issue): the worker's peak RSS stays under 400 MB. Needs PostgreSQL and Redis on
127.0.0.1 (a scratch database `newsdesk_bench_mem` is recreated and dropped; Redis db 14 is
flushed) and the corpus pages in shared/corpus/pages/html, served from a loopback server at 1,000
distinct URLs (cycling through the 61 pages), 25 per RSS feed. Two more entries point at a
generated page of --big-mb MB, once with Content-Length and once chunked without it: both must be
refused by NEWSDESK_HTTP_MAX_BYTES and recorded as failed articles. The worker runs with
DEBUG=false, as in production, unless --django-debug.

Hostile feeds (bench/hostile.py, unless --no-hostile) are polled among the others: one DTD entity
of 50 KB referenced 50,000 times (2.5 GB if expanded), the nested "billion laughs", and a feed
whose fields carry NUL, ESC, U+FFFE and a right-to-left override, with article pages that carry
the same, and one 9 MB description of escaped HTML. Each must end recorded (polled, its
articles extracted or failed) with the worker's peak RSS under the target (aim: under 250 MB).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import redis  # noqa: E402
from celery import Celery  # noqa: E402

from bench import hostile  # noqa: E402
from bench.common import (  # noqa: E402
    MB,
    FeedItem,
    PageServer,
    Route,
    RssSampler,
    article_status_counts,
    corpus_pages,
    create_feeds,
    filler_html,
    marked_copy,
    migrate,
    peak_rss_hwm,
    project_env,
    recent,
    rss_feed,
    scratch_database,
    start_worker,
    stop_process,
    wait_worker_ready,
)

TARGET_MB = 400
AIM_MB = 250
HOSTILE_FEEDS = {
    "entity-wide": ("/hostile/wide.xml", hostile.wide_entity_feed),
    "entity-nested": ("/hostile/laughs.xml", hostile.nested_entity_feed),
    "control-chars": ("/hostile/controls.xml", hostile.control_character_feed),
    "huge-field": ("/hostile/huge.xml", hostile.huge_text_feed),
}
HOSTILE_LINKS = ("/wide/1", "/wide/2", "/laughs/1", "/ctl/1", "/ctl/2", "/huge/1")
BIG_PATHS = {"declared": "/big/declared.html", "chunked": "/big/chunked.html"}


def build_site(server: PageServer, pages: int, per_feed: int, big_bytes: int) -> list[str]:
    """Register article pages, big pages and feeds on the server; returns the feed URLs."""
    corpus = corpus_pages()
    if not corpus:
        raise SystemExit("no corpus pages under shared/corpus/pages/html")
    links = []
    for i in range(pages):
        path = f"/a/{i:05d}.html"
        page, copy = corpus[i % len(corpus)], i // len(corpus)
        server.routes[path] = Route.lazy(partial(marked_copy, page, copy), "text/html")
        links.append(server.url(path))
    if big_bytes:
        server.routes[BIG_PATHS["declared"]] = Route.streamed(
            lambda: filler_html(big_bytes), length=big_bytes, content_type="text/html"
        )
        server.routes[BIG_PATHS["chunked"]] = Route.streamed(
            lambda: filler_html(big_bytes), length=None, content_type="text/html"
        )
    groups = [links[i : i + per_feed] for i in range(0, len(links), per_feed)] or [[]]
    if big_bytes:
        # In the middle of the run, so the worker meets them already warm and loaded.
        groups[len(groups) // 2].extend(server.url(path) for path in BIG_PATHS.values())
    feed_urls = []
    for number, group in enumerate(groups):
        items = [
            FeedItem(title=f"Bench story {link.rsplit('/', 1)[-1]}", link=link, published=recent(n))
            for n, link in enumerate(group)
        ]
        path = f"/feeds/{number:03d}.xml"
        body = rss_feed(items, title=f"Bench feed {number}", link=server.base_url + "/")
        server.routes[path] = Route.of(body, "application/rss+xml")
        feed_urls.append(server.url(path))
    return feed_urls


def _control_page(page: bytes, copy: int) -> bytes:
    # A real page with NUL, ESC, U+FFFE and a right-to-left override in its title and text.
    nasty = "\x00\x1b[2J\ufffe\u202e".encode()
    marked = marked_copy(page, 10_000 + copy)
    return marked.replace(b"<title>", b"<title>" + nasty, 1).replace(b"<p>", b"<p>" + nasty)


def build_hostile(server: PageServer) -> list[str]:
    """Serve the hostile feeds and their article pages; returns the feed URLs."""
    corpus = corpus_pages()
    for n, path in enumerate(HOSTILE_LINKS):
        server.routes[path] = Route.lazy(partial(_control_page, corpus[n % len(corpus)], n))
    urls = []
    for path, make in HOSTILE_FEEDS.values():
        server.routes[path] = Route.of(make(server.base_url), "application/rss+xml")
        urls.append(server.url(path))
    return urls


def hostile_outcomes(db_url: str, base_url: str) -> dict[str, dict[str, object]]:
    with psycopg.connect(db_url) as conn:
        rows = {
            url: (status, error)
            for url, status, error in conn.execute(
                "SELECT url, last_status, last_error FROM articles_feed"
            )
        }
    return {
        name: {
            "status": rows.get(base_url + path, ("missing", ""))[0],
            "note": rows.get(base_url + path, ("", ""))[1][:160],
        }
        for name, (path, _) in HOSTILE_FEEDS.items()
    }


def failures(db_url: str, base_url: str) -> tuple[dict[str, int], dict[str, str]]:
    """Failed articles' errors grouped (URLs blanked), and the error of each big page."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT url, error FROM articles_article WHERE status = 'failed'")
        failed = list(rows)
    grouped = Counter(re.sub(r"https?://\S+", "<url>", error) for _, error in failed)
    big = {
        kind: next((error for url, error in failed if url == base_url + path), "")
        for kind, path in BIG_PATHS.items()
    }
    return dict(grouped.most_common()), big


def run(args: argparse.Namespace) -> dict[str, object]:
    big_bytes = int(args.big_mb * MB)
    expected = args.pages + (len(BIG_PATHS) if big_bytes else 0)
    expected += len(HOSTILE_LINKS) if args.hostile else 0
    broker = redis.Redis.from_url(args.broker)
    with (
        PageServer() as server,
        scratch_database(args.database) as db_url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        feed_urls = build_site(server, args.pages, args.per_feed, big_bytes)
        if args.hostile:
            # In the middle of the run, among ordinary feeds.
            middle = len(feed_urls) // 2
            feed_urls[middle:middle] = build_hostile(server)
        env = project_env(
            db_url,
            debug=args.django_debug,
            REDIS_URL=args.broker,
            CELERY_BROKER_URL=args.broker,
            CELERY_RESULT_BACKEND=args.broker,
            CELERY_TASK_ALWAYS_EAGER="false",
            NEWSDESK_ALLOW_HOSTS=server.base_url.removeprefix("http://"),
            NEWSDESK_HOST_DELAY="0",
            NEWSDESK_OBEY_ROBOTS="false",
            LOG_LEVEL="WARNING",
        )
        migrate(env)
        feed_ids = create_feeds(env, feed_urls)
        broker.flushdb()
        log_path = Path(tmp) / "worker.log"
        worker = start_worker(env, log_path, name="bench-mem")
        try:
            wait_worker_ready(worker, log_path)
            sampler = RssSampler(worker.pid, interval=args.interval).start()
            started = time.monotonic()
            sender = Celery(broker=args.broker)
            for feed_id in feed_ids:
                sender.send_task("articles.tasks.poll_feed", args=[feed_id], queue="poll")
            counts, timed_out = wait_done(db_url, expected, started, args.timeout, worker)
            wall = time.monotonic() - started
            sampler.stop()
            hwm = peak_rss_hwm(worker.pid)
        finally:
            stop_process(worker)
            broker.flushdb()
        grouped, big_errors = failures(db_url, server.base_url)
        hostile_feeds = hostile_outcomes(db_url, server.base_url) if args.hostile else {}
        log_tail = log_path.read_text(errors="replace")[-2000:]
    done = sum(n for status, n in counts.items() if status != "pending")
    return {
        "pages": args.pages,
        "feeds": len(feed_ids),
        "expected_articles": expected,
        "articles": sum(counts.values()),
        "statuses": dict(counts),
        "finished": done,
        "timed_out": timed_out,
        "failed_reasons": grouped,
        "big_mb": args.big_mb,
        "big_pages": {
            kind: {
                "refused": bool(big_errors[kind]) and "bytes" in big_errors[kind],
                "error": big_errors[kind],
                "mb_sent_by_server": round(server.bytes_sent(path) / MB, 2),
            }
            for kind, path in BIG_PATHS.items()
        }
        if big_bytes
        else {},
        "hostile_feeds": hostile_feeds,
        "wall_s": round(wall, 1),
        "articles_per_s": round(done / wall, 2) if wall else 0.0,
        "rss_start_mb": round(sampler.first / MB, 1),
        "rss_end_mb": round(sampler.last / MB, 1),
        "peak_rss_mb": round(sampler.peak / MB, 1),
        "peak_at_s": round(sampler.peak_at, 1),
        "peak_rss_hwm_mb": round(hwm / MB, 1) if hwm else None,
        "samples": sampler.samples,
        "django_debug": args.django_debug,
        "target_mb": args.target_mb,
        "aim_mb": AIM_MB,
        "passed": not timed_out
        and max(sampler.peak, hwm or 0) < args.target_mb * MB
        and (not big_bytes or all(v for v in big_errors.values()))
        and all(v["status"] in ("ok", "not_modified") for v in hostile_feeds.values()),
        "worker_log_tail": log_tail if timed_out else "",
    }


def wait_done(
    db_url: str, expected: int, started: float, timeout: float, worker: subprocess.Popen[bytes]
) -> tuple[Counter[str], bool]:
    """Poll the database until `expected` articles exist and none is pending."""
    last_report = 0.0
    while True:
        counts = article_status_counts(db_url)
        total, pending = sum(counts.values()), counts.get("pending", 0)
        elapsed = time.monotonic() - started
        if total >= expected and pending == 0:
            return counts, False
        if elapsed > timeout or worker.poll() is not None:
            return counts, True
        if elapsed - last_report >= 10:
            last_report = elapsed
            print(
                f"  {elapsed:6.0f}s  {total - pending}/{expected} done, {pending} pending",
                file=sys.stderr,
            )
        time.sleep(0.5)


def _report(result: dict[str, object]) -> str:
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(result["statuses"].items()))  # type: ignore[union-attr]
    lines = [
        f"{result['pages']} pages in {result['feeds']} feeds, "
        f"{result['expected_articles']} articles expected; DEBUG={result['django_debug']}",
        f"articles:        {result['finished']} finished of {result['articles']} ({statuses})",
        f"wall time:       {result['wall_s']} s, {result['articles_per_s']} articles/s"
        + ("  (TIMED OUT)" if result["timed_out"] else ""),
        f"RSS at start:    {result['rss_start_mb']} MB (worker ready, before any task)",
        f"peak RSS:        {result['peak_rss_mb']} MB sampled every 0.1 s incl. children "
        f"(at {result['peak_at_s']} s); kernel high-water mark {result['peak_rss_hwm_mb']} MB",
        f"RSS at end:      {result['rss_end_mb']} MB",
        "failed, by reason:",
        *(f"  {n:5d}  {reason}" for reason, n in result["failed_reasons"].items()),  # type: ignore[union-attr]
    ]
    for kind, big in result["big_pages"].items():  # type: ignore[union-attr]
        lines.append(
            f"{result['big_mb']} MB page, {kind}: "
            f"{'refused' if big['refused'] else 'NOT REFUSED'} "
            f"(server sent {big['mb_sent_by_server']} MB before the client hung up): {big['error']}"
        )
    for name, outcome in result["hostile_feeds"].items():  # type: ignore[union-attr]
        lines.append(f"hostile feed {name}: {outcome['status']}  {outcome['note']}")
    verdict = "PASS" if result["passed"] else "FAIL"
    lines.append(
        f"{verdict}: peak RSS vs target {result['target_mb']} MB (aim {result['aim_mb']} MB)"
    )
    if result["worker_log_tail"]:
        lines.append(f"worker log tail:\n{result['worker_log_tail']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--big-mb", type=float, default=50.0, help="0 leaves the big pages out")
    parser.add_argument("--per-feed", type=int, default=25)
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds for the ingest")
    parser.add_argument("--interval", type=float, default=0.1, help="RSS sampling period, s")
    parser.add_argument("--target-mb", type=float, default=TARGET_MB)
    parser.add_argument("--database", default="newsdesk_bench_mem")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/14")
    parser.add_argument(
        "--django-debug", action="store_true", help="run the worker with DEBUG=true (the default)"
    )
    parser.add_argument(
        "--no-hostile", dest="hostile", action="store_false", help="leave the hostile feeds out"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else _report(result))
    sys.exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()
