"""The clusterer's state for one batch of articles placed in one transaction.

``DatabaseStore`` asks the database for every read and writes every change as it happens: about
25 round trips an article. ``BatchStore`` gives the same answers from a view of the state it
reads once for the whole batch (the IDF of every term of every article, the inverted index under
those terms, the band keys of their MinHashes and the stories those belong to) and then per
story the first time the batch touches it; the batch's changes stay in that view, so the next
article of the batch sees them, and ``flush`` writes them in a few bulk statements at the end.
The decisions are the clusterer's, in the batch's order, exactly as ``DatabaseStore`` (and
``MemoryStore``) make them: tests/test_story_assignment.py holds the three to the same stories
and scores.

The caller holds the assignment lock for the whole transaction (stories.assignment), so nothing
the view holds can change under it. Centroid rows are written as values, not added to: the
clusterer reads every row it adds to (``_join`` reads the story's rows for the member's terms
first), so the view always knows the value it writes, and the floats stored are the ones the
decisions used.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import connection
from django.utils import timezone

from stories.clustering import (
    Assignment,
    StoryClusterer,
    StoryItem,
    band_keys,
    minhash_of,
    terms,
)
from stories.dbstore import (
    PARTIAL_CENTROIDS,
    PROBE_ABOVE_MEMBERS,
    DatabaseStore,
    Frequencies,
    _aware,
    _list,
    _on_postgres,
    _source_id,
    _t,
    array_of,
    one_of,
)
from stories.models import StoryState

CHUNK = 5000  # values in one IN list (SQLite's variable limit is 32,766)
RESERVE_IDS = 64  # story ids taken from the sequence at a time


class _Details:
    """What the batch knows of a story it joined an article to: state, index terms, the story
    row's denormalised fields and which of the batch's sources it has."""

    __slots__ = (
        "article_count",
        "chosen_by",
        "first",
        "index",
        "joined",
        "last",
        "last_seen",
        "lead_id",
        "lead_published",
        "new",
        "size",
        "source_count",
        "sources",
        "stateless",
        "stored_index",
    )

    def __init__(self, **values) -> None:
        self.joined = False
        for name, value in values.items():
            setattr(self, name, value)


class BatchStore(DatabaseStore):
    """``ClusterStore`` for one batch: call ``prepare`` with the batch's items, run the clusterer
    over them in order, then ``flush``. ``changed``, ``moved`` and ``leads`` are collected as in
    ``DatabaseStore``, for one ``story_changed`` for the whole batch."""

    def __init__(self, frequencies: Frequencies) -> None:
        super().__init__(frequencies)
        # Asked for every term of every centroid whose norm the clusterer recomputes: the
        # frequencies' own method, not a call through this store's.
        self.df = frequencies.df
        self._details: dict[int, _Details] = {}
        self._norm: dict[int, float] = {}
        self._weights: dict[int, dict[str, float]] = defaultdict(dict)
        self._covered: dict[int, set[str]] = defaultdict(set)
        self._full: set[int] = set()
        self._dirty: dict[int, set[str]] = defaultdict(set)
        self._last_seen: dict[int, datetime | None] = {}
        # The inverted index as stored, for the terms read (stories whose details are loaded
        # answer from their own index instead), and the loaded stories under their index terms.
        self._db_postings: dict[str, set[int]] = {}
        self._batch_postings: dict[str, set[int]] = defaultdict(set)
        self._horizon: datetime | None = None
        self._bands: dict[int, dict[object, datetime]] = {}
        self._story_of: dict[object, int | None] = {}
        self._sources: set[int] = set()
        self._ids: list[int] = []
        self._members: list[tuple] = []
        self._new_bands: list[tuple[int, object, datetime]] = []

    def prefetch(self, terms: Iterable[str]) -> None:
        """Nothing: ``prepare`` asked the frequencies for every term of the batch's items, and
        each read of centroid rows for the terms it brings (``_remember_rows``), so the terms
        the clusterer asks about are known (a term that is not, after a refresh, is read on
        its own by ``df``). The clusterer asks again for a story's whole centroid each time
        it recomputes the norm: checking thousands of terms cost more than the norm."""

    # --- Reading the batch's state at once ----------------------------------------------------

    def prepare(self, items: Sequence[StoryItem], clusterer: StoryClusterer) -> None:
        """Read what placing ``items`` will ask for, in a few statements."""
        if not items:
            return
        horizon = min(item.published for item in items) - clusterer.window
        self._horizon = horizon
        self._sources = {s for s in (_source_id(item) for item in items) if s is not None}
        vocabulary: set[str] = set()
        for item in items:
            vocabulary.update(terms(item.title, item.summary, item.text))
        self.frequencies.prefetch(vocabulary)
        self._read_postings(sorted(vocabulary))
        bands: set[int] = set()
        for item in items:
            minhash = minhash_of(item.text)
            if minhash is not None:
                bands.update(band_keys(minhash, clusterer.duplicate_threshold))
        found = self._read_bands(sorted(bands), horizon)
        originals = {item.duplicate_of for item in items if item.duplicate_of is not None}
        self._read_memberships(sorted(found | originals))

    def _read_postings(self, wanted: Sequence[str]) -> None:
        wanted = [t for t in wanted if t not in self._db_postings]
        if not wanted:
            return
        for term in wanted:
            self._db_postings[term] = set()
        horizon = self._horizon
        with connection.cursor() as cursor:
            for start in range(0, len(wanted), CHUNK):
                part = wanted[start : start + CHUNK]
                where, params = one_of("t.term", part, "text")
                cursor.execute(
                    "SELECT t.term, t.story_id, s.last_seen FROM stories_storyterm t "  # noqa: S608
                    "JOIN stories_storystate s ON s.story_id = t.story_id "
                    f"WHERE {where} AND s.last_seen >= %s",
                    [*params, _t(horizon)],
                )
                for term, story_id, last_seen in cursor.fetchall():
                    self._db_postings[term].add(story_id)
                    self._last_seen.setdefault(story_id, _aware(last_seen))

    def _read_bands(self, bands: Sequence[int], horizon: datetime) -> set[object]:
        found: set[object] = set()
        for band in bands:
            self._bands.setdefault(band, {})
        with connection.cursor() as cursor:
            for start in range(0, len(bands), CHUNK):
                part = list(bands[start : start + CHUNK])
                where, params = one_of("band", part, "bigint")
                cursor.execute(
                    "SELECT band, article_id, published_at FROM stories_storyband "  # noqa: S608
                    f"WHERE {where} AND published_at >= %s",
                    [*params, _t(horizon)],
                )
                for band, article_id, published in cursor.fetchall():
                    self._bands[band][article_id] = _aware(published)
                    found.add(article_id)
        return found

    def _read_memberships(self, keys: Sequence[object]) -> None:
        keys = [k for k in keys if k not in self._story_of]
        for key in keys:
            self._story_of[key] = None
        with connection.cursor() as cursor:
            for start in range(0, len(keys), CHUNK):
                part = list(keys[start : start + CHUNK])
                where, params = one_of("m.article_id", part, "bigint")
                cursor.execute(
                    "SELECT m.article_id, m.story_id, s.last_seen "  # noqa: S608
                    "FROM stories_storymembership m "
                    "LEFT JOIN stories_storystate s ON s.story_id = m.story_id "
                    f"WHERE {where}",
                    params,
                )
                for key, story_id, last_seen in cursor.fetchall():
                    self._story_of[key] = story_id
                    self._last_seen.setdefault(story_id, _aware(last_seen))

    def _load(self, story_id: int) -> _Details:
        """The story's state, index terms and row, read the first time the batch joins an
        article to it (one statement on PostgreSQL)."""
        details = self._details.get(story_id)
        if details is not None:
            return details
        sources = sorted(self._sources)
        with connection.cursor() as cursor:
            if _on_postgres():
                cursor.execute(
                    "SELECT s.size, s.norm, s.last_seen, "
                    "ARRAY(SELECT t.term FROM stories_storyterm t WHERE t.story_id = st.id), "
                    "st.lead_id, st.lead_chosen_by_id, st.first_published_at, "
                    "st.last_published_at, lead.published_at, st.article_count, st.source_count, "
                    "ARRAY(SELECT DISTINCT m.source_id FROM stories_storymembership m "
                    "WHERE m.story_id = st.id AND m.source_id = ANY(%s::bigint[])) "
                    "FROM stories_story st LEFT JOIN stories_storystate s ON s.story_id = st.id "
                    "LEFT JOIN stories_storymembership lead ON lead.article_id = st.lead_id "
                    "WHERE st.id = %s",
                    [sources, story_id],
                )
                row = cursor.fetchone()
                size, norm, last_seen, index, *story, present = row
            else:
                cursor.execute(
                    "SELECT s.size, s.norm, s.last_seen, st.lead_id, st.lead_chosen_by_id, "
                    "st.first_published_at, st.last_published_at, lead.published_at, "
                    "st.article_count, st.source_count "
                    "FROM stories_story st LEFT JOIN stories_storystate s ON s.story_id = st.id "
                    "LEFT JOIN stories_storymembership lead ON lead.article_id = st.lead_id "
                    "WHERE st.id = %s",
                    [story_id],
                )
                size, norm, last_seen, *story = cursor.fetchone()
                index = self._stored_terms(cursor, story_id)
                present = self._present_sources(cursor, story_id, sources)
        lead_id, chosen_by, first, last, lead_published, article_count, source_count = story
        # A story past the window has no state (pruned): an exact copy of one of its members
        # still joins it, and the state is made again.
        details = _Details(
            size=size or 0,
            stateless=size is None,
            last_seen=_aware(last_seen),
            index=set(index),
            stored_index=set(index),
            lead_id=lead_id,
            chosen_by=chosen_by,
            first=_aware(first),
            last=_aware(last),
            lead_published=_aware(lead_published),
            article_count=article_count,
            source_count=source_count,
            sources=set(present),
            new=False,
        )
        self._details[story_id] = details
        self._norm.setdefault(story_id, 1.0 if norm is None else norm)
        self._last_seen[story_id] = details.last_seen
        for term in details.index:
            self._batch_postings[term].add(story_id)
        return details

    @staticmethod
    def _stored_terms(cursor, story_id: int) -> list[str]:
        cursor.execute("SELECT term FROM stories_storyterm WHERE story_id = %s", [story_id])
        return [row[0] for row in cursor.fetchall()]

    @staticmethod
    def _present_sources(cursor, story_id: int, sources: Sequence[int]) -> list[int]:
        if not sources:
            return []
        marks, params = _list(sources)
        cursor.execute(
            "SELECT DISTINCT source_id FROM stories_storymembership "  # noqa: S608
            f"WHERE story_id = %s AND source_id IN ({marks})",
            [story_id, *params],
        )
        return [row[0] for row in cursor.fetchall()]

    # --- Near-duplicates ---------------------------------------------------------------------

    def keys_sharing_a_band(self, bands: Sequence[int], horizon: datetime) -> list[object]:
        missing = [b for b in bands if b not in self._bands]
        if missing:  # not prepared for (an item outside the batch)
            self._read_memberships(sorted(self._read_bands(sorted(set(missing)), horizon)))
        found: dict[object, datetime] = {}
        for band in bands:
            for key, published in self._bands[band].items():
                if published >= horizon:
                    found[key] = published
        return sorted(found, key=lambda key: (found[key], key))

    def remember_bands(self, key: object, bands: Sequence[int], published: datetime) -> None:
        for band in set(bands):
            known = self._bands.setdefault(band, {})
            if key not in known:
                known[key] = published
                self._new_bands.append((band, key, published))

    # --- Stories -----------------------------------------------------------------------------

    def story_of(self, key: object) -> int | None:
        if key not in self._story_of:
            self._read_memberships([key])
        return self._story_of[key]

    def is_live(self, story_id: int, horizon: datetime) -> bool:
        if story_id not in self._last_seen:
            last_seen = (
                StoryState.objects.filter(story_id=story_id)
                .values_list("last_seen", flat=True)
                .first()
            )
            self._last_seen[story_id] = last_seen
        last_seen = self._last_seen[story_id]
        return last_seen is not None and last_seen >= horizon

    def candidates(self, terms: Sequence[str], horizon: datetime, limit: int) -> list[int]:
        if self._horizon is None or horizon < self._horizon:
            self._horizon = horizon
            self._db_postings.clear()
        self._read_postings(sorted(set(terms)))
        counts: Counter[int] = Counter()
        for term in terms:
            stored = {s for s in self._db_postings[term] if s not in self._details}
            for story_id in stored | self._batch_postings.get(term, set()):
                last_seen = self._last_seen.get(story_id)
                if last_seen is not None and last_seen >= horizon:
                    counts[story_id] += 1
        ranked = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
        return [story_id for story_id, _ in ranked[:limit]]

    def partial_centroids(
        self, story_ids: Sequence[int], terms: Iterable[str]
    ) -> dict[int, tuple[float, dict[str, float]]]:
        wanted = set(terms)
        # A candidate's centroid is read whole, once a batch: the next articles of the batch
        # score against the same live stories with other terms, and one range of the primary
        # key costs less than probing each article's ~150 terms again (2 ms an article).
        unread = [s for s in story_ids if s not in self._full]
        if unread:
            self._read_whole(unread)
        out = {}
        all_weights, norms = self._weights, self._norm
        for story_id in story_ids:
            weights = all_weights[story_id]
            # The shared terms are few: the intersection (which walks the smaller side, in C)
            # finds them, and only they are looked up. The scoring and the join read the
            # result by term, never in its order.
            out[story_id] = (
                norms.get(story_id, 1.0),
                {t: weights[t] for t in weights.keys() & wanted},
            )
        return out

    def _read_rows(self, story_ids: Sequence[int], terms: Iterable[str]) -> None:
        """Centroid rows from the database for terms the view does not know yet (a row the
        batch has written is never read over), and the norms of stories it has none for."""
        wanted = sorted(terms)
        with connection.cursor() as cursor:
            if _on_postgres():
                big = PROBE_ABOVE_MEMBERS
                cursor.execute(PARTIAL_CENTROIDS, [big, wanted, wanted, big, list(story_ids)])
            else:
                story_marks, story_params = _list(story_ids)
                term_marks, term_params = _list(wanted) if wanted else ("NULL", [])
                cursor.execute(
                    "SELECT s.story_id, s.norm, c.term, c.weight FROM stories_storystate s "  # noqa: S608
                    "LEFT JOIN stories_storycentroid c ON c.story_id = s.story_id "
                    f"AND c.term IN ({term_marks}) WHERE s.story_id IN ({story_marks})",
                    [*term_params, *story_params],
                )
            rows = cursor.fetchall()
        self._remember_rows(rows)
        for story_id in story_ids:
            self._covered[story_id].update(wanted)

    def centroid(self, story_id: int) -> dict[str, float]:
        if story_id not in self._full:
            self._read_whole([story_id])
        # The view's own dict, as MemoryStore gives its own: the clusterer only reads it (a
        # copy was a walk of the whole centroid at every join that re-normalises it).
        return self._weights[story_id]

    def _read_whole(self, story_ids: Sequence[int]) -> None:
        """These stories' norms and every row of their centroids (a row the batch has written
        is never read over)."""
        ids = sorted(story_ids)
        with connection.cursor() as cursor:
            where, params = one_of("s.story_id", ids, "bigint")
            cursor.execute(
                "SELECT s.story_id, s.norm, c.term, c.weight FROM stories_storystate s "  # noqa: S608
                "LEFT JOIN stories_storycentroid c ON c.story_id = s.story_id "
                f"WHERE {where}",
                params,
            )
            rows = cursor.fetchall()
        self._remember_rows(rows)
        self._full.update(ids)

    def _remember_rows(self, rows) -> None:
        """Centroid rows read (a row the batch has written is never read over), in whatever
        order the plan returns them: the clusterer's sums are ``math.fsum``, the same float in
        any order. Their terms' frequencies are asked for at once (see ``prefetch``)."""
        norms, weights, covered = self._norm, self._weights, self._covered
        for story_id, norm, term, weight in rows:
            norms.setdefault(story_id, norm)
            if term is not None and term not in covered[story_id]:
                weights[story_id][term] = weight
        self.frequencies.prefetch({row[2] for row in rows if row[2] is not None})

    def size(self, story_id: int) -> int:
        return self._load(story_id).size

    def new_story(self) -> int:
        if not self._ids:
            self._ids = self._reserve_ids(RESERVE_IDS)
        story_id = self._ids.pop(0)
        self._details[story_id] = _Details(
            size=0,
            last_seen=None,
            index=set(),
            stored_index=set(),
            lead_id=None,
            chosen_by=None,
            first=None,
            last=None,
            lead_published=None,
            article_count=0,
            source_count=0,
            sources=set(),
            new=True,
            stateless=True,
        )
        self._norm[story_id] = 1.0
        self._last_seen[story_id] = None
        self._full.add(story_id)
        return story_id

    @staticmethod
    def _reserve_ids(n: int) -> list[int]:
        """Story ids for the batch's new stories, in increasing order like the rows ``Story``
        would get one by one (ties between candidates go to the older story). On SQLite (one
        writer, the embedded mode) the next ids after the highest ever given."""
        with connection.cursor() as cursor:
            if _on_postgres():
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence('stories_story', 'id')) "
                    "FROM generate_series(1, %s)",
                    [n],
                )
                return sorted(row[0] for row in cursor.fetchall())
            cursor.execute("SELECT max(id) FROM stories_story")
            top = cursor.fetchone()[0] or 0
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = 'stories_story'")
            row = cursor.fetchone()
            top = max(top, row[0] if row else 0)
        return list(range(top + 1, top + 1 + n))

    def add_member(
        self, story_id: int, item: StoryItem, raw: dict[str, float], assignment: Assignment
    ) -> int:
        details = self._load(story_id)
        self.add_to_centroid(story_id, raw)
        details.size += 1
        details.joined = True
        if details.last_seen is None or details.last_seen < item.published:
            details.last_seen = item.published
        self._last_seen[story_id] = details.last_seen
        source_id = _source_id(item)
        self._members.append(
            (
                item.key,
                story_id,
                assignment.score,
                assignment.near_duplicate_of,
                item.published,
                source_id,
            )
        )
        self._story_of[item.key] = story_id
        # Counts, dates and lead, as DatabaseStore._member_joined decides them.
        new_source = source_id is not None and source_id not in details.sources
        if source_id is not None:
            details.sources.add(source_id)
        could_lead = bool(item.text.strip()) and item.duplicate_of is None and not details.chosen_by
        earlier = details.lead_published is None or (item.published, item.key) < (
            details.lead_published,
            details.lead_id,
        )
        if could_lead and (details.lead_id is None or earlier):
            self.leads.update(a for a in (details.lead_id, item.key) if a is not None)
            details.lead_id, details.lead_published = item.key, item.published
        details.article_count += 1
        details.source_count += 1 if new_source else 0
        details.first = min(details.first, item.published) if details.first else item.published
        details.last = max(details.last, item.published) if details.last else item.published
        self.changed.add(story_id)
        self.moved.add(item.key)
        return details.size

    def add_to_centroid(self, story_id: int, raw: dict[str, float]) -> None:
        unknown = set(raw) - self._covered[story_id] if story_id not in self._full else set()
        if unknown:
            self._read_rows([story_id], unknown)
        weights, dirty, covered = self._weights[story_id], self._dirty[story_id], self._covered
        for term, x in raw.items():
            weights[term] = weights.get(term, 0.0) + x
            dirty.add(term)
        covered[story_id].update(raw)

    def index_terms(self, story_id: int) -> set[str]:
        return set(self._load(story_id).index)

    def set_index(
        self, story_id: int, norm: float, index_terms: set[str], current: set[str] | None = None
    ) -> None:
        details = self._load(story_id)
        details.joined = True
        self._norm[story_id] = norm
        for term in details.index - index_terms:
            self._batch_postings[term].discard(story_id)
        for term in index_terms - details.index:
            self._batch_postings[term].add(story_id)
        details.index = set(index_terms)

    def expire(self, horizon: datetime) -> None:
        """Nothing: the window is checked against the view's dates (see DatabaseStore)."""

    # --- Writing the batch's changes ----------------------------------------------------------

    def flush(self) -> None:
        """Write what the batch changed: new stories and their states, the stories' counts,
        dates, leads, norms and index terms, the memberships, the centroid rows and the band
        keys; a statement or two each."""
        now = timezone.now()
        touched = {s: d for s, d in self._details.items() if d.joined}
        new = [s for s, d in touched.items() if d.new]
        old = [s for s, d in touched.items() if not d.new]
        # The ORM's bulk_create spells a placeholder for every field of every row and makes a
        # model instance of each: a batch's three inserts were a tenth of its time.
        _write(
            "INSERT INTO stories_story (id, lead_id, lead_chosen_by_id, article_count, "
            "source_count, first_published_at, last_published_at, created_at, updated_at) "
            "SELECT *, %s, %s FROM unnest({}, {}, {}, {}, {}, {}, {})",
            "INSERT INTO stories_story (id, lead_id, lead_chosen_by_id, article_count, "
            "source_count, first_published_at, last_published_at, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (s, d.lead_id, d.chosen_by, d.article_count, d.source_count, d.first, d.last)
                for s, d in ((s, touched[s]) for s in new)
            ],
            types=("bigint", "bigint", "integer", "integer", "integer") + ("timestamptz",) * 2,
            extra=[_t(now), _t(now)],
            portable_row=lambda s, lead, chosen, articles, sources, first, last: (
                *(s, lead, chosen, articles, sources),
                *(_t(first), _t(last)),
            ),
        )
        _write(
            "INSERT INTO stories_storystate (story_id, size, norm, last_seen, updated_at) "
            "SELECT *, %s FROM unnest({}, {}, {}, {})",
            "INSERT INTO stories_storystate (story_id, size, norm, last_seen, updated_at) "
            "VALUES (%s, %s, %s, %s, %s)",
            [(s, d.size, self._norm[s], d.last_seen) for s, d in touched.items() if d.stateless],
            types=("bigint", "integer", "float8", "timestamptz"),
            extra=[_t(now)],
            portable_row=lambda s, size, norm, last_seen: (s, size, norm, _t(last_seen)),
        )
        stated = [s for s in old if not touched[s].stateless]
        # The ORM's bulk_update spells a CASE of every row for every column: a batch's few
        # hundred stories made statements PostgreSQL spent more time parsing than writing.
        _write(
            "UPDATE stories_story s SET lead_id = u.lead_id, article_count = u.article_count, "
            "source_count = u.source_count, first_published_at = u.first, "
            "last_published_at = u.last, updated_at = u.updated_at "
            "FROM unnest({}, {}, {}, {}, {}, {}, {}) "
            "AS u(id, lead_id, article_count, source_count, first, last, updated_at) "
            "WHERE s.id = u.id",
            "UPDATE stories_story SET lead_id = %s, article_count = %s, source_count = %s, "
            "first_published_at = %s, last_published_at = %s, updated_at = %s WHERE id = %s",
            [
                (s, d.lead_id, d.article_count, d.source_count, d.first, d.last, now)
                for s, d in ((s, touched[s]) for s in old)
            ],
            types=("bigint", "bigint", "integer", "integer") + ("timestamptz",) * 3,
            portable_row=lambda s, lead, articles, sources, first, last, updated: (
                lead,
                articles,
                sources,
                _t(first),
                _t(last),
                _t(updated),
                s,
            ),
        )
        _write(
            "UPDATE stories_storystate s SET size = u.size, norm = u.norm, "
            "last_seen = u.last_seen, updated_at = u.updated_at "
            "FROM unnest({}, {}, {}, {}, {}) AS u(story_id, size, norm, last_seen, updated_at) "
            "WHERE s.story_id = u.story_id",
            "UPDATE stories_storystate SET size = %s, norm = %s, last_seen = %s, updated_at = %s "
            "WHERE story_id = %s",
            [(s, touched[s].size, self._norm[s], touched[s].last_seen, now) for s in stated],
            types=("bigint", "integer", "float8", "timestamptz", "timestamptz"),
            portable_row=lambda s, size, norm, last_seen, updated: (
                size,
                norm,
                _t(last_seen),
                _t(updated),
                s,
            ),
        )
        _write(
            "INSERT INTO stories_storymembership (article_id, story_id, score, "
            "near_duplicate_of_id, published_at, source_id, joined_at) "
            "SELECT *, %s FROM unnest({}, {}, {}, {}, {}, {})",
            "INSERT INTO stories_storymembership (article_id, story_id, score, "
            "near_duplicate_of_id, published_at, source_id, joined_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            self._members,
            types=("bigint", "bigint", "float8", "bigint", "timestamptz", "bigint"),
            extra=[_t(now)],
            portable_row=lambda key, story, score, original, published, source: (
                *(key, story, score, original, _t(published), source),
            ),
        )
        self._write_centroids()
        self._write_index(touched)
        self._write_bands()

    def _write_centroids(self) -> None:
        rows = [
            (story_id, term, self._weights[story_id][term])
            for story_id, dirty in sorted(self._dirty.items())
            for term in sorted(dirty)
        ]
        _write(
            "INSERT INTO stories_storycentroid (story_id, term, weight) "
            "SELECT * FROM unnest({}, {}, {}) "
            "ON CONFLICT (story_id, term) DO UPDATE SET weight = excluded.weight",
            "INSERT INTO stories_storycentroid (story_id, term, weight) VALUES (%s, %s, %s) "
            "ON CONFLICT (story_id, term) DO UPDATE SET weight = excluded.weight",
            rows,
            types=("bigint", "text", "float8"),
        )

    def _write_index(self, touched: dict[int, _Details]) -> None:
        gone = [
            (term, story_id)
            for story_id, d in sorted(touched.items())
            for term in sorted(d.stored_index - d.index)
        ]
        new = [
            (term, story_id)
            for story_id, d in sorted(touched.items())
            for term in sorted(d.index - d.stored_index)
        ]
        _write(
            "DELETE FROM stories_storyterm t USING "
            "unnest({}, {}) AS g(term, story_id) "
            "WHERE t.term = g.term AND t.story_id = g.story_id",
            "DELETE FROM stories_storyterm WHERE term = %s AND story_id = %s",
            gone,
            types=("text", "bigint"),
        )
        _write(
            "INSERT INTO stories_storyterm (term, story_id) SELECT * FROM unnest({}, {})",
            "INSERT INTO stories_storyterm (term, story_id) VALUES (%s, %s)",
            new,
            types=("text", "bigint"),
        )

    def _write_bands(self) -> None:
        _write(
            "INSERT INTO stories_storyband (band, article_id, published_at) "
            "SELECT * FROM unnest({}, {}, {}) ON CONFLICT DO NOTHING",
            "INSERT INTO stories_storyband (band, article_id, published_at) "
            "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            self._new_bands,
            types=("bigint", "bigint", "timestamptz"),
            portable_row=lambda band, key, published: (band, key, _t(published)),
        )


def _write(postgres: str, portable: str, rows, *, types, portable_row=None, extra=()) -> None:
    """Write rows in one statement on PostgreSQL (each column passed as one array, of the
    SQL type in ``types``, at the statement's ``{}`` in order, after the parameters
    ``extra``: a batch's thousands of rows are one parameter each, not thousands of
    placeholders to parse), else one statement a row (``portable_row`` adapting each row,
    ``extra`` after it)."""
    if not rows:
        return
    with connection.cursor() as cursor:
        if _on_postgres():
            arrays = [
                array_of(column, sql_type)
                for column, sql_type in zip(zip(*rows, strict=True), types, strict=True)
            ]
            cursor.execute(
                postgres.format(*(sql for sql, _ in arrays)),
                [*extra, *(value for _, value in arrays)],
            )
        else:
            adapted = [portable_row(*r) for r in rows] if portable_row else rows
            # ``extra`` goes last here: the portable statements name those columns last.
            cursor.executemany(portable, [(*r, *extra) for r in adapted])
