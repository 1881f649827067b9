"""End-to-end ingest through a real Celery worker, against plain trafilatura in one process.

    uv run python bench/pipeline.py [--feeds 200] [--per-feed 25] [--concurrency 1]
                                    [--profile auto|always|never] [--json]

Target (issue): articles/s per worker process is at least 0.7x the pages/s of plain
``trafilatura.extract(html)`` over the same pages, single-threaded, in this process.

Needs PostgreSQL and Redis on 127.0.0.1 (a scratch database `newsdesk_bench_pipeline` is recreated
and dropped; Redis db 13 is flushed) and the corpus pages in shared/corpus/pages/html, read at run
time. A loopback server serves --feeds RSS feeds of --per-feed entries, each a distinct article
URL whose page cycles through the corpus pages, marked per copy so that no two extract to the same
text (the content hash would otherwise skip storing and tagging them as duplicates).

The worker is `celery -A newsdesk worker --pool=prefork --concurrency=N`, with DEBUG=false as in
production, and NEWSDESK_HOST_DELAY=0 and NEWSDESK_OBEY_ROBOTS=false: every page is on one
loopback host, which politeness would otherwise serialise at one request a second. The ratio is
per worker process: articles/s / N / baseline pages/s.

The worker also imports this module (`--include bench.pipeline`) to log each task's start and end
to a file, which with the rows' timestamps splits its time into poll, fetch, extract, save and
tag. With --profile (by default when the ratio misses the target) the same verbs run in one
process under cProfile over a few hundred more articles, against the same database.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import redis  # noqa: E402
import trafilatura  # noqa: E402
from celery import Celery  # noqa: E402
from kombu import Connection  # noqa: E402

from bench.common import (  # noqa: E402
    MB,
    CorpusCopies,
    PageServer,
    RssSampler,
    article_status_counts,
    corpus_pages,
    create_feeds,
    migrate,
    project_env,
    scratch_database,
    serve_corpus_articles,
    serve_feeds,
    start_worker,
    stop_process,
    tree_cpu_seconds,
    tree_hwm,
    wait_worker_ready,
)

TARGET_RATIO = 0.7
TRACE_ENV = "BENCH_PIPELINE_TRACE"
WARM_PAGES = 3
# The profile's own articles come after the run's, so they are new copies with their own text.
PROFILE_FEEDS = 12
PROFILE_PLAIN = 100


# --- Task trace, installed in the worker ---------------------------------------------------------


def _install_task_trace(path: str) -> None:
    """Append one JSON line per finished task (name, first argument, start, end) to `path`.

    Small appends with O_APPEND do not interleave, so every pool process can share the file.
    """
    from celery.signals import task_postrun, task_prerun

    started: dict[str, float] = {}

    def on_prerun(task_id: str = "", **kwargs: object) -> None:
        started[task_id] = time.time()

    def on_postrun(
        task_id: str = "",
        task: Any = None,
        args: Sequence[Any] | None = None,
        state: str = "",
        **kwargs: object,
    ) -> None:
        begun = started.pop(task_id, None)
        if begun is None or task is None:
            return
        line = json.dumps(
            {
                "task": task.name,
                "arg": args[0] if args else None,
                "start": begun,
                "end": time.time(),
                "state": state,
            }
        )
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode() + b"\n")
        finally:
            os.close(fd)

    task_prerun.connect(on_prerun, weak=False)
    task_postrun.connect(on_postrun, weak=False)


if os.environ.get(TRACE_ENV):
    _install_task_trace(os.environ[TRACE_ENV])


# --- Baseline ------------------------------------------------------------------------------------


def baseline(copies: CorpusCopies, count: int) -> dict[str, float]:
    """Plain trafilatura.extract over the same bodies the server sends, here, one at a time."""
    for index in range(WARM_PAGES):  # tld list and the like load outside the timings
        trafilatura.extract(copies(index))
    wall = cpu = 0.0
    for index in range(count):
        body = copies(index)
        started, started_cpu = time.perf_counter(), time.process_time()
        trafilatura.extract(body)
        wall += time.perf_counter() - started
        cpu += time.process_time() - started_cpu
        if index and index % 1000 == 0:
            print(f"  baseline {index}/{count} pages, {index / wall:.1f}/s", file=sys.stderr)
    return {
        "pages": count,
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "pages_per_s": round(count / wall, 2),
        "cpu_ms_per_page": round(cpu / count * 1000, 2),
    }


# --- The pipeline --------------------------------------------------------------------------------


def worker_env(
    db_url: str, broker: str, trace_path: Path | None, allow_host: str
) -> dict[str, str]:
    extra = {
        "REDIS_URL": broker,
        "CELERY_BROKER_URL": broker,
        "CELERY_RESULT_BACKEND": broker,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "NEWSDESK_ALLOW_HOSTS": allow_host,  # exactly the page server's host:port
        "NEWSDESK_HOST_DELAY": "0",
        "NEWSDESK_OBEY_ROBOTS": "false",
        "LOG_LEVEL": "WARNING",
    }
    if trace_path is not None:
        extra[TRACE_ENV] = str(trace_path)
    return project_env(db_url, **extra)


def enqueue_polls(broker: str, feed_ids: Sequence[int]) -> float:
    """Send a poll task per feed; returns the epoch time just before the first was sent."""
    with Connection(broker) as conn:
        # An explicit connection: a CELERY_BROKER_URL in this environment would override.
        sender = Celery(broker=broker)
        first = time.time()
        for feed_id in feed_ids:
            sender.send_task(
                "articles.tasks.poll_feed", args=[feed_id], queue="poll", connection=conn
            )
    return first


def _polls_logged(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT count(*) FROM articles_polllog").fetchone()[0]


def wait_done(
    db_url: str, feeds: int, expected: int, timeout: float, worker: subprocess.Popen[bytes]
) -> tuple[Counter[str], bool]:
    """Poll the database until every feed was polled, `expected` articles exist, none pending."""
    started, last_report = time.monotonic(), 0.0
    while True:
        counts = article_status_counts(db_url)
        total, pending = sum(counts.values()), counts.get("pending", 0)
        if total >= expected and pending == 0 and _polls_logged(db_url) >= feeds:
            return counts, False
        elapsed = time.monotonic() - started
        if elapsed > timeout or worker.poll() is not None:
            return counts, True
        if elapsed - last_report >= 15:
            last_report = elapsed
            print(
                f"  {elapsed:6.0f}s  {total - pending}/{expected} articles done, {pending} pending",
                file=sys.stderr,
            )
        time.sleep(0.5)


def run_pipeline(
    args: argparse.Namespace, db_url: str, feed_ids: Sequence[int], tmp: Path, allow_host: str
) -> dict[str, Any]:
    expected = len(feed_ids) * args.per_feed
    trace_path = tmp / "tasks.jsonl" if args.trace else None
    env = worker_env(db_url, args.broker, trace_path, allow_host)
    log_path = tmp / "worker.log"
    broker = redis.Redis.from_url(args.broker)
    broker.flushdb()
    extra = ["--include=bench.pipeline"] if args.trace else []
    worker = start_worker(
        env, log_path, pool="prefork", concurrency=args.concurrency, name="bench-pipe", extra=extra
    )
    try:
        wait_worker_ready(worker, log_path)
        cpu_before = tree_cpu_seconds(worker.pid)
        sampler = RssSampler(worker.pid, interval=args.interval).start()
        load_before = os.getloadavg()
        enqueued_at = enqueue_polls(args.broker, feed_ids)
        counts, timed_out = wait_done(db_url, len(feed_ids), expected, args.timeout, worker)
        sampler.stop()
        cpu = tree_cpu_seconds(worker.pid) - cpu_before
        hwm = tree_hwm(worker.pid)
        load_after = os.getloadavg()
    finally:
        stop_process(worker)
        broker.flushdb()
    trace = read_trace(trace_path)
    last_stored = _last_stored(db_url, trace)
    wall = last_stored - enqueued_at
    stored = sum(n for status, n in counts.items() if status != "pending")
    return {
        "concurrency": args.concurrency,
        "expected_articles": expected,
        "statuses": dict(counts),
        "timed_out": timed_out,
        "failed_reasons": failure_reasons(db_url),
        "wall_s": round(wall, 2),
        "articles_per_s": round(stored / wall, 2) if wall > 0 else 0.0,
        "worker_cpu_s": round(cpu, 1),
        "worker_cpu_ms_per_article": round(cpu / stored * 1000, 2) if stored else 0.0,
        "rss_start_mb": round(sampler.first / MB, 1),
        "peak_rss_mb": round(sampler.peak / MB, 1),
        "peak_at_s": round(sampler.peak_at, 1),
        "peak_hwm_mb": round(hwm / MB, 1),
        "loadavg_1m": [round(load_before[0], 2), round(load_after[0], 2)],
        "split": time_split(db_url, trace, args.concurrency, wall) if trace else {},
        "worker_log_tail": log_path.read_text(errors="replace")[-2000:] if timed_out else "",
    }


def read_trace(path: Path | None) -> list[dict[str, Any]]:
    if path is None or not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _last_stored(db_url: str, trace: list[dict[str, Any]]) -> float:
    """Epoch time the last article was done: its task's end, else its row's last save."""
    ends = [float(t["end"]) for t in trace if t["task"] == "articles.tasks.fetch_article"]
    if ends:
        return max(ends)
    with psycopg.connect(db_url) as conn:
        return float(
            conn.execute(
                "SELECT extract(epoch FROM max(updated_at)) FROM articles_article"
            ).fetchone()[0]
        )


def failure_reasons(db_url: str) -> dict[str, int]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT error, count(*) FROM articles_article WHERE status = 'failed' "
            "GROUP BY error ORDER BY count(*) DESC"
        )
        return {error: count for error, count in rows}


# --- Where the worker's time went ----------------------------------------------------------------

PHASES = ("fetch", "store_page_and_extract", "save_article", "tag")


def time_split(
    db_url: str, trace: list[dict[str, Any]], concurrency: int, wall: float
) -> dict[str, Any]:
    """Seconds per phase, summed over pool processes, from task ends and the rows' timestamps.

    In a fetch_article task: fetch = task start to RawPage.fetched_at (taken before the page is
    compressed and stored); store_page_and_extract = to Article.fetched_at (zlib, the RawPage
    upsert, the feed entry lookup, extract()); save_article = to Article.updated_at (duplicate
    and canonical lookups, the row save); tag = to the task's end (visibility, matcher, links,
    the result written to Redis).
    """
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT a.id, extract(epoch FROM r.fetched_at), extract(epoch FROM a.fetched_at), "
            "extract(epoch FROM a.updated_at) FROM articles_article a "
            "LEFT JOIN articles_rawpage r ON r.article_id = a.id"
        ).fetchall()
        poll_log_s = conn.execute(
            "SELECT coalesce(sum(duration_ms), 0) / 1000.0 FROM articles_polllog"
        ).fetchone()[0]
    stamps = {row[0]: [float(v) if v is not None else None for v in row[1:]] for row in rows}
    totals: dict[str, float] = defaultdict(float)
    task_time: dict[str, float] = defaultdict(float)
    per_article: list[float] = []
    odd = 0
    for entry in trace:
        duration = float(entry["end"]) - float(entry["start"])
        task_time[str(entry["task"])] += duration
        if entry["task"] != "articles.tasks.fetch_article" or entry["state"] != "SUCCESS":
            continue
        raw, fetched, updated = stamps.get(int(entry["arg"]), [None, None, None])
        if None in (raw, fetched, updated):
            odd += 1
            continue
        marks = [float(entry["start"]), raw, fetched, updated, float(entry["end"])]
        if marks != sorted(marks):
            odd += 1
            continue
        per_article.append(duration)
        for phase, begin, end in zip(PHASES, marks, marks[1:], strict=False):
            totals[phase] += end - begin
    capacity = wall * concurrency
    busy = sum(task_time.values())
    poll_task_s = task_time.get("articles.tasks.poll_feed", 0.0)
    split = {
        "poll_feed_tasks_s": round(poll_task_s, 2),
        "poll_verb_s (PollLog)": round(float(poll_log_s), 2),
        **{f"{phase}_s": round(totals[phase], 2) for phase in PHASES},
        "fetch_article_tasks_s": round(task_time.get("articles.tasks.fetch_article", 0.0), 2),
        "outside_tasks_s": round(capacity - busy, 2),
        "capacity_s (wall x N)": round(capacity, 2),
        "articles_split": len(per_article),
        "articles_not_split": odd,
        "fetch_article_median_ms": round(statistics.median(per_article) * 1000, 1)
        if per_article
        else 0.0,
    }
    split["shares"] = {
        name: round(value / capacity, 3)
        for name, value in {
            "poll_feed tasks": poll_task_s,
            **{phase: totals[phase] for phase in PHASES},
            "outside tasks (broker, Celery, idle)": capacity - busy,
        }.items()
    }
    return split


# --- Profile: the same verbs in one process ------------------------------------------------------


def profile_child(out_dir: Path) -> None:
    """Run in a subprocess with the worker's environment: poll feeds, fetch their articles.

    The first PROFILE_PLAIN articles are timed without the profiler, the rest under cProfile.
    """
    spec = json.loads(sys.stdin.read())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsdesk.settings")
    import django

    django.setup()
    from django.db import connection

    from articles import ingest
    from articles.models import Article, Feed

    feeds = [
        Feed.objects.create(url=url, title=f"Profile feed {i}")
        for i, url in enumerate(spec["feeds"])
    ]
    polls = cProfile.Profile()
    started = time.perf_counter()
    ids: list[int] = []
    with polls:
        for feed in feeds:
            ids.extend(ingest.poll_feed(feed).new_article_ids)
    poll_s = time.perf_counter() - started

    def fetch_one(article_id: int) -> None:
        # What the task does: look the row up by id, then call the verb.
        article = Article.objects.filter(pk=article_id).first()
        ingest.fetch_article(article, max_wait=10.0, final_attempt=True)

    plain, profiled = ids[: spec["plain"]], ids[spec["plain"] :]
    statements = SqlTimer()
    started = time.perf_counter()
    with connection.execute_wrapper(statements):
        for article_id in plain:
            fetch_one(article_id)
    plain_s = time.perf_counter() - started
    fetches = cProfile.Profile()
    started = time.perf_counter()
    with fetches:
        for article_id in profiled:
            fetch_one(article_id)
    profiled_s = time.perf_counter() - started
    polls.dump_stats(out_dir / "poll.pstats")
    fetches.dump_stats(out_dir / "fetch.pstats")
    statuses = Counter(Article.objects.filter(pk__in=ids).values_list("status", flat=True))
    summary = {
        "feeds": len(feeds),
        "articles": len(ids),
        "statuses": dict(statuses),
        "poll_ms_per_feed": round(poll_s / max(1, len(feeds)) * 1000, 1),
        "plain_articles": len(plain),
        "plain_ms_per_article": round(plain_s / max(1, len(plain)) * 1000, 1),
        "profiled_articles": len(profiled),
        "profiled_ms_per_article": round(profiled_s / max(1, len(profiled)) * 1000, 1),
        "sql_unprofiled": statements.top(len(plain)),
    }
    (out_dir / "summary.json").write_text(json.dumps(summary))


class SqlTimer:
    """A Django execute wrapper: wall time and count per SQL statement (parameters apart)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds[sql] += time.perf_counter() - started
            self.calls[sql] += 1

    def top(self, articles: int, count: int = 10) -> dict[str, object]:
        per = 1000 / max(1, articles)
        ranked = sorted(self.seconds.items(), key=lambda item: item[1], reverse=True)
        return {
            "ms_per_article": round(sum(self.seconds.values()) * per, 2),
            "statements_per_article": round(sum(self.calls.values()) / max(1, articles), 1),
            "slowest": [
                {
                    "sql": " ".join(sql.split())[:220],
                    "calls": self.calls[sql],
                    "ms_per_article": round(seconds * per, 2),
                    "ms_per_call": round(seconds / self.calls[sql] * 1000, 2),
                }
                for sql, seconds in ranked[:count]
            ],
        }


