"""Fill a PostgreSQL database with a realistic newsroom at scale, fast, for the page benchmarks.

    uv run python bench/generate.py --database newsdesk_scale \
        [--articles 1000000 --feeds 5000 --tags 1000 --seed 1]

Drops and recreates the database, migrates it, then loads sources, feeds, topics (with aliases),
articles with titles, summaries and 400-800 words of prose, their feed entries and about three
topic links each, spread like Zipf so the biggest topic holds a fifth or more of all articles.
Articles and links are written with COPY by two processes at once (PostgreSQL computes each
article's search vector as it stores it, the slowest part), with secondary indexes and
constraints dropped during the load and rebuilt afterwards. Then exact topic counts, VACUUM
ANALYZE (index-only scans need the visibility map). Prints each phase's time and the total.

Prose comes from a pool of sentences built once from a ranked vocabulary (real news words
first, invented ones for the long tail), so each article costs a few list picks, not a random
call per word. The database is left in place for bench/pages.py and HTTP load tests.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import multiprocessing
import os
import random
import re
import sys
import time
from bisect import bisect
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import json  # noqa: E402
import subprocess  # noqa: E402

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from bench.common import ADMIN_DATABASE_URL, database_url, migrate, project_env  # noqa: E402

WORKERS = 2
MASTHEADS = ("Times", "Post", "Wire", "Ledger", "Herald", "Review", "Daily")
SPAN = timedelta(days=3 * 365)
TAG_ZIPF = 0.85
SENTENCE_POOL = 40_000
BIG_TABLES = ("articles_article", "articles_articlefeed", "tags_articletag")
COPY_BUFFER = 4 * 1024 * 1024

# Ranked by how often news prose uses them: the head of the Zipf curve.
_NEWS_WORDS = """
said year government market people company new percent million state minister officials
report week billion price prices country trade first time last would could sector policy
group industry export exports supply demand production plant energy companies economy
growth public national international foreign security power since months data investors
analysts chief executive tariff tariffs region local court deal agreement talks plan plans
production output shipments costs rate rates bank central budget tax rules law council
election vote party leader union workers jobs labour factory factories mining mine mines
metals metal steel copper lithium cobalt nickel rare earths magnets battery batteries chips
semiconductor semiconductors technology digital network networks software data platform users
climate emissions carbon coal gas oil wind solar grid electricity water drought harvest
farmers food crop crops port ports shipping freight rail container containers logistics
inflation interest currency dollar euro yuan debt bonds shares stocks profit revenue losses
quarter forecast outlook survey index manufacturing services retail consumer consumers sales
housing construction infrastructure project projects investment funding capital fund funds
health hospital hospitals patients doctors vaccine research university scientists study
school schools students teachers education police crime prison justice judge ruling appeal
military defence army navy border migrants refugees aid crisis conflict ceasefire sanctions
controls licence licences permit permits review inquiry investigation probe regulator
regulators standard standards safety risk risks warning warned expected announced reported
according statement spokesman spokeswoman interview conference summit meeting visit partners
partnership alliance cooperation dispute concerns pressure support opposition critics
protest protests strike strikes wages pension reform reforms agency ministry department
commission parliament senate congress president premier governor mayor city cities capital
province provinces village rural urban coast island river mountain weather storm flood fire
"""
NEWS_WORDS = _NEWS_WORDS.split()
_FUNCTION_WORDS = "the of and to in a that for on with as by at from it its has was is"
FUNCTION_WORDS = _FUNCTION_WORDS.split()
_SYLLABLES = (
    "ka ri to mel san dor vek lun par bri sto nal ter gon fi ra mo zen tal cor "
    "pel vin as ul om er ti na lo qua hes bar dim fen gru hol jas kor lem nor"
)
SYLLABLES = _SYLLABLES.split()
_FIRST_NAMES = "Ada Ben Chen Dara Eli Farah Goran Hana Ivo Jun Kemal Lena Mira Nils Omar"
FIRST_NAMES = _FIRST_NAMES.split()
_LAST_NAMES = "Abbott Brandt Costa Duarte Eriksen Fischer Gupta Haddad Ito Jensen Kowalski"
LAST_NAMES = _LAST_NAMES.split()


@dataclass(frozen=True)
class Settings:
    url: str
    articles: int
    feeds: int
    tags: int
    seed: int


# --- Text -----------------------------------------------------------------------------------------


def vocabulary(seed: int, size: int = 15_000) -> list[str]:
    """Real news words first, then invented words for the long tail, all distinct."""
    rng = random.Random(seed)
    words = list(dict.fromkeys(NEWS_WORDS))
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choices(SYLLABLES, k=rng.choice((2, 3, 3, 4))))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def zipf_weights(n: int, exponent: float) -> list[float]:
    return list(itertools.accumulate(1 / (rank**exponent) for rank in range(1, n + 1)))


class Prose:
    """Sentences, titles and summaries drawn from one Zipf-ranked vocabulary."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.words = vocabulary(seed)
        self.cum = zipf_weights(len(self.words), 1.0)
        self.sentences = [self._sentence() for _ in range(SENTENCE_POOL)]
        self.short = [s for s in self.sentences if len(s) < 140]

    def _sentence(self) -> str:
        rng = self.rng
        picked = rng.choices(self.words, cum_weights=self.cum, k=rng.randint(6, 14))
        out: list[str] = []
        for word in picked:
            out.append(word)
            if rng.random() < 0.45:
                out.append(rng.choice(FUNCTION_WORDS))
        return out[0].capitalize() + " " + " ".join(out[1:]) + "."

    def title(self, rng: random.Random) -> str:
        words = rng.choices(self.words, cum_weights=self.cum, k=rng.randint(8, 12))
        return words[0].capitalize() + " " + " ".join(words[1:])

    def summary(self, rng: random.Random) -> str:
        parts = rng.sample(self.short, 3)
        out = parts[0]
        for part in parts[1:]:
            if len(out) >= 200:
                break
            out += " " + part
        return out

    def text(self, rng: random.Random) -> tuple[str, int]:
        """Paragraphs joined by COPY's escaped blank line, and the word count."""
        chosen = rng.choices(self.sentences, k=rng.randint(28, 50))
        paragraphs = [" ".join(chosen[i : i + 5]) for i in range(0, len(chosen), 5)]
        body = "\\n\\n".join(paragraphs)
        return body, body.count(" ") + 1


