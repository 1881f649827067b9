"""The story clusterer's state in the database: what lets every worker run the one pure
``StoryClusterer`` over a shared archive.

- Candidates come from ``StoryTerm`` (a live story under each of its rarest terms; primary key
  ``(term, story)``), joined to ``StoryState`` for the window: a few index lookups per article.
- Scoring reads ``StoryCentroid`` rows for the candidates and the item's own terms only.
- Near-duplicates: each member's MinHash is stored as its LSH band keys in ``StoryBand``
  (primary key ``(band, article)``), so a syndicated copy finds its original across workers.
- IDF: ``TermFrequency`` holds the document frequencies. Each process reads them through a cache
  and adds its own counts in batches (``Frequencies``): an upsert of ~100 rows per article would
  be most of the cost of an assignment and would make every worker queue on the rows of common
  words, while IDF moves slowly enough that a minute's lag changes no decision that matters.

All writes happen inside the caller's transaction, which holds the assignment lock
(stories.assignment): the store itself does no locking.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from django.db import connection
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from stories.clustering import Assignment, StoryItem
from stories.models import Story, StoryState

DOCUMENTS = ""  # the TermFrequency row that counts documents
# A member's raw weights added to its story's centroid, as arrays (PostgreSQL) or rows.
CENTROID_ARRAYS = (
    "INSERT INTO stories_storycentroid (story_id, term, weight) "
    "SELECT %s, unnest(%s::text[]), unnest(%s::float8[]) "
    "ON CONFLICT (story_id, term) DO UPDATE "
    "SET weight = stories_storycentroid.weight + excluded.weight"
)
CENTROID_ROWS = (
    "INSERT INTO stories_storycentroid (story_id, term, weight) VALUES (%s, %s, %s) "
    "ON CONFLICT (story_id, term) DO UPDATE "
    "SET weight = stories_storycentroid.weight + excluded.weight"
)

# A story's centroid rows for some terms. A small story's rows are read whole and filtered;
# a bigger one's are looked up term by term in the primary key (the LIMIT keeps the planner
# from turning the lookups into a scan of the story's rows: its estimate of a story's rows is
# the average story's, and a story of 3,000 members holds 35,000 rows: 30 ms against 3 ms).
PROBE_ABOVE_MEMBERS = 4
PARTIAL_CENTROIDS = (
    "SELECT s.story_id, s.norm, c.term, c.weight FROM stories_storystate s "
    "LEFT JOIN LATERAL ("
    "  SELECT c.term, c.weight FROM stories_storycentroid c WHERE s.size <= %s "
    "   AND c.story_id = s.story_id AND c.term = ANY(%s::text[]) "
    "  UNION ALL "
    "  SELECT t.term, w.weight FROM unnest(%s::text[]) t(term) CROSS JOIN LATERAL ("
    "    SELECT c.weight FROM stories_storycentroid c "
    "    WHERE c.story_id = s.story_id AND c.term = t.term LIMIT 1) w "
    "  WHERE s.size > %s"
    ") c ON true WHERE s.story_id = ANY(%s)"
)


def _on_postgres() -> bool:
    return connection.vendor == "postgresql"


def _list(values: Sequence) -> tuple[str, list]:
    """An ``IN (…)`` list that works on PostgreSQL and SQLite alike."""
    return ", ".join(["%s"] * len(values)), list(values)


def one_of(column: str, values: Sequence, sql_type: str) -> tuple[str, list]:
    """``column`` is one of ``values``: a WHERE clause and its parameters. On PostgreSQL one
    array parameter (a batch's thousands of values are not thousands of placeholders to
    parse), elsewhere an ``IN`` list."""
    if _on_postgres():
        array, param = array_of(values, sql_type)
        return f"{column} = ANY({array})", [param]
    marks, params = _list(values)
    return f"{column} IN ({marks})", params


# The types ``array_of`` can send as one string (a line feed between texts, a comma otherwise).
STRING_ARRAYS = frozenset({"text", "bigint", "integer", "float8", "timestamptz"})


def array_of(values: Iterable, sql_type: str) -> tuple[str, object]:
    """A PostgreSQL array of ``values`` as one parameter: the SQL for it and its value.

    psycopg dumps a list element by element in Python (0.3 s of a batch's 55,000 centroid
    terms and weights); one string of the values, which the server splits, costs a join (0.05
    s). Floats go as ``repr``, which PostgreSQL reads back to the same double. Values the
    string cannot carry (a NULL, a line feed in a text, a lone empty text, a time without a
    zone) go as a list."""
    values = list(values)
    if sql_type in STRING_ARRAYS and values and None not in values:
        if sql_type == "text":
            joined = "\n".join(values)
            if joined and joined.count("\n") == len(values) - 1:
                return "string_to_array(%s, E'\\n')", joined
        elif sql_type != "timestamptz" or all(v.tzinfo is not None for v in values):
            # A time as ISO 8601 with its offset, to the microsecond: the same instant.
            spell = datetime.isoformat if sql_type == "timestamptz" else repr
            return f"string_to_array(%s, ',')::{sql_type}[]", ",".join(map(spell, values))
    return f"%s::{sql_type}[]", values


class Frequencies:
    """Document frequencies for one process: read from ``TermFrequency`` on demand, cached, and
    written back in batches. Other workers' counts show up at the next refresh."""

    # A drain's batch is 500 articles: flushing every 2,000 writes each common term once for
    # four batches (the upsert is ~0.4 ms an article when written every batch).
    FLUSH_DOCUMENTS = 2000
    FLUSH_SECONDS = 30.0
    REFRESH_SECONDS = 300.0
    MAX_CACHED = 500_000

    def __init__(self) -> None:
        self._cache: dict[str, int] = {}
        self._docs: int | None = None
        self._pending: Counter[str] = Counter()
        self._pending_docs = 0
        self._loaded_at = time.monotonic()
        self._flushed_at = time.monotonic()

    def documents(self) -> int:
        if self._docs is None:
            self._docs = self._read([DOCUMENTS]).get(DOCUMENTS, 0)
        return self._docs + self._pending_docs

    def df(self, term: str) -> int:
        cached = self._cache.get(term)
        if cached is None:
            self.prefetch([term])
            cached = self._cache[term]
        return cached + self._pending.get(term, 0)

    def prefetch(self, terms: Iterable[str]) -> None:
        now = time.monotonic()
        if now - self._loaded_at > self.REFRESH_SECONDS or len(self._cache) > self.MAX_CACHED:
            self._cache.clear()
            self._docs = None
            self._loaded_at = now
        missing = [t for t in terms if t not in self._cache]
        if missing:
            found = self._read(missing)
            for term in missing:
                self._cache[term] = found.get(term, 0)

    def count_document(self, terms: Iterable[str]) -> None:
        self._pending.update(terms)
        self._pending_docs += 1

    def due(self) -> bool:
        return self._pending_docs >= self.FLUSH_DOCUMENTS or (
            self._pending_docs and time.monotonic() - self._flushed_at > self.FLUSH_SECONDS
        )

    def flush(self) -> None:
        """Add this process's counts to the shared table, in term order (two workers flushing
        at once lock rows in the same order, so they never deadlock)."""
        if not self._pending_docs:
            return
        rows = sorted({**self._pending, DOCUMENTS: self._pending_docs}.items())
        with connection.cursor() as cursor:
            if _on_postgres():  # one statement (rows go in the array's order), not one a term
                terms, term_values = array_of([term for term, _ in rows], "text")
                counts, count_values = array_of([n for _, n in rows], "bigint")
                cursor.execute(
                    "INSERT INTO stories_termfrequency (term, documents) "  # noqa: S608
                    f"SELECT * FROM unnest({terms}, {counts}) "
                    "ON CONFLICT (term) DO UPDATE "
                    "SET documents = stories_termfrequency.documents + excluded.documents",
                    [term_values, count_values],
                )
            else:
                cursor.executemany(
                    "INSERT INTO stories_termfrequency (term, documents) VALUES (%s, %s) "
                    "ON CONFLICT (term) DO UPDATE "
                    "SET documents = stories_termfrequency.documents + excluded.documents",
                    rows,
                )
        for term, n in self._pending.items():
            if term in self._cache:
                self._cache[term] += n
        if self._docs is not None:
            self._docs += self._pending_docs
        self._pending.clear()
        self._pending_docs = 0
        self._flushed_at = time.monotonic()

    def discard(self) -> None:
        """Forget counts not yet written (a test resetting the database)."""
        self._pending.clear()
        self._pending_docs = 0
        self._cache.clear()
        self._docs = None

    @staticmethod
    def _read(terms: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        with connection.cursor() as cursor:
            for start in range(0, len(terms), 5000):
                part = list(terms[start : start + 5000])
                where, params = one_of("term", part, "text")
                cursor.execute(
                    f"SELECT term, documents FROM stories_termfrequency WHERE {where}",  # noqa: S608
                    params,
                )
                found.update(cursor.fetchall())
        return found


class DatabaseStore:
    """``stories.clustering.ClusterStore`` over the stories tables. Keys are article ids and
    story ids are ``Story`` primary keys. For ``story_changed``, ``changed`` collects the
    stories whose members or lead changed, ``moved`` the articles that joined or left one and
    ``leads`` the articles that became or stopped being a lead."""

    def __init__(self, frequencies: Frequencies) -> None:
        self.frequencies = frequencies
        self.changed: set[int] = set()
        self.moved: set[int] = set()
        self.leads: set[int] = set()
        self._centroids: dict[int, dict[str, float]] = {}
        # Rows read by partial_centroids since the last write: the join reads again what the
        # scoring just read (the item's terms in the chosen story), plus the index terms.
        self._partial: dict[int, tuple[float, dict[str, float], set[str]]] = {}

    # --- IDF ---------------------------------------------------------------------------------

    def documents(self) -> int:
        return self.frequencies.documents()

    def df(self, term: str) -> int:
        return self.frequencies.df(term)

    def prefetch(self, terms: Iterable[str]) -> None:
        self.frequencies.prefetch(terms)

    def count_document(self, terms: Iterable[str]) -> None:
        self.frequencies.count_document(terms)

    # --- Near-duplicates ---------------------------------------------------------------------

    def keys_sharing_a_band(self, bands: Sequence[int], horizon: datetime) -> list[object]:
        marks, params = _list(bands)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT article_id, min(published_at) FROM stories_storyband "  # noqa: S608
                f"WHERE band IN ({marks}) AND published_at >= %s "
                "GROUP BY article_id ORDER BY min(published_at), article_id",
                [*params, _t(horizon)],
            )
            return [row[0] for row in cursor.fetchall()]

    def remember_bands(self, key: object, bands: Sequence[int], published: datetime) -> None:
        with connection.cursor() as cursor:
            if _on_postgres():
                cursor.execute(
                    "INSERT INTO stories_storyband (band, article_id, published_at) "
                    "SELECT unnest(%s::bigint[]), %s, %s ON CONFLICT DO NOTHING",
                    [sorted(set(bands)), key, _t(published)],
                )
            else:
                cursor.executemany(
                    "INSERT INTO stories_storyband (band, article_id, published_at) "
                    "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                    [(band, key, _t(published)) for band in set(bands)],
                )

    # --- Stories -----------------------------------------------------------------------------

    def story_of(self, key: object) -> int | None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT story_id FROM stories_storymembership WHERE article_id = %s", [key]
            )
            row = cursor.fetchone()
        return row[0] if row else None

    def is_live(self, story_id: int, horizon: datetime) -> bool:
        return StoryState.objects.filter(story_id=story_id, last_seen__gte=horizon).exists()

    def candidates(self, terms: Sequence[str], horizon: datetime, limit: int) -> list[int]:
        if not terms:
            return []
        marks, params = _list(terms)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT t.story_id FROM stories_storyterm t "  # noqa: S608
                "JOIN stories_storystate s ON s.story_id = t.story_id "
                f"WHERE t.term IN ({marks}) AND s.last_seen >= %s "
                "GROUP BY t.story_id ORDER BY count(*) DESC, t.story_id LIMIT %s",
                [*params, _t(horizon), limit],
            )
            return [row[0] for row in cursor.fetchall()]

    def partial_centroids(
        self, story_ids: Sequence[int], terms: Iterable[str]
    ) -> dict[int, tuple[float, dict[str, float]]]:
        wanted = set(terms)
        out: dict[int, tuple[float, dict[str, float]]] = {}
        if not story_ids:
            return out
        known = {s: self._partial[s] for s in story_ids if s in self._partial}
        if len(known) == len(story_ids):
            missing = set().union(*(wanted - covered for _, _, covered in known.values()))
            if not missing:
                for story_id in story_ids:
                    norm, weights, _ = known[story_id]
                    out[story_id] = (norm, {t: w for t, w in weights.items() if t in wanted})
                return out
            self._read_partial(story_ids, missing)
            return self.partial_centroids(story_ids, wanted)
        self._read_partial(story_ids, wanted)
        return self.partial_centroids(story_ids, wanted)

    def _read_partial(self, story_ids: Sequence[int], terms: Iterable[str]) -> None:
        wanted = sorted(terms)
        story_marks, story_params = _list(story_ids)
        term_marks, term_params = _list(wanted)
        norms: dict[int, float] = {}
        weights: defaultdict[int, dict[str, float]] = defaultdict(dict)
        with connection.cursor() as cursor:
            # One query: each story's norm, with its centroid's rows for the item's terms.
            if _on_postgres():
                big = PROBE_ABOVE_MEMBERS
                cursor.execute(PARTIAL_CENTROIDS, [big, wanted, wanted, big, list(story_ids)])
            else:
                cursor.execute(
                    "SELECT s.story_id, s.norm, c.term, c.weight FROM stories_storystate s "  # noqa: S608
                    "LEFT JOIN stories_storycentroid c ON c.story_id = s.story_id "
                    f"AND c.term IN ({term_marks}) WHERE s.story_id IN ({story_marks})",
                    [*term_params, *story_params],
                )
            for story_id, norm, term, weight in cursor.fetchall():
                norms[story_id] = norm
                if term is not None:
                    weights[story_id][term] = weight
        for story_id in story_ids:
            _, had, covered = self._partial.get(story_id, (1.0, {}, set()))
            self._partial[story_id] = (
                norms.get(story_id, 1.0),
                {**had, **weights.get(story_id, {})},
                covered | set(wanted),
            )

    def centroid(self, story_id: int) -> dict[str, float]:
        if story_id not in self._centroids:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT term, weight FROM stories_storycentroid WHERE story_id = %s",
                    [story_id],
                )
                self._centroids[story_id] = dict(cursor.fetchall())
        return self._centroids[story_id]

    def size(self, story_id: int) -> int:
        return (
            StoryState.objects.filter(story_id=story_id).values_list("size", flat=True).first() or 0
        )

    def new_story(self) -> int:
        now = timezone.now()
        story = Story.objects.create(created_at=now, updated_at=now)
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO stories_storystate (story_id, size, norm, updated_at) "
                "VALUES (%s, 0, 1.0, %s)",
                [story.pk, now],
            )
        self._centroids[story.pk] = {}
        return story.pk

    def add_member(
        self, story_id: int, item: StoryItem, raw: dict[str, float], assignment: Assignment
    ) -> int:
        self.add_to_centroid(story_id, raw)
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE stories_storystate SET size = size + 1, updated_at = %s, "
                "last_seen = CASE WHEN last_seen IS NULL OR last_seen < %s THEN %s "
                "ELSE last_seen END WHERE story_id = %s RETURNING size",
                [_t(now), _t(item.published), _t(item.published), story_id],
            )
            size = cursor.fetchone()[0]
            cursor.execute(
                "INSERT INTO stories_storymembership (article_id, story_id, score, "
                "near_duplicate_of_id, published_at, source_id, joined_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [
                    item.key,
                    story_id,
                    assignment.score,
                    assignment.near_duplicate_of,
                    _t(item.published),
                    _source_id(item),
                    _t(now),
                ],
            )
        self._member_joined(story_id, item)
        return size

    def add_to_centroid(self, story_id: int, raw: dict[str, float]) -> None:
        self._partial.clear()
        rows = sorted(raw.items())
        with connection.cursor() as cursor:
            if _on_postgres():  # one statement, not one per term
                cursor.execute(
                    CENTROID_ARRAYS, [story_id, [t for t, _ in rows], [x for _, x in rows]]
                )
            else:
                cursor.executemany(CENTROID_ROWS, [(story_id, term, x) for term, x in rows])
        centroid = self._centroids.get(story_id)
        if centroid is not None:
            for term, x in raw.items():
                centroid[term] = centroid.get(term, 0.0) + x

    def _member_joined(self, story_id: int, item: StoryItem) -> None:
        """Counts, dates and lead for one new member, without reading the story's members:
        one read (the story, its lead's date, whether the source is new to it), one write."""
        source_id = _source_id(item)
        with connection.cursor() as cursor:
            # Whether the source is new to the story: one probe of storymembership_source_idx.
            cursor.execute(
                "SELECT s.lead_id, s.lead_chosen_by_id, s.first_published_at, "
                "s.last_published_at, lead.published_at, "
                "%s IS NOT NULL AND NOT EXISTS (SELECT 1 FROM stories_storymembership m "
                "WHERE m.story_id = s.id AND m.source_id = %s AND m.article_id <> %s) "
                "FROM stories_story s "
                "LEFT JOIN stories_storymembership lead ON lead.article_id = s.lead_id "
                "WHERE s.id = %s",
                [source_id, source_id, item.key, story_id],
            )
            lead_id, chosen_by, first, last, lead_published, new_source = cursor.fetchone()
        first, last, lead_published = _aware(first), _aware(last), _aware(lead_published)
        could_lead = bool(item.text.strip()) and item.duplicate_of is None and not chosen_by
        earlier = lead_published is None or (item.published, item.key) < (lead_published, lead_id)
        if could_lead and (lead_id is None or earlier):
            self.leads.update(a for a in (lead_id, item.key) if a is not None)
            lead_id = item.key
        Story.objects.filter(pk=story_id).update(
            article_count=F("article_count") + 1,
            source_count=F("source_count") + (1 if new_source else 0),
            first_published_at=min(first, item.published) if first else item.published,
            last_published_at=max(last, item.published) if last else item.published,
            lead_id=lead_id,
            updated_at=timezone.now(),
        )
        self.changed.add(story_id)
        self.moved.add(item.key)

    def index_terms(self, story_id: int) -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT term FROM stories_storyterm WHERE story_id = %s", [story_id])
            return {row[0] for row in cursor.fetchall()}

    def set_index(
        self, story_id: int, norm: float, index_terms: set[str], current: set[str] | None = None
    ) -> None:
        self._partial.clear()
        if current is None:
            current = self.index_terms(story_id)
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE stories_storystate SET norm = %s WHERE story_id = %s", [norm, story_id]
            )
            gone = sorted(current - index_terms)
            if gone:
                marks, params = _list(gone)
                cursor.execute(
                    f"DELETE FROM stories_storyterm WHERE story_id = %s AND term IN ({marks})",  # noqa: S608
                    [story_id, *params],
                )
            new = sorted(index_terms - current)
            if new and _on_postgres():
                cursor.execute(
                    "INSERT INTO stories_storyterm (term, story_id) SELECT unnest(%s::text[]), %s",
                    [new, story_id],
                )
            elif new:
                cursor.executemany(
                    "INSERT INTO stories_storyterm (term, story_id) VALUES (%s, %s)",
                    [(term, story_id) for term in new],
                )

    def postings(self, horizon: datetime) -> Iterable[Sequence[int]]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT t.term, t.story_id FROM stories_storyterm t "
                "JOIN stories_storystate s ON s.story_id = t.story_id "
                "WHERE s.last_seen >= %s ORDER BY t.term, t.story_id",
                [_t(horizon)],
            )
            grouped: defaultdict[str, list[int]] = defaultdict(list)
            for term, story_id in cursor.fetchall():
                grouped[term].append(story_id)
        return grouped.values()

    def can_merge(self, a: int, b: int) -> bool:
        """The merge pass leaves editors' work alone: a story with a pinned member or a chosen
        lead is never merged automatically."""
        from stories.models import StoryMembership

        if Story.objects.filter(pk__in=[a, b], lead_chosen_by__isnull=False).exists():
            return False
        return not StoryMembership.objects.filter(
            story_id__in=[a, b], pinned_by__isnull=False
        ).exists()

    def absorb(self, keep: int, gone: int, merged: dict[str, float]) -> None:
        self._partial.clear()
        from stories import editing

        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO stories_storycentroid (story_id, term, weight) "
                "SELECT %s, term, weight FROM stories_storycentroid WHERE story_id = %s "
                "ON CONFLICT (story_id, term) DO UPDATE "
                "SET weight = stories_storycentroid.weight + excluded.weight",
                [keep, gone],
            )
            cursor.execute(
                "UPDATE stories_storystate SET size = size + "
                "(SELECT size FROM stories_storystate WHERE story_id = %s), "
                "last_seen = (SELECT max(last_seen) FROM stories_storystate "
                "WHERE story_id IN (%s, %s)), updated_at = %s WHERE story_id = %s",
                [gone, keep, gone, _t(timezone.now()), keep],
            )
        self._centroids[keep] = dict(merged)
        self._centroids.pop(gone, None)
        moved, leads = editing.move_members(gone, keep)
        self.changed.update((keep, gone))
        self.moved.update(moved)
        self.leads.update(leads)

    def resolve(self, story_id: int) -> int:
        seen = set()
        while story_id not in seen:
            seen.add(story_id)
            into = (
                Story.objects.filter(pk=story_id).values_list("merged_into_id", flat=True).first()
            )
            if not into:
                break
            story_id = into
        return story_id

    def expire(self, horizon: datetime) -> None:
        """Nothing per item: beat's prune drops stories past the window (and the horizon is
        checked in every query)."""

    def live_stories(self) -> int:
        return StoryState.objects.count()


def _source_id(item: StoryItem) -> int | None:
    return int(item.source) if item.source else None  # the worker's items carry source ids


def _t(value: datetime) -> object:
    """A time as this database's raw SQL wants it: PostgreSQL takes the aware datetime, SQLite
    (the embedded default `manage.py run` uses) the naive UTC text the ORM stores."""
    return connection.ops.adapt_datetimefield_value(value)


def _aware(value: datetime | str | None) -> datetime | None:
    """A time read by raw SQL, aware on every backend (SQLite gives naive UTC, or text)."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value
