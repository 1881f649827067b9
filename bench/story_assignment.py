"""Story assignment in the database: articles/s on one process at several archive sizes, against
the in-memory clusterer on the same articles in the same run.

    uv run python bench/story_assignment.py [--database newsdesk_scale] \
        [--marks 10000,100000,1000000] [--sample 2000] [--batch 500] [--texts reuters] \
        [--reset-stories]

At each mark M (articles in published order) the run
1. gives every article published more than the story window before article M a story of its own,
   in bulk SQL, unless it has one (the archive: memberships and stories, as many rows as an
   assigned archive has; the clusterer's state for those stories would have been pruned),
2. places the articles of the window before M through the real path, untimed, so the live
   stories are there: ``stories.assignment.drain``, the verb the drain task calls, replaying the
   moment of article M (``now``: the articles changed by then have arrived),
3. times ``drain`` over the next ``--sample`` articles (the moment of article M + sample), in
   batches of ``--batch`` as a worker's drain takes them, each batch one transaction under the
   assignment lock, its announcement (``story_changed``: the topic pages' fold and validators)
   included, as it runs in the worker after the commit,
4. times the pure clusterer with its in-memory store over the same articles in the same order.
Beat's prune runs every 2,000 articles as it would every hour. Applies the stories and tags
migrations to the database (never drops it) and leaves the story tables filled for the page
benchmarks. Each mark prints where the sample's time went (see ``Timer``) and its statements.

``--texts reuters`` times the same path with real news prose: each article, in published order,
is read by assignment with the title and body of a Reuters-21578 story (``../shared``, in date
order, cycled), instead of the generator's sentence-pool prose, which makes every article share
rare words with hundreds of others, so that one story takes nearly all of a window (the run
prints the biggest stories). The articles' rows, links and dates are the database's; only the
words assignment reads are swapped, in memory. ``--reset-stories`` first removes every story
row (and the fold's marks on the links) a previous run left, so a second run can place the same
articles again.

At the end the run prints a digest of every decision the real path made in it (warm-up and
samples): SHA-256 over (article, its story named by the story's smallest article id, the exact
score, the near-duplicate original), in article order. Two runs of different code from the same
``--reset-stories`` start decide identically if and only if (but for a collision) the digests
match.

The bulk singletons' topic links are not given their story (``ArticleTag.story``,
which the fold keeps): that would rewrite every link of the archive, and a singleton folds the
same either way.
"""

from __future__ import annotations

import argparse
import bisect
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import database_url  # noqa: E402

BULK = 50_000
REUTERS = (
    Path(__file__).resolve().parents[2]
    / "shared/corpus/labelled-news/reuters21578-modapte-train.jsonl"
)


def configure(database: str) -> None:
    os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL") or database_url(database)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsdesk.settings")
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("SECRET_KEY", "bench-only")
    import django

    django.setup()
    from django.core.management import call_command

    # The stories tables, and the fold's column on the topic links (tags.folding).
    for app in ("stories", "tags"):
        call_command("migrate", app, verbosity=0)


def use_reuters_texts(ids: list[int], path: Path = REUTERS) -> int:
    """Make assignment read Reuters prose for each article (see the module's doc): the i-th
    article in published order gets the i-th story by date, cycling. Returns the stories'
    count."""
    import json

    from stories import assignment
    from stories.clustering import StoryItem

    stories = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            body = " ".join(row["body"].split())
            if len(body) > 200:  # leave out the placeholders ("Blah blah blah.")
                stories.append((row["date"], row["title"].capitalize(), body))
    stories.sort()
    position = {article_id: i for i, article_id in enumerate(ids)}

    def item_of(article) -> StoryItem:
        _, title, body = stories[position[article.pk] % len(stories)]
        return StoryItem(
            key=article.pk,
            title=title,
            published=article.published_at,
            summary=body.split(". ")[0][:300],
            text=body,
            source=str(article.source_id or ""),
            duplicate_of=article.duplicate_of_id,
        )

    assignment.item_of = item_of
    return len(stories)


