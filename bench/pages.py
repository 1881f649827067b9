"""Server time of the public pages on a big database, in process, warm.

    uv run python bench/generate.py --database newsdesk_scale      # once, ~15-30 min
    uv run python bench/pages.py --database newsdesk_scale [--requests 200] [--json]
    uv run python bench/pages.py --database newsdesk_scale --fill-stories   # once, see below

Django runs in this process (DEBUG off, as in production) and the test Client times each page
without a network in between: the biggest topic's first page, its page 2,000 both as a reader
reaches it (the "Older entries" link of page 1,999, which carries a cursor) and as a bare
`?page=2000`, the topic index, random article pages, and searches for a common word and for a
mid-frequency one (found from the data). For each: p50/p95/max, the SQL queries one request
runs, PASS/FAIL against the targets, and EXPLAIN (ANALYZE, BUFFERS) of its slowest query.
Then the process's peak resident memory.

Stories: topic pages list one entry per story (tags.folding). The biggest topic's first page is
also measured, in the same run, the way it is served with no stories: the listing over every
visible link and no story lines (the page before stories existed). `--fill-stories` first fills
a scale database that has no stories with synthetic ones (bench/fill_stories.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import database_url, peak_rss_hwm  # noqa: E402

MS = 1000
TARGET_PAGE_MS = 30.0
TARGET_SEARCH_MS = 150.0
MAX_QUERIES = 8
DEEP_PAGE = 2000
_OLDER = re.compile(r'<a class="older" rel="next" href="([^"]+)"')


@dataclass
class Figure:
    name: str
    target_ms: float
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    max_ms: float = 0.0
    requests: int = 0
    queries: int = 0
    example_url: str = ""
    main_query_ms: float = 0.0
    main_query: str = ""
    plan: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.p95_ms <= self.target_ms and self.queries <= MAX_QUERIES


def configure(database: str) -> None:
    """Production-like settings, before Django is imported."""
    os.environ["DATABASE_URL"] = database_url(database)
    os.environ["DEBUG"] = "false"
    # Time the server, not the few-second whole-page cache in front of it (bench/http_load.py
    # measures that one under load).
    os.environ["NEWSDESK_HOT_PAGE_SECONDS"] = "0"
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ["SECURE_SSL_REDIRECT"] = "false"
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsdesk.settings")
    import django

    django.setup()
    from django.core.management import call_command

    # DEBUG off links static files through the strict manifest, as in production.
    call_command("collectstatic", interactive=False, verbosity=0)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def explain(sql: str) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return [row[0] for row in cursor.fetchall()]


def measure(figure: Figure, urls: Callable[[int], str], requests: int, warmup: int) -> Figure:
    from django.test import Client

    client = Client()
    for i in range(warmup):
        response = client.get(urls(i))
        if response.status_code != 200:
            raise SystemExit(f"{figure.name}: {urls(i)} answered {response.status_code}")
    timings = []
    for i in range(requests):
        url = urls(warmup + i)
        began = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - began) * MS)
        if response.status_code != 200:
            raise SystemExit(f"{figure.name}: {url} answered {response.status_code}")
    return _finish(figure, client, timings, urls(0))


def _finish(figure: Figure, client, timings: list[float], url: str, around=nullcontext) -> Figure:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    figure.example_url = url
    with around(), CaptureQueriesContext(connection) as captured:
        client.get(figure.example_url)
    figure.queries = len(captured.captured_queries)
    slowest = max(captured.captured_queries, key=lambda q: float(q["time"]))
    figure.main_query = slowest["sql"]
    figure.plan = explain(slowest["sql"])
    figure.main_query_ms = float(slowest["time"]) * MS
    figure.requests = len(timings)
    figure.p50_ms = statistics.median(timings)
    figure.p95_ms = percentile(timings, 0.95)
    figure.max_ms = max(timings)
    return figure


def measure_pair(
    folded: Figure, plain: Figure, url: str, requests: int, warmup: int
) -> tuple[Figure, Figure]:
    """The same page with stories and without, request by request in turn, so both see the
    same load on the machine."""
    from django.test import Client

    client = Client()
    timings: dict[str, list[float]] = {"folded": [], "plain": []}
    for i in range(warmup + requests):
        for mode, around in (("folded", nullcontext), ("plain", without_stories)):
            with around():
                began = time.perf_counter()
                response = client.get(url)
                elapsed = (time.perf_counter() - began) * MS
            if response.status_code != 200:
                raise SystemExit(f"{url} ({mode}) answered {response.status_code}")
            if i >= warmup:
                timings[mode].append(elapsed)
    return (
        _finish(folded, client, timings["folded"], url),
        _finish(plain, client, timings["plain"], url, around=without_stories),
    )


@contextmanager
def without_stories() -> Iterator[None]:
    """Serve topic pages as before stories: every visible link an entry, no story lines."""
    from tags import queries
    from tags.models import ArticleTag

    saved = queries.visible_links, queries.story_lines, queries.PAGE_VERSION

    def every_visible_link(tag):
        return ArticleTag.objects.filter(tag=tag, is_visible=True).order_by(
            "-published_at", "-article_id"
        )

    queries.visible_links = every_visible_link
    queries.story_lines = lambda articles: {}
    # Cached pages are keyed by ETag, which includes this: no page crosses between the modes.
    queries.PAGE_VERSION = f"{saved[2]}-no-stories"
    try:
        yield
    finally:
        queries.visible_links, queries.story_lines, queries.PAGE_VERSION = saved


def search_words() -> tuple[str, float, str, float]:
    """A word in about a quarter of the articles and one in about 2%, from a 0.5% sample."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM articles_article TABLESAMPLE SYSTEM (0.5)")
        sampled = cursor.fetchone()[0] or 1
        cursor.execute(
            "SELECT word, ndoc FROM ts_stat('SELECT search_document FROM articles_article "
            "TABLESAMPLE SYSTEM (0.5) REPEATABLE (7)') WHERE word ~ '^[a-z]{4,}$'"
        )
        stats = [(word, ndoc / sampled) for word, ndoc in cursor.fetchall()]
    common = min(stats, key=lambda s: abs(s[1] - 0.25))
    middling = min(stats, key=lambda s: abs(s[1] - 0.02))
    return common[0], common[1], middling[0], middling[1]