# (label, file suffix, function name): cumulative costs worth naming in the report.
KEY_FUNCTIONS = (
    ("fetch_article verb", "articles/ingest.py", "fetch_article"),
    ("  polite_fetch (HTTP)", "articles/fetching.py", "polite_fetch"),
    ("  RawPage.update_or_create", "django/db/models/query.py", "update_or_create"),
    ("    zlib.compress", "~", "<built-in method zlib.compress>"),
    ("  extract_article", "articles/ingest.py", "extract_article"),
    ("    extraction.extract", "articles/extraction.py", "extract"),
    ("      decode_html", "articles/extraction.py", "decode_html"),
    ("      load_html (lxml parse)", "trafilatura/utils.py", "load_html"),
    ("      _metadata", "articles/extraction.py", "_metadata"),
    ("      page_signals", "articles/extraction.py", "page_signals"),
    ("      choose_pass", "articles/extraction.py", "choose_pass"),
    ("        bare_extraction", "trafilatura/core.py", "bare_extraction"),
    ("      _page_published", "articles/extraction.py", "_page_published"),
    ("        htmldate find_date", "htmldate/core.py", "find_date"),
    ("      clean_blocks", "articles/extraction.py", "clean_blocks"),
    ("      make_summary", "articles/summary.py", "make_summary"),
    ("      detect_language", "articles/extraction.py", "detect_language"),
    ("      choose_canonical", "articles/canonical.py", "choose_canonical"),
    ("    _apply_extraction", "articles/ingest.py", "_apply_extraction"),
    ("      _original_of", "articles/ingest.py", "_original_of"),
    ("    sync_visibility", "tags/linking.py", "sync_visibility"),
    ("    tag_article", "tags/linking.py", "tag_article"),
    ("      Matcher.match", "tags/matching.py", "match"),
    ("SQL (Django cursor execute)", "django/db/backends/utils.py", "_execute"),
    ("lxml deepcopy", "~", "<built-in method copy.deepcopy>"),
)