# --- COPY helpers ---------------------------------------------------------------------------------


def stamp(moment: datetime) -> str:
    return moment.isoformat()


def copy_rows(
    conn: psycopg.Connection, table: str, columns: Sequence[str], rows: Iterator[str]
) -> int:
    """COPY tab-separated lines (already escaped) into `table`, in large writes."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    count = 0
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        buffer: list[str] = []
        size = 0
        for line in rows:
            buffer.append(line)
            size += len(line)
            count += 1
            if size >= COPY_BUFFER:
                copy.write("".join(buffer))
                buffer, size = [], 0
        if buffer:
            copy.write("".join(buffer))
    return count


def fast_session(conn: psycopg.Connection) -> None:
    conn.execute("SET synchronous_commit = off")
    conn.execute("SET maintenance_work_mem = '1GB'")


# --- Small tables ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalogue:
    feed_ids: list[int]
    feed_sources: dict[int, tuple[int, str, str]]  # feed id -> source id, name, domain
    tag_ids: list[int]


def load_catalogue(conn: psycopg.Connection, cfg: Settings, prose: Prose) -> Catalogue:
    rng = random.Random(cfg.seed + 7)
    now = datetime.now(UTC)
    sources = max(1, cfg.feeds // 2)
    source_rows = []
    for i in range(1, sources + 1):
        word = prose.words[rng.randrange(200, 4000)].capitalize()
        name = f"{word} {rng.choice(MASTHEADS)} {i}"
        source_rows.append(
            f"{i}\t{name}\tsource{i}.example\thttps://source{i}.example/\t{stamp(now)}\n"
        )
    copy_rows(
        conn, "articles_source", ("id", "name", "domain", "url", "created_at"), iter(source_rows)
    )
    feed_rows = []
    feed_sources = {}
    for i in range(1, cfg.feeds + 1):
        source = (i - 1) % sources + 1
        domain = f"source{source}.example"
        url = f"https://{domain}/feeds/{i}.xml"
        next_poll = stamp(now + timedelta(seconds=rng.randrange(3600)))
        feed_rows.append(
            f"{i}\t{url}\tFeed {i}\thttps://{domain}/\tt\t\t\t3600\t{stamp(now)}\t{stamp(now)}"
            f"\t{next_poll}\t0\tok\t200\t\t\t{stamp(now - SPAN)}\t{source}\n"
        )
        feed_sources[i] = (source, source_rows[source - 1].split("\t")[1], domain)
    copy_rows(
        conn,
        "articles_feed",
        (
            "id", "url", "title", "site_url", "is_active", "etag", "last_modified",
            "poll_interval", "last_polled_at", "last_success_at", "next_poll_at",
            "consecutive_failures", "last_status", "last_http_status", "last_error",
            "disabled_reason", "created_at", "source_id",
        ),
        iter(feed_rows),
    )  # fmt: skip
    existing = conn.execute("SELECT count(*), coalesce(max(id), 0) FROM tags_tag").fetchone()
    wanted = max(0, cfg.tags - existing[0])
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < wanted:
        a, b = rng.sample(prose.words[:250], 2)
        name = f"{a.capitalize()} {b}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    tag_rows, alias_rows = [], []
    for offset, name in enumerate(names, start=1):
        pk = existing[1] + offset
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") + f"-{pk}"
        tag_rows.append(
            f"{pk}\t{name}\t{slug}\tLatest news and articles about {name}\tt\tf\t1\t0"
            f"\t{stamp(now - SPAN)}\t{stamp(now - SPAN)}\n"
        )
        for phrase in {name.lower(), name.split()[0].lower()}:
            alias_rows.append(f"{phrase}\tf\t{pk}\n")
    copy_rows(
        conn,
        "tags_tag",
        ("id", "name", "slug", "description", "is_active", "title_and_summary_only",
         "min_score", "article_count", "created_at", "rules_changed_at"),
        iter(tag_rows),
    )  # fmt: skip
    copy_rows(
        conn,
        "tags_alias",
        ("phrase", "case_sensitive", "tag_id"),
        iter(alias_rows),
    )
    tag_ids = [pk for (pk,) in conn.execute("SELECT id FROM tags_tag ORDER BY id DESC")]
    # The newest (generated) tags take the head of the Zipf curve; starter topics the tail.
    return Catalogue(list(feed_sources), feed_sources, tag_ids)


# --- Articles and links, in parallel --------------------------------------------------------------

ARTICLE_COLUMNS = (
    "id", "url", "guid", "title", "author", "site_name", "published_at", "first_seen_at",
    "summary", "summary_source", "editor_summary", "text", "language", "word_count",
    "image_url", "categories", "keywords", "content_hash", "status", "error",
    "fetch_attempts", "fetched_at", "is_hidden", "updated_at", "source_id", "tagged_at",
)  # fmt: skip
FEED_ENTRY_COLUMNS = (
    "article_id", "feed_id", "guid", "entry_title", "entry_summary", "entry_published",
    "categories", "first_seen_at",
)  # fmt: skip
LINK_COLUMNS = (
    "article_id", "tag_id", "origin", "score", "terms", "published_at", "is_visible",
    "created_at",
)  # fmt: skip


@dataclass(frozen=True)
class Slice:
    first: int  # article ids first..last inclusive, oldest first
    last: int
    worker: int


def published(cfg: Settings, pk: int, start: datetime, rng: random.Random) -> datetime:
    step = SPAN.total_seconds() / cfg.articles
    return start + timedelta(seconds=(pk - 1) * step + rng.random() * step)


def load_slice(cfg: Settings, part: Slice, catalogue: Catalogue) -> dict[str, float]:
    """One worker's share: its articles, then their feed entries and topic links."""
    prose = Prose(cfg.seed)
    rng = random.Random(cfg.seed * 1000 + part.worker)
    start = datetime.now(UTC).replace(microsecond=0) - SPAN
    feed_cum = zipf_weights(len(catalogue.feed_ids), 0.6)
    tag_cum = zipf_weights(len(catalogue.tag_ids), TAG_ZIPF)
    plans: list[tuple[int, datetime, list[int], str]] = []
    timings: dict[str, float] = {}

    def articles() -> Iterator[str]:
        for pk in range(part.first, part.last + 1):
            when = published(cfg, pk, start, rng)
            feeds = rng.choices(catalogue.feed_ids, cum_weights=feed_cum, k=2)
            feeds = feeds[:1] if rng.random() > 0.1 or feeds[0] == feeds[1] else feeds
            source, site, domain = catalogue.feed_sources[feeds[0]]
            title = prose.title(rng)
            text, words = prose.text(rng)
            url = f"https://{domain}/{when:%Y/%m}/{'-'.join(title.lower().split()[:6])}-{pk}"
            plans.append((pk, when, feeds, title))
            digest = hashlib.blake2b(text.encode(), digest_size=32).hexdigest()
            seen = stamp(when + timedelta(minutes=rng.randrange(5, 90)))
            author = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
            yield (
                f"{pk}\t{url}\t{url}\t{title}\t{author}\t{site}\t{stamp(when)}\t{seen}"
                f"\t{prose.summary(rng)}\tfeed\t\t{text}\ten\t{words}\t\t[]\t[]\t{digest}"
                f"\tok\t\t1\t{seen}\tf\t{seen}\t{source}\t{seen}\n"
            )

    def entries() -> Iterator[str]:
        for pk, when, feeds, title in plans:
            for feed in feeds:
                yield (
                    f"{pk}\t{feed}\thttps://feed{feed}.example/item/{pk}\t{title}\t"
                    f"\t{stamp(when)}\t[]\t{stamp(when)}\n"
                )

    def links() -> Iterator[str]:
        tags = catalogue.tag_ids
        total = tag_cum[-1]
        for pk, when, _feeds, _title in plans:
            wanted = rng.choice((2, 3, 4))
            picked: set[int] = set()
            while len(picked) < wanted:
                picked.add(tags[bisect(tag_cum, rng.random() * total)])
            moment = stamp(when)
            for tag in picked:
                yield f"{pk}\t{tag}\trule\t3\t{{}}\t{moment}\tt\t{moment}\n"

    with psycopg.connect(cfg.url) as conn:
        fast_session(conn)
        for name, table, columns, rows in (
            ("articles", "articles_article", ARTICLE_COLUMNS, articles),
            ("feed entries", "articles_articlefeed", FEED_ENTRY_COLUMNS, entries),
            ("topic links", "tags_articletag", LINK_COLUMNS, links),
        ):
            began = time.perf_counter()
            count = copy_rows(conn, table, columns, rows())
            conn.commit()
            timings[f"{name} ({count:,} rows)"] = time.perf_counter() - began
    return timings


