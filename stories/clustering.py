"""Story clustering: articles about one event, from any number of outlets, become one story.

Pure and ORM-free, like the matcher: plain items in, a story label per item out, so the worker,
the benchmark and the tests run the same code.

How an item finds its story (single pass, in arrival order):
- It becomes a weighted bag of terms: title words count most, then the summary, then the lead
  of the text; names (capitalised words inside a sentence-case title), acronyms and numbers
  weigh more, because two outlets telling one event agree on who, where and how many, not on
  wording (a stop word kept because it is in capitals, "US", is not weighed up: it is in
  stories of every kind). A word the stream mostly writes inside one bigram ("gas" in "natural
  gas", "gas prices") gives half its weight to the bigram, so two events sharing only the head
  of two phrases do not chain (see COLLOCATION_SHARE). Words are split, normalised and stemmed
  by ``stories.features``.
  Weights are TF-IDF with document frequencies learnt from the stream itself, the IDF damped
  (see features.idf).
- Candidates are the live stories (seen within ``window``) that share one of the item's
  rarest terms, found through an inverted index: the cost per item depends on how many stories
  are live, never on the size of the archive.
- The item joins the candidate whose centroid is most similar (cosine) among those it is
  similar enough to; otherwise it starts a story. Enough is ``threshold`` for a big story and
  more for a small one (twice it for a story of one member): a centroid of many members has
  averaged its wordings out, while against one headline a single shared word can reach the
  threshold, and an early wrong join seeds a story with a second event.
- Near-duplicates (syndicated copies, light rewrites of one text) are found first by MinHash
  over word shingles of the text and always join their original's story, whatever the title.
- A merge pass (``merge_pass``) joins live stories whose centroids have grown alike: single-pass
  clustering splits an event whose first reports used different words. Labels map to the
  surviving story. Two workers that started two stories for one event are reconciled by the same
  pass.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import re
import unicodedata
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from itertools import pairwise
from typing import Protocol

from datasketch import MinHash, MinHashLSH

from stories.features import idf, stem, tokens

# Words too common in headlines to say anything about which event they tell.
STOPWORDS = frozenset(
    {
        "a",
        "about",
        "after",
        "again",
        "against",
        "all",
        "also",
        "amid",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "been",
        "before",
        "being",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "down",
        "during",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "here",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "just",
        "may",
        "me",
        "might",
        "more",
        "most",
        "my",
        "new",
        "no",
        "not",
        "now",
        "of",
        "off",
        "on",
        "one",
        "only",
        "or",
        "our",
        "out",
        "over",
        "says",
        "said",
        "say",
        "she",
        "should",
        "so",
        "some",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "too",
        "under",
        "up",
        "us",
        "via",
        "vs",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    }
)
_WORD = re.compile(r"\w(?:[\w'\u2019.\-]*\w)?")

TITLE_WEIGHT = 1.0
SUMMARY_WEIGHT = 0.5
TEXT_WEIGHT = 0.25
NAME_BOOST = 1.5
BIGRAM_WEIGHT = 0.5
# A word that the stream mostly writes inside one phrase ("gas" in "natural gas" and in "gas
# prices") says which event through the phrase, not alone: an item's word gives up
# COLLOCATION_MOVE of its weight when a bigram of the item holds at least COLLOCATION_SHARE of
# the word's documents, and a bigram seen in MIN_COLLOCATION_DF items or more gains that share of
# its lighter word's weight. Shared heads of different phrases then weigh less between stories
# ("gas" chained Texas gasoline prices to Europe's Russian gas); the shares are from the stream's
# own counts, so nothing is a list of phrases.
COLLOCATION_SHARE = 0.3
COLLOCATION_MOVE = 0.5
MIN_COLLOCATION_DF = 3
LEAD_WORDS = 120  # of the text, for the bag of terms; near-duplicates see the whole text
SHINGLE_WORDS = 5
MIN_SHINGLES = 20  # shorter texts are too short to call two of them copies
PERMUTATIONS = 64
NORM_EVERY = 32  # a story's norm is recomputed in full up to this size, then this often


@dataclass(frozen=True)
class StoryItem:
    """One article as the clusterer sees it."""

    key: object
    title: str
    published: datetime
    summary: str = ""
    text: str = ""
    source: str = ""
    # An exact copy (same content hash) of this earlier item: it joins the original's story.
    duplicate_of: object | None = None


@dataclass
class Assignment:
    key: object
    story: int
    score: float  # similarity to the story it joined; 1.0 for a near-duplicate, 0.0 for a new one
    near_duplicate_of: object | None = None


@dataclass
class _Story:
    centroid: Counter[str] = field(default_factory=Counter)  # sum of members' raw term weights
    size: int = 0
    # The centroid's norm under the IDF of its last change: IDF drifts slowly, and recomputing
    # the norm of every candidate for every item would dominate the cost of an assignment.
    norm: float = 1.0
    last_seen: datetime | None = None
    index_terms: set[str] = field(default_factory=set)


# A batch reads the state for its items' terms and bands before placing them (stories.batchstore):
# the bag and the MinHash are made once. Callers must not change what these return.
@lru_cache(maxsize=2048)
def terms(title: str, summary: str = "", text: str = "") -> Counter[str]:
    """The weighted bag of terms of an article (before IDF)."""
    bag: Counter[str] = Counter()
    _add_field(bag, title, TITLE_WEIGHT, bigrams=True)
    _add_field(bag, summary, SUMMARY_WEIGHT, bigrams=False)
    if text:
        lead = " ".join(text.split()[:LEAD_WORDS])
        _add_field(bag, lead, TEXT_WEIGHT, bigrams=False)
    return bag


def _add_field(bag: Counter[str], raw: str, weight: float, *, bigrams: bool) -> None:
    kept: list[str] = []
    for token in tokens(raw):
        stop = token.word in STOPWORDS
        if stop and not token.acronym:
            continue
        # A stop word kept because it is written in capitals ("US", "U.S.", "IT") is kept as a
        # word, not weighed up as a name: it is the commonest acronym in headlines, in stories
        # of every kind ("US stocks", "US bankruptcy", "US gas exports"), and weighed up it
        # chained unrelated stories in the merge pass.
        w = weight * (NAME_BOOST if token.name and not stop else 1.0)
        bag[token.term] += w
        kept.append((token.term, w))
    if bigrams:
        for (first, a), (second, b) in pairwise(kept):
            bag[f"{first} {second}"] += BIGRAM_WEIGHT * (a + b) / 2


def _stem(word: str) -> str:
    """Snowball English stem: "claims" is "claim", "files" and "filed" are "file"."""
    return stem(word)


def shingles(text: str) -> set[bytes]:
    words = [w.casefold() for w in _WORD.findall(unicodedata.normalize("NFKC", text))]
    return {
        " ".join(words[i : i + SHINGLE_WORDS]).encode()
        for i in range(max(len(words) - SHINGLE_WORDS + 1, 0))
    }


class ClusterStore(Protocol):
    """Where the clusterer keeps its state: in memory (``MemoryStore``, for the benchmark and
    the tests) or in PostgreSQL (``stories.dbstore.DatabaseStore``, for the workers). The
    decisions are the clusterer's; a store only keeps and finds."""

    def documents(self) -> int: ...
    def df(self, term: str) -> int: ...
    def prefetch(self, terms: Iterable[str]) -> None: ...
    def count_document(self, terms: Iterable[str]) -> None: ...
    def keys_sharing_a_band(self, bands: Sequence[int], horizon: datetime) -> list[object]: ...
    def remember_bands(self, key: object, bands: Sequence[int], published: datetime) -> None: ...
    def story_of(self, key: object) -> int | None: ...
    def is_live(self, story_id: int, horizon: datetime) -> bool: ...
    def candidates(self, terms: Sequence[str], horizon: datetime, limit: int) -> list[int]: ...
    def partial_centroids(
        self, story_ids: Sequence[int], terms: Iterable[str]
    ) -> dict[int, tuple[float, dict[str, float]]]: ...
    def centroid(self, story_id: int) -> dict[str, float]: ...
    def size(self, story_id: int) -> int: ...
    def new_story(self) -> int: ...
    def add_member(
        self, story_id: int, item: StoryItem, raw: dict[str, float], assignment: Assignment
    ) -> int: ...
    def index_terms(self, story_id: int) -> set[str]: ...
    def set_index(
        self, story_id: int, norm: float, index_terms: set[str], current: set[str] | None = None
    ) -> None: ...
    def postings(self, horizon: datetime) -> Iterable[Sequence[int]]: ...
    def can_merge(self, a: int, b: int) -> bool: ...
    def absorb(self, keep: int, gone: int, merged: dict[str, float]) -> None: ...
    def resolve(self, story_id: int) -> int: ...
    def expire(self, horizon: datetime) -> None: ...
    def live_stories(self) -> int: ...