def matches(word: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM articles_article "
            "WHERE search_document @@ websearch_to_tsquery('english', %s)",
            [word],
        )
        return cursor.fetchone()[0]


def run(args: argparse.Namespace) -> dict[str, object]:
    configure(args.database)
    from django.conf import settings
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from articles.models import Article
    from stories.models import Story, StoryMembership
    from tags.models import Tag

    filled = False
    if args.fill_stories and not Story.objects.exists():
        print("filling synthetic stories (bench/fill_stories.py):", file=sys.stderr)
        from bench.fill_stories import fill

        fill(log=lambda line: print(line, file=sys.stderr, flush=True))
        filled = True
    stories = Story.objects.count()
    members = StoryMembership.objects.count()
    load_before = os.getloadavg()
    rss_start = peak_rss_hwm(os.getpid()) or 0
    tag = Tag.objects.active().order_by("-article_count").first()
    base = reverse("tag", args=[tag.slug])
    deep = max(2, min(args.deep_page, -(-tag.story_count // settings.NEWSDESK_PAGE_SIZE)))
    client = Client()
    cache.clear()
    began = time.perf_counter()
    html = client.get(base, {"page": deep - 1}).content.decode()
    anchors_cold_ms = (time.perf_counter() - began) * MS
    reader_link = _OLDER.search(html).group(1).replace("&amp;", "&")
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM articles_article")
        low, high = cursor.fetchone()
    rng = random.Random(args.seed)
    article_ids = [rng.randint(low, high) for _ in range(args.requests + args.warmup + 1)]
    visible = set(Article.objects.visible().filter(pk__in=article_ids).values_list("pk", flat=True))
    article_ids = [pk for pk in article_ids if pk in visible]
    common, common_share, middling, middling_share = (
        (args.word, 0.0, args.word, 0.0) if args.word or args.topic_only else search_words()
    )
    search = reverse("search")

    def article_url(i: int) -> str:
        return reverse("article", args=[article_ids[i % len(article_ids)]])

    page, found = TARGET_PAGE_MS, TARGET_SEARCH_MS
    plan: list[tuple[Figure, Callable[[int], str]]] = [
        (
            Figure(
                f"topic page 1 ({tag.slug}, {tag.article_count:,} in {tag.story_count:,} stories)",
                page,
            ),
            lambda i: base,
        ),
        (Figure(f"topic page {deep}, reader's link (cursor)", page), lambda i: reader_link),
        (Figure(f"topic page {deep}, bare ?page={deep}", page), lambda i: f"{base}?page={deep}"),
    ]
    if not args.topic_only:
        plan += [
            (Figure("topic index (all topics)", page), lambda i: reverse("tag_index")),
            (Figure("article page (random articles)", page), article_url),
            (
                Figure(f"search, common word {common!r} ({matches(common):,} matches)", found),
                lambda i: f"{search}?q={common}",
            ),
            (
                Figure(
                    f"search, middling word {middling!r} ({matches(middling):,} matches)", found
                ),
                lambda i: f"{search}?q={middling}",
            ),
        ]
    figures = []
    for figure, urls in plan:
        figures.append(measure(figure, urls, args.requests, args.warmup))
        print(f"  measured {figure.name}", file=sys.stderr, flush=True)
    # Page 1 with stories and without, in turn (the first figure above is measured again).
    figures.extend(
        measure_pair(
            Figure(f"{plan[0][0].name}, beside no stories", page),
            Figure("topic page 1, no stories (every link an entry)", page),
            base,
            args.requests,
            args.warmup,
        )
    )
    # Topic pages above are served warm: a rendered page is kept under its ETag. These are
    # rendered on every request, as after any change to the topic.
    from tags import views as tag_views

    tag_views.TAG_PAGE_CACHE_SECONDS = 0
    cache.clear()
    for figure, urls in plan[:2]:
        figure = Figure(f"{figure.name}, rendered each time", figure.target_ms)
        figures.append(measure(figure, urls, args.requests, args.warmup))
        print(f"  measured {figure.name}", file=sys.stderr, flush=True)
    figures.extend(
        measure_pair(
            Figure(f"{plan[0][0].name}, beside no stories, rendered each time", page),
            Figure("topic page 1, no stories, rendered each time", page),
            base,
            args.requests,
            args.warmup,
        )
    )
    if filled and not args.keep_stories:
        print("removing the synthetic stories:", file=sys.stderr)
        from bench.fill_stories import clear

        clear(log=lambda line: print(line, file=sys.stderr, flush=True))
    return {
        "database": args.database,
        "synthetic_stories": filled,
        "stories": stories,
        "story_members": members,
        "requests": args.requests,
        "warmup": args.warmup,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "cache": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1],
        "anchors_cold_first_request_ms": round(anchors_cold_ms, 1),
        "common_word_sample_share": round(common_share, 3),
        "middling_word_sample_share": round(middling_share, 4),
        "peak_rss_mb_at_start": round(rss_start / 2**20, 1),
        "peak_rss_mb": round((peak_rss_hwm(os.getpid()) or 0) / 2**20, 1),
        "figures": [{**asdict(f), "passed": f.passed} for f in figures],
    }


def report(result: dict[str, object]) -> None:
    print(f"database {result['database']}: {result['requests']} requests per page after "
          f"{result['warmup']} warm-up; cache {result['cache']}")  # fmt: skip
    print(
        f"load average before {result['load_average_before']}, after {result['load_average_after']}"
    )
    synthetic = " (synthetic: bench/fill_stories.py)" if result["synthetic_stories"] else ""
    print(f"stories: {result['stories']:,} holding {result['story_members']:,} articles{synthetic}")
    figures = result["figures"]
    folded = [f for f in figures if "beside no stories" in f["name"]]
    plain = [f for f in figures if f["name"].startswith("topic page 1, no stories")]
    for mode, with_stories, without in zip(("cached", "rendered"), folded, plain, strict=True):
        ratio = with_stories["p95_ms"] / without["p95_ms"]
        print(
            f"topic page 1, {mode}: p95 {with_stories['p95_ms']:.1f} ms with stories, "
            f"{without['p95_ms']:.1f} ms without: {ratio:.2f}x"
        )
    print()
    print(f"{'page':<62} {'p50':>7} {'p95':>7} {'max':>7} {'SQL':>4} {'target':>7}  result")
    for f in result["figures"]:
        verdict = "PASS" if f["passed"] else "FAIL"
        print(
            f"{f['name']:<62} {f['p50_ms']:7.1f} {f['p95_ms']:7.1f} {f['max_ms']:7.1f} "
            f"{f['queries']:>4} {f['target_ms']:7.0f}  {verdict}"
        )
    print(f"\nfirst bare deep page after a cache clear (anchors built): "
          f"{result['anchors_cold_first_request_ms']} ms")  # fmt: skip
    print(f"peak RSS of this process: {result['peak_rss_mb']} MB "
          f"(after django.setup(): {result['peak_rss_mb_at_start']} MB)")  # fmt: skip
    for f in result["figures"]:
        print(
            f"\n--- {f['name']}: slowest query ({f['main_query_ms']:.1f} ms) of {f['example_url']}"
        )
        print(f"    {f['main_query'][:600]}")
        for line in f["plan"]:
            print(f"    {line}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="newsdesk_scale")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--deep-page", type=int, default=DEEP_PAGE)
    parser.add_argument("--word", default="", help="search this word instead of picking two")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--fill-stories",
        action="store_true",
        help="when the database has no stories, fill synthetic ones first (writes to it; "
        "they are removed after measuring unless --keep-stories)",
    )
    parser.add_argument("--keep-stories", action="store_true")
    parser.add_argument(
        "--topic-only", action="store_true", help="only the topic pages (with and without stories)"
    )
    args = parser.parse_args(argv)
    result = run(args)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        report(result)
    failed = [f["name"] for f in result["figures"] if not f["passed"]]
    if failed:
        print(f"\nFAIL: {', '.join(failed)}", file=sys.stderr)


if __name__ == "__main__":
    main()
