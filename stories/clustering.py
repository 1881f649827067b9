"""Story clustering: articles about one event, from any number of outlets, become one story.

Pure and ORM-free, like the matcher: plain items in, a story label per item out, so the worker,
the benchmark and the tests run the same code.

How an item finds its story (single pass, in arrival order):
- It becomes a weighted bag of terms: title words count most, then the summary, then the lead
  of the text; names (capitalised words inside a sentence-case title), acronyms and numbers
  weigh more, because two outlets telling one event agree on who, where and how many, not on
  wording. Words are split, normalised and stemmed by ``stories.features``. Weights are TF-IDF
  with document frequencies learnt from the stream itself, the IDF damped (see features.idf).
- Candidates are the live stories (seen within ``window``) that share one of the item's
  rarest terms, found through an inverted index: the cost per item depends on how many stories
  are live, never on the size of the archive.
- The item joins the candidate whose centroid is most similar (cosine) if that reaches
  ``threshold``; otherwise it starts a story.
- Near-duplicates (syndicated copies, light rewrites of one text) are found first by MinHash
  over word shingles of the text and always join their original's story, whatever the title.
- A merge pass (``merge_pass``) joins live stories whose centroids have grown alike: single-pass
  clustering splits an event whose first reports used different words. Labels map to the
  surviving story. Two workers that started two stories for one event are reconciled by the same
  pass.
"""

from __future__ import annotations

import heapq
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise

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
LEAD_WORDS = 120  # of the text, for the bag of terms; near-duplicates see the whole text
SHINGLE_WORDS = 5
MIN_SHINGLES = 20  # shorter texts are too short to call two of them copies
PERMUTATIONS = 64


@dataclass(frozen=True)
class StoryItem:
    """One article as the clusterer sees it."""

    key: object
    title: str
    published: datetime
    summary: str = ""
    text: str = ""
    source: str = ""


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
        if token.word in STOPWORDS and not token.acronym:
            continue
        w = weight * (NAME_BOOST if token.name else 1.0)
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