class MemoryStore:
    """The clusterer's state in dicts: one process, one stream."""

    def __init__(self) -> None:
        self._df: Counter[str] = Counter()
        self._docs = 0
        self._stories: dict[int, _Story] = {}
        self._postings: defaultdict[str, set[int]] = defaultdict(set)
        self._merged_into: dict[int, int] = {}
        self._next_id = 0
        self._bands: defaultdict[int, list[object]] = defaultdict(list)
        self._band_keys: deque[tuple[datetime, object, Sequence[int]]] = deque()
        self._story_of_key: dict[object, int] = {}

    def documents(self) -> int:
        return self._docs

    def df(self, term: str) -> int:
        return self._df[term]

    def prefetch(self, terms: Iterable[str]) -> None:
        pass

    def count_document(self, terms: Iterable[str]) -> None:
        self._docs += 1
        self._df.update(terms)

    def keys_sharing_a_band(self, bands: Sequence[int], horizon: datetime) -> list[object]:
        found: dict[object, None] = {}
        for band in bands:
            found.update(dict.fromkeys(self._bands.get(band, ())))
        return list(found)

    def remember_bands(self, key: object, bands: Sequence[int], published: datetime) -> None:
        for band in bands:
            self._bands[band].append(key)
        self._band_keys.append((published, key, bands))

    def story_of(self, key: object) -> int | None:
        story_id = self._story_of_key.get(key)
        return None if story_id is None else self.resolve(story_id)

    def is_live(self, story_id: int, horizon: datetime) -> bool:
        return story_id in self._stories

    def candidates(self, terms: Sequence[str], horizon: datetime, limit: int) -> list[int]:
        seen: Counter[int] = Counter()
        for term in terms:
            seen.update(self._postings.get(term, ()))
        return [story_id for story_id, _ in seen.most_common(limit)]

    def partial_centroids(
        self, story_ids: Sequence[int], terms: Iterable[str]
    ) -> dict[int, tuple[float, dict[str, float]]]:
        wanted = list(terms)
        out = {}
        for story_id in story_ids:
            story = self._stories[story_id]
            out[story_id] = (
                story.norm,
                {t: story.centroid[t] for t in wanted if t in story.centroid},
            )
        return out

    def centroid(self, story_id: int) -> dict[str, float]:
        return self._stories[story_id].centroid

    def size(self, story_id: int) -> int:
        return self._stories[story_id].size

    def new_story(self) -> int:
        story_id = self._next_id
        self._next_id += 1
        self._stories[story_id] = _Story()
        return story_id

    def add_member(
        self, story_id: int, item: StoryItem, raw: dict[str, float], assignment: Assignment
    ) -> int:
        story = self._stories[story_id]
        for term, x in raw.items():
            story.centroid[term] += x
        story.size += 1
        if story.last_seen is None or item.published > story.last_seen:
            story.last_seen = item.published
        self._story_of_key[item.key] = story_id
        return story.size

    def index_terms(self, story_id: int) -> set[str]:
        return set(self._stories[story_id].index_terms)

    def set_index(
        self, story_id: int, norm: float, index_terms: set[str], current: set[str] | None = None
    ) -> None:
        story = self._stories[story_id]
        story.norm = norm
        for term in story.index_terms - index_terms:
            self._postings[term].discard(story_id)
        for term in index_terms - story.index_terms:
            self._postings[term].add(story_id)
        story.index_terms = index_terms

    def postings(self, horizon: datetime) -> Iterable[Sequence[int]]:
        return self._postings.values()

    def can_merge(self, a: int, b: int) -> bool:
        return True

    def absorb(self, keep: int, gone: int, merged: dict[str, float]) -> None:
        into, old = self._stories[keep], self._stories.pop(gone)
        into.centroid = Counter(merged)
        into.size += old.size
        if old.last_seen and (into.last_seen is None or old.last_seen > into.last_seen):
            into.last_seen = old.last_seen
        for term in old.index_terms:
            self._postings[term].discard(gone)
        self._merged_into[gone] = keep

    def resolve(self, story_id: int) -> int:
        while story_id in self._merged_into:
            story_id = self._merged_into[story_id]
        return story_id

    def expire(self, horizon: datetime) -> None:
        for story_id in [
            s for s, story in self._stories.items() if story.last_seen and story.last_seen < horizon
        ]:
            for term in self._stories[story_id].index_terms:
                self._postings[term].discard(story_id)
            del self._stories[story_id]
        while self._band_keys and self._band_keys[0][0] < horizon:
            _, key, bands = self._band_keys.popleft()
            for band in bands:
                keys = self._bands[band]
                keys.remove(key)
                if not keys:
                    del self._bands[band]

    def live_stories(self) -> int:
        return len(self._stories)