def _cumulative(stats: pstats.Stats, suffix: str, name: str) -> float:
    found = [
        value[3]
        for (path, _line, func), value in stats.stats.items()
        if func == name and path.replace("\\", "/").endswith(suffix)
    ]
    return max(found, default=0.0)


def _short(key: tuple[str, int, str]) -> str:
    path, line, func = key
    where = "/".join(Path(path).parts[-2:]) if path != "~" else ""
    return f"{where}:{line} {func}" if where else func


def summarise_profile(out_dir: Path, articles: int, top: int = 15) -> dict[str, Any]:
    stats = pstats.Stats(str(out_dir / "fetch.pstats"))
    per = 1000 / max(1, articles)
    total = _cumulative(stats, "articles/ingest.py", "fetch_article")
    key = {
        label: round(_cumulative(stats, suffix, name) * per, 2)
        for label, suffix, name in KEY_FUNCTIONS
    }
    by_own = sorted(
        stats.stats.items(),
        key=lambda item: item[1][2],
        reverse=True,
    )[:top]
    return {
        "ms_per_article_profiled": round(total * per, 2),
        "cumulative_ms_per_article": key,
        "top_own_time": [
            {"function": _short(k), "ms_per_article": round(v[2] * per, 2), "calls": v[1]}
            for k, v in by_own
        ],
    }