def _load_slice_star(args: tuple[Settings, Slice, Catalogue]) -> dict[str, float]:
    return load_slice(*args)


def slices(articles: int, workers: int) -> list[Slice]:
    bounds = [round(articles * i / workers) for i in range(workers + 1)]
    return [
        Slice(bounds[i] + 1, bounds[i + 1], i) for i in range(workers) if bounds[i + 1] > bounds[i]
    ]


# --- Indexes and constraints ----------------------------------------------------------------------


@dataclass(frozen=True)
class Deferred:
    """Secondary indexes and constraints of the big tables, dropped for the load."""

    constraints: list[tuple[str, str, str]]  # table, name, definition
    indexes: list[str]  # CREATE INDEX statements


def drop_secondary(conn: psycopg.Connection) -> Deferred:
    constraints = conn.execute(
        """
        SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid)
        FROM pg_constraint c
        WHERE c.conrelid::regclass::text = ANY(%s) AND c.contype IN ('u', 'f')
        ORDER BY c.contype DESC
        """,
        (list(BIG_TABLES),),
    ).fetchall()
    indexes = [
        definition
        for (definition,) in conn.execute(
            """
            SELECT pg_get_indexdef(i.indexrelid)
            FROM pg_index i
            WHERE i.indrelid::regclass::text = ANY(%s) AND NOT i.indisprimary
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
            """,
            (list(BIG_TABLES),),
        )
    ]
    for table, name, _ in constraints:
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                sql.Identifier(table), sql.Identifier(name)
            )
        )
    for definition in indexes:
        name = definition.split(" INDEX ", 1)[1].split(" ON ", 1)[0]
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    conn.commit()
    return Deferred(constraints, indexes)