@cache
def banding(threshold: float) -> tuple[tuple[int, int], ...]:
    """datasketch's LSH banding (which hash values form each band) for a Jaccard threshold."""
    return tuple(MinHashLSH(threshold=threshold, num_perm=PERMUTATIONS).hashranges)


def band_keys(minhash: MinHash, threshold: float) -> list[int]:
    """The LSH band keys of a MinHash, as signed 64-bit integers a database index can hold:
    two texts are near-duplicate candidates when they share any band (datasketch's banding,
    so the in-memory and database stores find the same pairs)."""
    keys = []
    for band, (start, end) in enumerate(banding(threshold)):
        digest = hashlib.blake2b(
            band.to_bytes(2, "big") + minhash.hashvalues[start:end].byteswap().tobytes(),
            digest_size=8,
        ).digest()
        keys.append(int.from_bytes(digest, "big", signed=True))
    return keys


@cache
def _minhash_template() -> MinHash:
    return MinHash(num_perm=PERMUTATIONS)


@lru_cache(maxsize=2048)
def minhash_of(text: str) -> MinHash | None:
    """The text's MinHash, or None when it is too short to call two of them copies."""
    grams = shingles(text)
    if len(grams) < MIN_SHINGLES:
        return None
    template = _minhash_template()
    # The template's permutations: drawing them is most of a MinHash's making.
    minhash = MinHash(
        num_perm=PERMUTATIONS, permutations=template.permutations, scheme=template.scheme
    )
    minhash.update_batch(list(grams))
    return minhash