def run_profile(
    server: PageServer, copies: CorpusCopies, env: dict[str, str], first: int, per_feed: int
) -> dict[str, Any]:
    count = PROFILE_FEEDS * per_feed
    links = serve_corpus_articles(server, copies, range(first, first + count))
    feeds = serve_feeds(server, links, per_feed, prefix="/profile-feeds/")
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--profile-child", tmp],
            cwd=ROOT,
            env=env,
            input=json.dumps({"feeds": feeds, "plain": PROFILE_PLAIN}),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            return {"error": f"profile run failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"}
        summary = json.loads((Path(tmp) / "summary.json").read_text())
        summary.update(summarise_profile(Path(tmp), summary["profiled_articles"]))
    return summary


# --- Running it ----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    corpus = corpus_pages()
    if not corpus:
        raise SystemExit("no corpus pages under shared/corpus/pages/html")
    copies = CorpusCopies(corpus)
    count = args.feeds * args.per_feed
    print(f"baseline: trafilatura.extract over {count} pages", file=sys.stderr)
    base = baseline(copies, count)
    with (
        PageServer() as server,
        scratch_database(args.database) as db_url,
        tempfile.TemporaryDirectory() as tmp,
    ):
        links = serve_corpus_articles(server, copies, range(count))
        feed_urls = serve_feeds(server, links, args.per_feed)
        allow_host = server.base_url.removeprefix("http://")
        env = worker_env(db_url, args.broker, None, allow_host)
        migrate(env)
        feed_ids = create_feeds(env, feed_urls)
        print(
            f"pipeline: {len(feed_ids)} feeds, worker concurrency {args.concurrency}",
            file=sys.stderr,
        )
        pipe = run_pipeline(args, db_url, feed_ids, Path(tmp), allow_host)
        ratio = pipe["articles_per_s"] / args.concurrency / base["pages_per_s"]
        cpu_ratio = base["cpu_ms_per_page"] / pipe["worker_cpu_ms_per_article"]
        wanted = args.profile == "always" or (args.profile == "auto" and ratio < args.target)
        profile: dict[str, Any] = {}
        if wanted:
            print("profile: the same verbs in one process under cProfile", file=sys.stderr)
            redis.Redis.from_url(args.broker).flushdb()
            profile = run_profile(server, copies, env, count, args.per_feed)
            redis.Redis.from_url(args.broker).flushdb()
    # Other work on the machine shifts both figures: a second, shorter baseline brackets drift.
    again = baseline(copies, min(count, args.recheck)) if args.recheck else {}
    failed = pipe["statuses"].get("failed", 0)
    return {
        "command": " ".join(["uv run python bench/pipeline.py", *sys.argv[1:]]),
        "feeds": args.feeds,
        "per_feed": args.per_feed,
        "settings": "DEBUG=false NEWSDESK_HOST_DELAY=0 NEWSDESK_OBEY_ROBOTS=false "
        "NEWSDESK_ALLOW_HOSTS=<page server>",
        "baseline": base,
        "baseline_after": again,
        "ratio_vs_baseline_after": round(
            pipe["articles_per_s"] / args.concurrency / again["pages_per_s"], 3
        )
        if again
        else None,
        "pipeline": pipe,
        "ratio_per_process": round(ratio, 3),
        "cpu_ratio": round(cpu_ratio, 3),
        "target": args.target,
        "passed": not pipe["timed_out"] and not failed and ratio >= args.target,
        "profile": profile,
    }