class StoryClusterer:
    """Online story assignment with bounded cost per item. Not thread-safe: one per process."""

    def __init__(
        self,
        *,
        threshold: float = 0.12,
        merge_threshold: float = 0.2,
        window: timedelta = timedelta(days=3),
        index_terms: int = 12,
        max_candidates: int = 200,
        duplicate_threshold: float = 0.7,
    ) -> None:
        self.threshold = threshold
        self.merge_threshold = merge_threshold
        self.window = window
        self.index_terms = index_terms
        self.max_candidates = max_candidates
        self._df: Counter[str] = Counter()
        self._docs = 0
        self._stories: dict[int, _Story] = {}
        self._postings: defaultdict[str, set[int]] = defaultdict(set)
        self._merged_into: dict[int, int] = {}
        self._next_id = 0
        self._lsh = MinHashLSH(threshold=duplicate_threshold, num_perm=PERMUTATIONS)
        self._story_of_key: dict[object, int] = {}
        self._lsh_keys: list[tuple[datetime, object]] = []

    # --- Public ------------------------------------------------------------------------------

    def add(self, item: StoryItem) -> Assignment:
        """Place one item, in arrival order, and return the story it joined or started."""
        self._expire(item.published)
        bag = terms(item.title, item.summary, item.text)
        self._docs += 1
        self._df.update(bag.keys())
        original = self._near_duplicate(item)
        if original is not None:
            story_id = self.story_of(original)
            self._join(story_id, bag, item)
            return Assignment(item.key, story_id, 1.0, near_duplicate_of=original)
        vector = self._weighted(bag)
        best, best_score = None, 0.0
        for story_id in self._candidates(vector):
            story = self._stories[story_id]
            score = self._cosine(vector, story.centroid, story.norm)
            if score > best_score:
                best, best_score = story_id, score
        if best is None or best_score < self.threshold:
            best, best_score = self._new_story(), 0.0
        self._join(best, bag, item)
        return Assignment(item.key, best, best_score)

    def story_of(self, key: object) -> int:
        """The story an item is in now, after any merges."""
        return self.resolve(self._story_of_key[key])

    def resolve(self, story_id: int) -> int:
        while story_id in self._merged_into:
            story_id = self._merged_into[story_id]
        return story_id

    def merge_pass(self) -> dict[int, int]:
        """Join live stories whose centroids are alike, most alike first. Returns old → new."""
        merged: dict[int, int] = {}
        heap: list[tuple[float, int, int]] = []
        for a, b in self._candidate_pairs():
            score = self._story_similarity(a, b)
            if score >= self.merge_threshold:
                heap.append((-score, a, b))
        heapq.heapify(heap)
        while heap:
            _, a, b = heapq.heappop(heap)
            a, b = self.resolve(a), self.resolve(b)
            if a == b:
                continue
            # Centroids change as stories merge: re-check before acting on an old score.
            score = self._story_similarity(a, b)
            if score < self.merge_threshold:
                continue
            keep, gone = (a, b) if self._stories[a].size >= self._stories[b].size else (b, a)
            self._absorb(keep, gone)
            merged[gone] = keep
        return {old: self.resolve(new) for old, new in merged.items()}

    def live_stories(self) -> int:
        return len(self._stories)

    # --- Internals ---------------------------------------------------------------------------

    def _idf(self, term: str) -> float:
        return idf(self._docs, self._df[term])

    def _weighted(self, bag: Counter[str]) -> dict[str, float]:
        vector = {term: weight * self._idf(term) for term, weight in bag.items()}
        norm = math.sqrt(sum(x * x for x in vector.values())) or 1.0
        return {term: x / norm for term, x in vector.items()}

    def _cosine(
        self, vector: dict[str, float], centroid: Counter[str], norm: float | None = None
    ) -> float:
        idf = self._idf
        dot = sum(x * centroid[t] * idf(t) for t, x in vector.items() if t in centroid)
        if not dot:
            return 0.0
        return dot / (norm or self._norm(centroid))

    def _norm(self, centroid: Counter[str]) -> float:
        idf = self._idf
        return math.sqrt(sum((w * idf(t)) ** 2 for t, w in centroid.items())) or 1.0

    def _story_similarity(self, a: int, b: int) -> float:
        return self._cosine(self._weighted(self._stories[a].centroid), self._stories[b].centroid)

    def _rarest(self, vector: dict[str, float]) -> list[str]:
        return heapq.nlargest(self.index_terms, vector, key=vector.__getitem__)

    def _candidates(self, vector: dict[str, float]) -> list[int]:
        seen: Counter[int] = Counter()
        for term in self._rarest(vector):
            seen.update(self._postings.get(term, ()))
        return [story_id for story_id, _ in seen.most_common(self.max_candidates)]

    def _candidate_pairs(self) -> set[tuple[int, int]]:
        pairs: set[tuple[int, int]] = set()
        for story_ids in self._postings.values():
            if 1 < len(story_ids) <= self.max_candidates:
                ordered = sorted(story_ids)
                pairs.update((a, b) for i, a in enumerate(ordered) for b in ordered[i + 1 :])
        return pairs

    def _new_story(self) -> int:
        story_id = self._next_id
        self._next_id += 1
        self._stories[story_id] = _Story()
        return story_id

    def _join(self, story_id: int, bag: Counter[str], item: StoryItem) -> None:
        story = self._stories[story_id]
        vector = self._weighted(bag)
        # Members count equally whatever their length: add the unit vector, in raw weights.
        for term, x in vector.items():
            story.centroid[term] += x / self._idf(term)
        story.size += 1
        if story.last_seen is None or item.published > story.last_seen:
            story.last_seen = item.published
        self._story_of_key[item.key] = story_id
        self._reindex(story_id)

    def _reindex(self, story_id: int) -> None:
        story = self._stories[story_id]
        story.norm = self._norm(story.centroid)
        wanted = set(self._rarest(self._weighted(story.centroid)))
        for term in story.index_terms - wanted:
            self._postings[term].discard(story_id)
        for term in wanted - story.index_terms:
            self._postings[term].add(story_id)
        story.index_terms = wanted

    def _absorb(self, keep: int, gone: int) -> None:
        into, old = self._stories[keep], self._stories.pop(gone)
        into.centroid.update(old.centroid)
        into.size += old.size
        if old.last_seen and (into.last_seen is None or old.last_seen > into.last_seen):
            into.last_seen = old.last_seen
        for term in old.index_terms:
            self._postings[term].discard(gone)
        self._merged_into[gone] = keep
        self._reindex(keep)

    def _expire(self, now: datetime) -> None:
        """Stories quiet for longer than the window stop taking new items."""
        horizon = now - self.window
        for story_id in [
            s for s, story in self._stories.items() if story.last_seen and story.last_seen < horizon
        ]:
            for term in self._stories[story_id].index_terms:
                self._postings[term].discard(story_id)
            del self._stories[story_id]
        while self._lsh_keys and self._lsh_keys[0][0] < horizon:
            _, key = self._lsh_keys.pop(0)
            self._lsh.remove(key)

    def _near_duplicate(self, item: StoryItem) -> object | None:
        grams = shingles(item.text)
        if len(grams) < MIN_SHINGLES:
            return None
        minhash = MinHash(num_perm=PERMUTATIONS)
        minhash.update_batch(list(grams))
        found = [
            key
            for key in self._lsh.query(minhash)
            if self.resolve(self._story_of_key[key]) in self._stories
        ]
        self._lsh.insert(item.key, minhash)
        self._lsh_keys.append((item.published, item.key))
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