class _Scoring:
    """One item's cosine against many candidates' partial centroids, each term's IDF looked up
    once. A candidate shares few of the item's terms: the sum walks those. Every sum of a score
    is ``math.fsum``, correctly rounded whatever the order of its terms, so a score is the float
    ``StoryClusterer._cosine`` gives, and the same whichever order a store keeps (or a database
    returns) a centroid's rows in."""

    __slots__ = ("factors", "norm")

    def __init__(self, vector: dict[str, float], idf, norm) -> None:
        self.norm = norm  # of a centroid whose stored norm is missing, as _cosine falls back
        self.factors = {t: (x, idf(t)) for t, x in vector.items()}

    def cosine(self, centroid: Mapping[str, float], norm: float) -> float:
        factors = self.factors
        if len(centroid) < len(factors):
            shared = [t for t in centroid if t in factors]
        else:
            shared = [t for t in factors if t in centroid]
        dot = math.fsum(x * centroid[t] * i for t in shared for x, i in (factors[t],))
        if not dot:
            return 0.0
        return dot / (norm or self.norm(centroid))


class StoryClusterer:
    """Online story assignment with bounded cost per item. Not thread-safe: one per process
    (a database store is shared by many processes under one lock: see stories.assignment)."""

    def __init__(
        self,
        *,
        threshold: float = 0.12,
        merge_threshold: float = 0.2,
        window: timedelta = timedelta(days=3),
        index_terms: int = 12,
        max_candidates: int = 200,
        duplicate_threshold: float = 0.7,
        small_story_margin: float = 1.0,
        store: ClusterStore | None = None,
    ) -> None:
        self.threshold = threshold
        self.small_story_margin = small_story_margin
        self.merge_threshold = merge_threshold
        self.window = window
        self.index_terms = index_terms
        self.max_candidates = max_candidates
        # Sets the LSH banding: a database's band table holds keys of one banding, so changing
        # it means a restory (old members' bands no longer match).
        self.duplicate_threshold = duplicate_threshold
        self.store: ClusterStore = store if store is not None else MemoryStore()
        # IDF of the terms met since the store's counts last moved: scoring 200 candidates
        # asks for the same terms' IDF 200 times.
        self._idfs: dict[str, float] = {}

    # --- Public ------------------------------------------------------------------------------

    def add(self, item: StoryItem) -> Assignment:
        """Place one item, in arrival order, and return the story it joined or started."""
        store = self.store
        horizon = item.published - self.window
        store.expire(horizon)
        bag = terms(item.title, item.summary, item.text)
        store.count_document(bag.keys())
        self._prefetch(bag.keys())
        original = self._near_duplicate(item, horizon)
        if original is not None:
            story_id = store.story_of(original)
            assignment = Assignment(item.key, story_id, 1.0, near_duplicate_of=original)
            self._join(story_id, bag, item, assignment)
            return assignment
        vector = self._item_vector(bag)
        best, best_score = None, 0.0
        candidates = store.candidates(self._rarest(vector), horizon, self.max_candidates)
        if candidates:
            partial = store.partial_centroids(candidates, vector.keys())
            scored = []
            scoring = _Scoring(vector, self._idf, self._norm)
            for story_id in candidates:
                norm, centroid = partial[story_id]
                score = scoring.cosine(centroid, norm)
                if score >= self.threshold:
                    scored.append((-score, story_id))
            # Most alike first (ties by id, so both stores pick the same story).
            for negative, story_id in sorted(scored):
                if self._clears_bar(story_id, -negative):
                    best, best_score = story_id, -negative
                    break
        fresh = best is None
        if fresh:
            best = store.new_story()
        assignment = Assignment(item.key, best, best_score)
        self._join(best, bag, item, assignment, fresh=fresh, vector=vector)
        return assignment

    def story_of(self, key: object) -> int:
        """The story an item is in now, after any merges."""
        story_id = self.store.story_of(key)
        if story_id is None:
            raise KeyError(key)
        return story_id

    def resolve(self, story_id: int) -> int:
        return self.store.resolve(story_id)

    def merge_pass(self, now: datetime | None = None) -> dict[int, int]:
        """Join live stories whose centroids are alike, most alike first. Returns old → new."""
        store = self.store
        horizon = (now - self.window) if now else datetime.min.replace(tzinfo=UTC)
        merged: dict[int, int] = {}
        heap: list[tuple[float, int, int]] = []
        for a, b in self._candidate_pairs(horizon):
            score = self._story_similarity(a, b)
            if score >= self.merge_threshold:
                heap.append((-score, a, b))
        heapq.heapify(heap)
        while heap:
            _, a, b = heapq.heappop(heap)
            a, b = self.resolve(a), self.resolve(b)
            if a == b or not store.can_merge(a, b):
                continue
            # Centroids change as stories merge: re-check before acting on an old score.
            score = self._story_similarity(a, b)
            if score < self.merge_threshold:
                continue
            keep, gone = (a, b) if store.size(a) >= store.size(b) else (b, a)
            combined = Counter(store.centroid(keep))
            combined.update(store.centroid(gone))
            store.absorb(keep, gone, dict(combined))
            self._reindex(keep)
            merged[gone] = keep
        return {old: self.resolve(new) for old, new in merged.items()}

    def live_stories(self) -> int:
        return self.store.live_stories()

    def reindex(self, story_id: int) -> None:
        """Recompute a story's norm and index terms from its stored centroid (after an editor
        changed its members)."""
        self._reindex(story_id)

    def raw_vector(self, item: StoryItem) -> dict[str, float]:
        """What a member adds to its story's centroid: its unit vector, in raw weights."""
        bag = terms(item.title, item.summary, item.text)
        self._prefetch(bag.keys())
        vector = self._item_vector(bag)
        return {term: x / self._idf(term) for term, x in vector.items()}

    # --- Internals ---------------------------------------------------------------------------

    def _prefetch(self, terms: Iterable[str]) -> None:
        """The store's prefetch, after which its counts may have moved (a refresh)."""
        self.store.prefetch(terms)
        self._idfs.clear()

    def _idf(self, term: str) -> float:
        value = self._idfs.get(term)
        if value is None:
            value = self._idfs[term] = idf(self.store.documents(), self.store.df(term))
        return value

    def _item_vector(self, bag: Mapping[str, float]) -> dict[str, float]:
        """An item's unit vector: its bag with words moved into their collocations, weighted."""
        return self._weighted(self._collocated(bag))

    def _collocated(self, bag: Mapping[str, float]) -> Mapping[str, float]:
        """The item's bag with weight moved from words to the bigrams the stream mostly writes
        them in (see COLLOCATION_SHARE). Only an item's own bag: a centroid already holds its
        members' moved weights. Costs the item's bigrams' and words' frequencies, which the
        store has prefetched with the item's terms."""
        df = self.store.df
        moved: dict[str, float] | None = None
        for term, weight in bag.items():
            if " " not in term:
                continue
            together = df(term)
            if together < MIN_COLLOCATION_DF:
                continue
            if moved is None:
                moved = dict(bag)
            first, second = term.split(" ", 1)
            for word in (first, second):
                if word in moved and together >= COLLOCATION_SHARE * max(df(word), 1):
                    moved[word] = bag[word] * (1.0 - COLLOCATION_MOVE)
            moved[term] = weight + COLLOCATION_MOVE * min(bag.get(first, 0.0), bag.get(second, 0.0))
        return bag if moved is None else moved

    def _weighted(self, bag: Mapping[str, float]) -> dict[str, float]:
        vector = {term: weight * self._idf(term) for term, weight in bag.items()}
        norm = math.sqrt(math.fsum(x * x for x in vector.values())) or 1.0
        return {term: x / norm for term, x in vector.items()}

    def _cosine(
        self, vector: dict[str, float], centroid: Mapping[str, float], norm: float | None = None
    ) -> float:
        idf = self._idf
        dot = math.fsum(x * centroid[t] * idf(t) for t, x in vector.items() if t in centroid)
        if not dot:
            return 0.0
        return dot / (norm or self._norm(centroid))

    def _norm(self, centroid: Mapping[str, float]) -> float:
        # A big story's centroid has tens of thousands of terms but few distinct frequencies,
        # and an IDF is a function of the frequency: compute each once (the same values
        # ``_idf`` gives). ``fsum``: the norm is the same float whatever order the store holds
        # the centroid's terms in (a database returns rows in its plan's order).
        idfs, store = self._idfs, self.store
        docs = store.documents()
        by_df: dict[int, float] = {}
        for t in centroid:
            if t not in idfs:
                df = store.df(t)
                value = by_df.get(df)
                if value is None:
                    value = by_df[df] = idf(docs, df)
                idfs[t] = value
        return math.sqrt(math.fsum((w * idfs[t]) ** 2 for t, w in centroid.items())) or 1.0

    def _story_similarity(self, a: int, b: int) -> float:
        ca, cb = self.store.centroid(a), self.store.centroid(b)
        self._prefetch(ca.keys() | cb.keys())
        return self._cosine(self._weighted(ca), cb)

    def _bar(self, size: int) -> float:
        """The similarity an item needs to join a story of ``size`` members.

        A centroid of many members averages their wordings out, so an item telling the same
        event is more alike to it than to any one member: a story of one headline is one
        outlet's wording, and a single shared word can reach ``threshold`` against it. The bar
        is ``threshold`` for a big story and ``1 + small_story_margin`` times it for a story of
        one member, falling as the story grows."""
        return self.threshold * (1.0 + self.small_story_margin / max(size, 1))

    def _clears_bar(self, story_id: int, score: float) -> bool:
        # Asks the story's size only when the score falls between the bars of a big story and
        # of a one-member story: most items clear or miss every bar, and a size costs a query
        # in the database store.
        if score >= self._bar(1):
            return True
        return score >= self._bar(self.store.size(story_id))

    def _rarest(self, vector: dict[str, float]) -> list[str]:
        return heapq.nlargest(self.index_terms, vector, key=vector.__getitem__)

    def _candidate_pairs(self, horizon: datetime) -> set[tuple[int, int]]:
        pairs: set[tuple[int, int]] = set()
        for story_ids in self.store.postings(horizon):
            if 1 < len(story_ids) <= self.max_candidates:
                ordered = sorted(story_ids)
                pairs.update((a, b) for i, a in enumerate(ordered) for b in ordered[i + 1 :])
        return pairs

    def _join(
        self,
        story_id: int,
        bag: Counter[str],
        item: StoryItem,
        assignment: Assignment,
        *,
        fresh: bool = False,
        vector: dict[str, float] | None = None,
    ) -> None:
        # ``vector``: the item's, when the caller has just weighted it under the same IDF.
        if vector is None:
            vector = self._item_vector(bag)
        idf = self._idf
        idfs = {term: idf(term) for term in vector}
        # Members count equally whatever their length: add the unit vector, in raw weights.
        raw = {term: x / idfs[term] for term, x in vector.items()}
        # The norm and the index terms follow from the terms this member touches (and the
        # current index terms), so a join costs the item's size, not the story's: under one
        # IDF, a term neither in the item nor in the index cannot enter the top.
        index = set() if fresh else self.store.index_terms(story_id)
        if fresh:
            norm, before = 0.0, {}
        else:
            norm, before = self.store.partial_centroids([story_id], raw.keys() | index)[story_id]
        size = self.store.add_member(story_id, item, raw, assignment)
        square = norm * norm
        # The index terms in term order: ``nlargest`` breaks a tie by position, and a set's
        # order (or the database's) is no order.
        value: dict[str, float] = {t: before.get(t, 0.0) * idf(t) for t in sorted(index)}
        for term, x in raw.items():
            old = before.get(term, 0.0)
            weight = idfs[term]
            square += ((old + x) ** 2 - old * old) * weight**2
            value[term] = (old + x) * weight
        top = set(heapq.nlargest(self.index_terms, value, key=value.__getitem__))
        # The norm, though, must follow the IDF as it moves (most while a story is young): it is
        # recomputed in full while the story is small and then every NORM_EVERY members, so
        # the cost per join stays bounded as a story grows.
        if size <= NORM_EVERY or size % NORM_EVERY == 0:
            centroid = self.store.centroid(story_id)
            self._prefetch(centroid.keys())
            norm = self._norm(centroid)
        else:
            norm = math.sqrt(max(square, 0.0)) or 1.0
        self.store.set_index(story_id, norm, top, current=index)

    def _reindex(self, story_id: int) -> None:
        centroid = self.store.centroid(story_id)
        self._prefetch(centroid.keys())
        # In term order: ``_rarest`` breaks a tie by position, and a store's order is no order.
        weighted = self._weighted(dict(sorted(centroid.items())))
        self.store.set_index(story_id, self._norm(centroid), set(self._rarest(weighted)))

    def _near_duplicate(self, item: StoryItem, horizon: datetime) -> object | None:
        # An exact copy (same content hash) joins its original's story whenever it has one.
        if item.duplicate_of is not None and self.store.story_of(item.duplicate_of) is not None:
            return item.duplicate_of
        minhash = minhash_of(item.text)
        if minhash is None:
            return None
        bands = band_keys(minhash, self.duplicate_threshold)
        found = []
        for key in self.store.keys_sharing_a_band(bands, horizon):
            story_id = self.store.story_of(key)
            if key != item.key and story_id is not None and self.store.is_live(story_id, horizon):
                found.append(key)
        self.store.remember_bands(item.key, bands, item.published)
        return found[0] if found else None