# --- Report --------------------------------------------------------------------------------------


def _report(result: dict[str, Any]) -> str:
    base, pipe = result["baseline"], result["pipeline"]
    n = pipe["concurrency"]
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(pipe["statuses"].items()))
    lines = [
        f"{result['feeds']} feeds x {result['per_feed']} entries; worker prefork, concurrency {n}; "
        f"{result['settings']}",
        f"baseline:  trafilatura.extract, 1 thread: {base['pages_per_s']} pages/s "
        f"({base['cpu_ms_per_page']} ms CPU/page, {base['pages']} pages, "
        f"load {base['loadavg_1m']})",
        f"pipeline:  {pipe['articles_per_s']} articles/s, wall {pipe['wall_s']} s from first "
        f"enqueue to last article stored" + ("  (TIMED OUT)" if pipe["timed_out"] else ""),
        f"articles:  {statuses} (expected {pipe['expected_articles']})",
        f"ratio:     {result['ratio_per_process']} per worker process "
        f"(articles/s / {n} / baseline pages/s); target >= {result['target']}",
        *_recheck_lines(result),
        f"CPU ratio: {result['cpu_ratio']} (baseline CPU/page / worker-tree CPU/article: "
        f"{base['cpu_ms_per_page']} / {pipe['worker_cpu_ms_per_article']} ms)",
        f"memory:    worker tree RSS {pipe['rss_start_mb']} MB ready, "
        f"peak {pipe['peak_rss_mb']} MB "
        f"(at {pipe['peak_at_s']} s, summed over processes, shared pages counted per process); "
        f"largest single-process high-water mark {pipe['peak_hwm_mb']} MB",
        f"load avg:  {pipe['loadavg_1m'][0]} before, {pipe['loadavg_1m'][1]} after (1 min)",
    ]
    if pipe["failed_reasons"]:
        lines.append("failed, by reason:")
        lines += [f"  {c:5d}  {r}" for r, c in pipe["failed_reasons"].items()]
    split = pipe["split"]
    if split:
        lines.append(
            f"time split (task trace + row timestamps, summed over {n} process(es), "
            f"capacity {split['capacity_s (wall x N)']} s):"
        )
        articles = max(1, split["articles_split"])
        for name, share in split["shares"].items():
            seconds = share * split["capacity_s (wall x N)"]
            lines.append(
                f"  {name:40s} {seconds:8.1f} s  {seconds / articles * 1000:7.2f} ms/article"
                f"  {share:6.1%}"
            )
        lines.append(
            f"  (poll verb per PollLog {split['poll_verb_s (PollLog)']} s; fetch_article median "
            f"{split['fetch_article_median_ms']} ms; {split['articles_not_split']} not split)"
        )
    lines += _profile_lines(result["profile"])
    verdict = "PASS" if result["passed"] else "BELOW TARGET" if not pipe["timed_out"] else "FAIL"
    lines.append(
        f"{verdict}: {result['ratio_per_process']} per worker process vs {result['target']}"
    )
    if pipe["worker_log_tail"]:
        lines.append(f"worker log tail:\n{pipe['worker_log_tail']}")
    return "\n".join(lines)