def restore_secondary(url: str, deferred: Deferred) -> dict[str, float]:
    """Rebuild indexes two at a time, slowest (GIN) first, then the constraints."""
    statements = sorted(deferred.indexes, key=lambda d: ("USING gin" not in d, "article " in d))
    # A unique constraint is added over an index built beforehand, so that building it shares
    # the table with the other index builds instead of waiting for an exclusive lock.
    unique, attach, foreign = [], [], []
    for table, name, definition in deferred.constraints:
        if definition.startswith("UNIQUE "):
            unique.append(f'CREATE UNIQUE INDEX "{name}" ON {table} {definition[7:]}')
            attach.append(
                f'ALTER TABLE {table} ADD CONSTRAINT "{name}" UNIQUE USING INDEX "{name}"'
            )
        else:
            foreign.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')

    def run(statement: str) -> tuple[str, float]:
        began = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as conn:
            fast_session(conn)
            conn.execute(statement)
        label = re.sub(r"\s+", " ", statement)[:90]
        return label, time.perf_counter() - began

    timings: dict[str, float] = {}
    with ThreadPoolExecutor(WORKERS) as pool:
        for batch in (statements + unique, attach, foreign):
            for label, seconds in pool.map(run, batch):
                timings[label] = seconds
    return timings


# --- Driver ---------------------------------------------------------------------------------------