def cluster(items: Sequence[StoryItem], *, merge_every: int = 0, **options) -> list[int]:
    """Assign stories to ``items`` in arrival order; a label per item after the merge pass
    (and after one every ``merge_every`` items, as a periodic pass would run in production)."""
    clusterer = StoryClusterer(**options)
    for n, item in enumerate(items, 1):
        clusterer.add(item)
        if merge_every and n % merge_every == 0:
            clusterer.merge_pass()
    clusterer.merge_pass()
    return [clusterer.story_of(item.key) for item in items]


def single_pass_baseline(items: Iterable[StoryItem], *, threshold: float) -> list[int]:
    """The plain single-pass TF-IDF clusterer the benchmark compares against: title words only,
    cosine to a story's centroid, one threshold, no names, no merging, no duplicates."""
    df: Counter[str] = Counter()
    centroids: list[Counter[str]] = []
    labels = []
    for docs, item in enumerate(items, 1):
        words = [w.casefold() for w in _WORD.findall(item.title) if w.casefold() not in STOPWORDS]
        bag = Counter(words)
        df.update(bag.keys())
        vec = {t: n * (math.log((docs + 1) / (df[t] + 1)) + 1.0) for t, n in bag.items()}
        norm = math.sqrt(sum(x * x for x in vec.values())) or 1.0
        vec = {t: x / norm for t, x in vec.items()}
        best, best_score = None, 0.0
        for i, centroid in enumerate(centroids):
            dot = sum(x * centroid.get(t, 0.0) for t, x in vec.items())
            if dot:
                score = dot / (math.sqrt(sum(x * x for x in centroid.values())) or 1.0)
                if score > best_score:
                    best, best_score = i, score
        if best is None or best_score < threshold:
            best = len(centroids)
            centroids.append(Counter())
        centroids[best].update(vec)
        labels.append(best)
    return labels