def reset_stories() -> None:
    """Remove every story row and the fold's marks on the links, then recount the topics."""
    from django.db import connection, transaction

    from tags.linking import recount

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT tag_id FROM tags_articletag WHERE story_id IS NOT NULL "
            "OR (represents <> is_visible)"
        )
        touched = [row[0] for row in cursor.fetchall()]
        # An article in no story is its own entry on each topic it is visibly linked to.
        cursor.execute(
            "UPDATE tags_articletag SET story_id = NULL, represents = is_visible "
            "WHERE story_id IS NOT NULL OR represents <> is_visible"
        )
        links = cursor.rowcount
        for table in (
            "stories_storyband",
            "stories_storyterm",
            "stories_storycentroid",
            "stories_storystate",
            "stories_termfrequency",
            "stories_storymembership",
        ):
            cursor.execute(f"TRUNCATE {table}")
        cursor.execute("DELETE FROM stories_story")
        stories = cursor.rowcount
    fixed = recount(touched)
    print(f"reset: {stories:,} stories, {links:,} links' marks removed; {fixed} topics recounted")


def ordered_articles() -> tuple[list[int], list]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, published_at FROM articles_article "
            "WHERE status IN ('ok', 'duplicate') ORDER BY published_at, id"
        )
        rows = cursor.fetchall()
    return [r[0] for r in rows], [r[1] for r in rows]


def bulk_singletons(ids: list[int]) -> int:
    """One story per article not yet in one: what a fully assigned archive holds, in rows."""
    from django.db import connection, transaction

    made = 0
    for start in range(0, len(ids), BULK):
        part = ids[start : start + BULK]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                """
                WITH todo AS (
                    SELECT a.id, a.published_at, a.source_id FROM articles_article a
                    WHERE a.id = ANY(%s) AND NOT EXISTS (
                        SELECT 1 FROM stories_storymembership m WHERE m.article_id = a.id)
                ), made AS (
                    INSERT INTO stories_story (lead_id, article_count, source_count,
                        first_published_at, last_published_at, created_at, updated_at)
                    SELECT id, 1, (source_id IS NOT NULL)::int, published_at, published_at,
                        now(), now() FROM todo
                    RETURNING id, lead_id, first_published_at
                )
                INSERT INTO stories_storymembership (article_id, story_id, score, published_at,
                    source_id, joined_at)
                SELECT made.lead_id, made.id, 0, made.first_published_at, a.source_id, now()
                FROM made JOIN articles_article a ON a.id = made.lead_id
                """,
                [part],
            )
            made += cursor.rowcount
    return made


class Timer:
    """Where a drain's time goes: seconds spent inside some functions (a part called inside
    another, such as the reads the clusterer makes, counts in both), and the statements
    sent."""

    PARTS = (
        ("prepare", "stories.batchstore", "BatchStore.prepare"),
        ("flush", "stories.batchstore", "BatchStore.flush"),
        ("story reads", "stories.batchstore", "BatchStore._load"),
        ("centroid reads", "stories.batchstore", "BatchStore._read_whole"),
        ("centroid reads", "stories.batchstore", "BatchStore._read_rows"),
        ("band reads", "stories.batchstore", "BatchStore._read_bands"),
        ("band reads", "stories.batchstore", "BatchStore._read_memberships"),
        ("index reads", "stories.batchstore", "BatchStore._read_postings"),
        ("idf reads", "stories.dbstore", "Frequencies._read"),
        ("idf writes", "stories.dbstore", "Frequencies.flush"),
        ("clusterer", "stories.clustering", "StoryClusterer.add"),
        ("fold+validators", "tags.folding", "refold_moved"),
        ("lock", "stories.assignment", "lock"),
    )

    def __init__(self) -> None:
        import importlib

        self.seconds: dict[str, float] = {}
        self.statements = 0
        for label, module_name, path in self.PARTS:
            owner = importlib.import_module(module_name)
            *outer, name = path.split(".")
            for part in outer:
                owner = getattr(owner, part)
            original = owner.__dict__[name]
            if isinstance(original, staticmethod):
                setattr(owner, name, staticmethod(self._wrap(label, original.__func__)))
            else:
                setattr(owner, name, self._wrap(label, original))

    def _wrap(self, label, function):
        timer = self

        def timed(*args, **kwargs):
            if not timer.on:
                return function(*args, **kwargs)
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                timer.seconds[label] = timer.seconds.get(label, 0.0) + elapsed

        return timed

    on = False

    def count(self, execute, sql, params, many, context):
        if self.on:
            self.statements += 1
        return execute(sql, params, many, context)

    def report(self, total: float, articles: int) -> str:
        per = 1000 / max(articles, 1)
        parts = ", ".join(
            f"{label} {seconds * per:.2f}" for label, seconds in sorted(self.seconds.items())
        )
        return (
            f"  ms an article ({articles} articles, {total * per:.2f} ms each): {parts} "
            f"(nested parts count inside their callers too); statements "
            f"{self.statements / max(articles, 1):.2f} an article"
        )