def _recheck_lines(result: dict[str, Any]) -> list[str]:
    again = result["baseline_after"]
    if not again:
        return []
    return [
        f"           baseline again after the run: {again['pages_per_s']} pages/s "
        f"({again['cpu_ms_per_page']} ms CPU/page, {again['pages']} pages, load "
        f"{again['loadavg_1m']}): ratio {result['ratio_vs_baseline_after']} against it"
    ]


def _profile_lines(profile: dict[str, Any]) -> list[str]:
    if not profile:
        return []
    if "error" in profile:
        return [str(profile["error"])]
    lines = [
        f"in-process, same verbs and database ({profile['articles']} articles, "
        f"{profile['statuses']}): poll {profile['poll_ms_per_feed']} ms/feed; fetch_article "
        f"{profile['plain_ms_per_article']} ms/article unprofiled, "
        f"{profile['profiled_ms_per_article']} under cProfile",
        "cumulative, ms per article under cProfile:",
    ]
    lines += [f"  {k:34s} {v:8.2f}" for k, v in profile["cumulative_ms_per_article"].items()]
    sql = profile["sql_unprofiled"]
    lines.append(
        f"SQL, unprofiled: {sql['ms_per_article']} ms and {sql['statements_per_article']} "
        "statements per article; slowest by total:"
    )
    lines += [
        f"  {row['ms_per_article']:7.2f} ms/article  "
        f"{row['ms_per_call']:6.2f} ms x {row['calls']:>4}  {row['sql']}"
        for row in sql["slowest"]
    ]
    lines.append("top own time, ms per article under cProfile:")
    lines += [
        f"  {row['ms_per_article']:8.2f}  {row['calls']:>7}  {row['function']}"
        for row in profile["top_own_time"]
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--per-feed", type=int, default=25)
    parser.add_argument("--concurrency", type=int, default=1, help="worker pool processes")
    parser.add_argument("--profile", choices=("auto", "always", "never"), default="auto")
    parser.add_argument("--no-trace", dest="trace", action="store_false", help="no task trace")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds for the ingest")
    parser.add_argument("--interval", type=float, default=0.2, help="RSS sampling period, s")
    parser.add_argument("--target", type=float, default=TARGET_RATIO)
    parser.add_argument(
        "--recheck", type=int, default=1000, help="pages for a second baseline after; 0: none"
    )
    parser.add_argument("--database", default="newsdesk_bench_pipeline")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--profile-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.profile_child:
        profile_child(args.profile_child)
        return
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else _report(result))
    sys.exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()