def recreate_database(name: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise SystemExit(f"not a plain database name: {name!r}")
    with psycopg.connect(ADMIN_DATABASE_URL, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_url(name)


class Clock:
    def __init__(self) -> None:
        self.began = time.perf_counter()
        self.phases: list[tuple[str, float]] = []

    def phase(self, label: str, work: Callable[[], object]) -> object:
        began = time.perf_counter()
        result = work()
        seconds = time.perf_counter() - began
        self.phases.append((label, seconds))
        print(f"  {label:<58} {seconds:8.1f} s", flush=True)
        return result

    @property
    def total(self) -> float:
        return time.perf_counter() - self.began


def finish(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("articles_source", "articles_feed", "tags_tag", "tags_alias", *BIG_TABLES):
            conn.execute(
                sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({t}, 'id'), "
                    "(SELECT coalesce(max(id), 1) FROM {i}))"
                ).format(t=sql.Literal(table), i=sql.Identifier(table))
            )


def recount(url: str) -> None:
    # No stories yet (bench/fill_stories.py adds some): every visible link is its own entry.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            UPDATE tags_tag SET article_count = coalesce(c.n, 0), story_count = coalesce(c.n, 0)
            FROM tags_tag t LEFT JOIN (
                SELECT tag_id, count(*) AS n FROM tags_articletag WHERE is_visible GROUP BY tag_id
            ) c ON c.tag_id = t.id
            WHERE tags_tag.id = t.id
            """
        )


def vacuum(url: str) -> None:
    def one(table: str) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            fast_session(conn)
            conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(sql.Identifier(table)))

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(one, [*BIG_TABLES, "tags_tag", "articles_feed", "articles_source"]))


def summary(url: str) -> None:
    with psycopg.connect(url) as conn:
        counts = {
            table: conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            ).fetchone()[0]
            for table in ("articles_source", "articles_feed", "tags_tag", *BIG_TABLES)
        }
        biggest = conn.execute(
            "SELECT slug, article_count FROM tags_tag ORDER BY article_count DESC LIMIT 3"
        ).fetchall()
        size = conn.execute(
            "SELECT pg_size_pretty(pg_database_size(current_database()))"
        ).fetchone()[0]
        text = conn.execute(
            "SELECT avg(length(text))::int, avg(length(summary))::int, avg(word_count)::int "
            "FROM articles_article TABLESAMPLE SYSTEM (1)"
        ).fetchone()
    for table, n in counts.items():
        print(f"  {table:<24} {n:>12,}")
    print(f"  biggest topics: {', '.join(f'{s} ({n:,})' for s, n in biggest)}")
    print(f"  text {text[0]} chars / {text[2]} words on average, summary {text[1]} chars")
    print(f"  database size: {size}")


# Columns added after the loader was written have Django-side defaults only; COPY names the
# columns it knows, so the others borrow their model default as a database default for the load.
_MODEL_DEFAULTS = """
import json, django
django.setup()
from django.apps import apps
from django.db.models import NOT_PROVIDED
from django.utils import timezone
out = []
for model in apps.get_models():
    for field in model._meta.concrete_fields:
        if field.null or field.primary_key or field.db_default is not NOT_PROVIDED:
            continue
        if field.default is timezone.now:
            out.append([model._meta.db_table, field.column, None])
            continue
        value = field.get_default()  # "" for text fields without a default
        if not isinstance(value, (str, int, float, dict, list)):
            continue
        if isinstance(value, (dict, list)):
            value = json.dumps(value)
        out.append([model._meta.db_table, field.column, value])
print(json.dumps(out))
"""


def borrow_model_defaults(conn: psycopg.Connection, env: dict[str, str]) -> list[sql.Composable]:
    """Give every NOT NULL column without a database default its model's default; returns the
    statements that take them away again after the load."""
    done = subprocess.run(
        [sys.executable, "-c", _MODEL_DEFAULTS], env={**env, "DJANGO_SETTINGS_MODULE":
        "newsdesk.settings"}, cwd=ROOT, capture_output=True, text=True, check=True
    )  # fmt: skip
    undo = []
    for table, column, value in json.loads(done.stdout):
        current = conn.execute(
            "SELECT column_default FROM information_schema.columns"
            " WHERE table_name = %s AND column_name = %s",
            (table, column),
        ).fetchone()
        if current is None or current[0] is not None:
            continue
        default = sql.SQL("now()") if value is None else sql.Literal(value)
        target = sql.SQL("ALTER TABLE {} ALTER COLUMN {} ").format(
            sql.Identifier(table), sql.Identifier(column)
        )
        conn.execute(target + sql.SQL("SET DEFAULT ") + default)
        undo.append(target + sql.SQL("DROP DEFAULT"))
    return undo


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="newsdesk_scale")
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--feeds", type=int, default=5_000)
    parser.add_argument("--tags", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    print(f"load average before: {os.getloadavg()}", flush=True)
    clock = Clock()
    url = clock.phase("create database", lambda: recreate_database(args.database))
    cfg = Settings(url, args.articles, args.feeds, args.tags, args.seed)
    clock.phase("migrate", lambda: migrate(project_env(url)))
    prose = clock.phase("sentence pool and vocabulary", lambda: Prose(cfg.seed))
    with psycopg.connect(url) as conn:
        undo_defaults = borrow_model_defaults(conn, project_env(url))
        conn.commit()
        fast_session(conn)
        catalogue = clock.phase(
            "sources, feeds, topics, aliases", lambda: load_catalogue(conn, cfg, prose)
        )
        conn.commit()
        deferred = clock.phase(
            "drop secondary indexes and constraints", lambda: drop_secondary(conn)
        )
    parts = slices(cfg.articles, WORKERS)
    with multiprocessing.get_context("fork").Pool(len(parts)) as pool:
        results = clock.phase(
            f"articles, entries, links ({len(parts)} COPY streams)",
            lambda: pool.map(_load_slice_star, [(cfg, part, catalogue) for part in parts]),
        )
    for worker, timings in enumerate(results):
        for label, seconds in timings.items():
            print(f"    worker {worker}: {label:<40} {seconds:8.1f} s")
    clock.phase("sequences", lambda: finish(url))
    with psycopg.connect(url) as conn:
        for statement in undo_defaults:
            conn.execute(statement)
    index_times = clock.phase(
        "rebuild indexes and constraints", lambda: restore_secondary(url, deferred)
    )
    for label, seconds in sorted(index_times.items(), key=lambda kv: -kv[1])[:8]:
        print(f"    {seconds:7.1f} s  {label}")
    clock.phase("exact topic counts (one UPDATE … FROM)", lambda: recount(url))
    clock.phase("VACUUM ANALYZE", lambda: vacuum(url))
    summary(url)
    print(
        f"total: {clock.total:.1f} s ({clock.total / 60:.1f} min); load average {os.getloadavg()}"
    )
    print(f"DATABASE_URL={url}")


if __name__ == "__main__":
    main()