def backend_cpu() -> float:
    """CPU seconds the database server's process for this connection has used (it runs on this
    machine): with the client's ``time.process_time``, an article's cost on one core whatever
    else the machine runs, where wall time on a loaded machine counts the waits for a core."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drain_until_done(now, batch: int, prune_every: int = 2000) -> tuple[list[int], float]:
    """``drain`` until nothing arrived by ``now`` waits; the articles in the order placed."""
    from django.utils import timezone

    from stories import assignment

    order: list[int] = []
    since_prune = 0
    start = time.perf_counter()
    while placed := assignment.drain(batch, now=now):
        order.extend(a.key for a in placed)
        since_prune += len(placed)
        if since_prune >= prune_every:
            assignment.prune(now=now, touched_before=timezone.now())
            since_prune = 0
    assignment.frequencies.flush()
    return order, time.perf_counter() - start


def decisions_digest(article_ids: list[int]) -> tuple[int, str]:
    """The digest of these articles' placements (see the module's doc) and how many there are.
    A story is named by its smallest member, not its id: ids come from a sequence that the runs
    being compared do not share."""
    import hashlib

    from django.db import connection

    digest = hashlib.sha256()
    with connection.cursor() as cursor:
        # Each story's smallest member by a scan of its members (story_id's index), not by
        # the primary key's order, which the planner may walk for min() over the whole table.
        cursor.execute(
            "WITH m AS (SELECT * FROM stories_storymembership WHERE article_id = ANY(%s)), "
            "s AS (SELECT x.story_id, min(x.article_id + 0) AS first "
            "FROM stories_storymembership x WHERE x.story_id IN (SELECT story_id FROM m) "
            "GROUP BY x.story_id) "
            "SELECT m.article_id, s.first, m.score, m.near_duplicate_of_id "
            "FROM m JOIN s ON s.story_id = m.story_id ORDER BY m.article_id",
            [sorted(article_ids)],
        )
        rows = cursor.fetchall()
    for article_id, story, score, original in rows:
        digest.update(f"{article_id} {story} {score!r} {original}\n".encode())
    return len(rows), digest.hexdigest()


def memory_rate(warm: list[int], sample: list[int]) -> tuple[float, float]:
    """The in-memory clusterer over the sample, warmed up on ``warm``: articles a second, and
    the CPU seconds it took."""
    from articles.models import Article
    from stories import assignment
    from stories.clustering import StoryClusterer, minhash_of, terms

    by_id = {a.pk: a for a in Article.objects.filter(pk__in=warm + sample)}
    clusterer = StoryClusterer(window=assignment.window())
    for article_id in warm:
        clusterer.add(assignment.item_of(by_id[article_id]))
    items = [assignment.item_of(by_id[article_id]) for article_id in sample]
    terms.cache_clear()
    minhash_of.cache_clear()
    start, cpu = time.perf_counter(), time.process_time()
    for item in items:
        clusterer.add(item)
    cpu = time.process_time() - cpu
    return len(items) / (time.perf_counter() - start), cpu


def round_trip(n: int = 2000) -> float:
    """Seconds for one ``SELECT 1``: what every query costs before it does anything."""
    from django.db import connection

    with connection.cursor() as cursor:
        start = time.perf_counter()
        for _ in range(n):
            cursor.execute("SELECT 1")
            cursor.fetchone()
    return (time.perf_counter() - start) / n


def lock_cost(n: int = 2000) -> float:
    """Seconds per transaction that takes the assignment lock, uncontended."""
    from django.db import transaction

    from stories.assignment import lock

    start = time.perf_counter()
    for _ in range(n):
        with transaction.atomic():
            lock()
    locked = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(n):
        with transaction.atomic():
            pass
    return (locked - (time.perf_counter() - start)) / n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="newsdesk_scale")
    parser.add_argument("--marks", default="10000,100000,1000000")
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument(
        "--batch", type=int, default=None, help="articles a drain places at once (default: BATCH)"
    )
    parser.add_argument(
        "--warm-days",
        type=float,
        default=None,
        help="days before each mark placed through the real path first (default: the window)",
    )
    parser.add_argument("--texts", choices=("database", "reuters"), default="database")
    parser.add_argument("--reset-stories", action="store_true")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    configure(args.database)
    from stories.assignment import BATCH, window
    from stories.clustering import minhash_of, terms
    from stories.models import Story, StoryMembership, StoryState

    args.batch = args.batch or BATCH

    if args.reset_stories:
        reset_stories()
    ids, published = ordered_articles()
    from django.db import connection

    name = connection.settings_dict["NAME"]
    print(f"{len(ids):,} extracted articles in {name}; window {window()}")
    if args.texts == "reuters":
        print(f"texts: {use_reuters_texts(ids):,} Reuters-21578 stories by date, cycled")
    else:
        print("texts: the database's own")
    print(
        f"one query round trip: {round_trip() * 1e6:.0f} µs; the assignment lock, uncontended: "
        f"{lock_cost() * 1e6:.0f} µs more per transaction"
    )
    print(
        f"{'archive':>10} {'bulk':>9} {'warm-up':>8} {'warm art/s':>10} {'live':>6} "
        f"{'db art/s':>9} {'memory art/s':>13} {'db/memory':>9} {'load':>6}"
    )
    timer = Timer()
    rows = []
    placed: list[int] = []
    for mark in (int(m) for m in args.marks.split(",")):
        if mark >= len(ids):
            print(f"{mark:>10,} skipped: the database has {len(ids):,} articles")
            continue
        warm_span = timedelta(days=args.warm_days) if args.warm_days is not None else window()
        first_live = bisect.bisect_left(published, published[mark] - warm_span)
        made = bulk_singletons(ids[:first_live])
        warm, warm_seconds = drain_until_done(published[mark], args.batch)
        last = min(mark + args.sample, len(ids) - 1)
        terms.cache_clear()
        minhash_of.cache_clear()
        timer.on, timer.seconds, timer.statements = True, {}, 0
        cpu = time.process_time(), backend_cpu()
        with connection.execute_wrapper(timer.count):
            sample, seconds = drain_until_done(published[last], args.batch)
        timer.on = False
        client, server = time.process_time() - cpu[0], backend_cpu() - cpu[1]
        db_rate = len(sample) / seconds if seconds else float("nan")
        mem_rate, memory_cpu_seconds = memory_rate(warm, sample)
        warm_rate = len(warm) / warm_seconds if warm else float("nan")
        live = StoryState.objects.count()
        print(
            f"{mark:>10,} {made:>9,} {len(warm):>8,} {warm_rate:>10.0f} {live:>6,} "
            f"{db_rate:>9.0f} {mem_rate:>13.0f} {db_rate / mem_rate:>9.2f} "
            f"{os.getloadavg()[0]:>6.1f}",
            flush=True,
        )
        print(timer.report(seconds, len(sample)), flush=True)
        per = 1000 / max(len(sample), 1)
        print(
            f"  CPU ms an article: {(client + server) * per:.2f} ({client * per:.2f} this "
            f"process, {server * per:.2f} its database server process), "
            f"{len(sample) / (client + server):.0f} articles per CPU second; the in-memory "
            f"clusterer {memory_cpu_seconds * per:.2f} (db/memory in CPU time "
            f"{memory_cpu_seconds / (client + server):.2f})",
            flush=True,
        )
        rows.append((mark, db_rate))
        placed.extend(warm + sample)
        biggest = list(StoryState.objects.order_by("-size").values_list("size", flat=True)[:5])
        print(f"  live stories' sizes, biggest: {biggest} of {len(warm) + len(sample):,} placed")
    print(
        f"\nstories {Story.objects.count():,}, memberships {StoryMembership.objects.count():,}; "
        f"load average after: {os.getloadavg()}"
    )
    count, digest = decisions_digest(placed)
    print(f"decisions digest over {count:,} placements: {digest}")
    if rows:
        low, high = min(r for _, r in rows), max(r for _, r in rows)
        verdict = "PASS" if low >= 500 else "BELOW AIM"
        print(f"{verdict}: {low:.0f}-{high:.0f} articles/s (aim >= 500, flat across sizes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
