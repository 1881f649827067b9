"""Topic models learned from labelled articles: plain texts in, a fitted, versioned model out.

One shared TF-IDF vocabulary (words; bigrams optional) and one logistic regression per topic.
The per-topic coefficients are pruned to each topic's strongest terms and kept together as one
sparse float32 matrix (terms x topics), so predicting every topic for an article is one sparse
product, and a model for a thousand topics stays small.

Each topic's regression is fitted with balanced class weights (rare topics are otherwise never
predicted), which inflates its probabilities. So, by cross-validation inside the training
examples (``Options.calibration_folds``), each topic's scores are calibrated (Platt scaling,
folded into its coefficients and intercept: prediction costs nothing more) and the publish
level with the best F1 is recorded per topic (``TopicModel.publish_at``) as a suggestion.

A model is saved as an ``.npz`` archive of plain arrays plus a JSON header with a format version
(never pickle): a file that is damaged or from another format fails with ``ModelLoadError``.

No ORM here: the database side (`tags.modelling`) turns articles and decisions into
``LabelledText`` and stores what ``TopicModel.to_bytes`` returns.
"""

from __future__ import annotations

import functools
import io
import itertools
import json
import re
import unicodedata
import uuid
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
from scipy import sparse

# scipy's own C loop behind ``csr[rows]``, called without that indexing's per-call checks:
# gathering an article's rows of the coefficients was one numpy slice per term in Python.
from scipy.sparse._sparsetools import csr_row_index
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

FORMAT = "newsdesk-topic-model"
# 2: unigram features by default, calibrated coefficients, per-topic suggested publish levels.
FORMAT_VERSION = 2
# A topic with fewer positive examples than this is not learned: it stays on rules.
MIN_POSITIVES = 10


class ModelLoadError(ValueError):
    """A stored model could not be read; the message says why."""


@dataclass(frozen=True)
class LabelledText:
    """One article an editor (or an imported archive) has labelled with its topics."""

    title: str
    summary: str = ""
    text: str = ""
    topics: frozenset[str] = frozenset()
    date: datetime | None = None
    # The topics this example is labelled for (an editor's decision speaks for one topic);
    # None: for every topic, so it is a negative for each topic it does not carry.
    only: frozenset[str] | None = None


@dataclass(frozen=True)
class Options:
    # 1: words; 2: words and word bigrams (no better on news topics, and slower to serve).
    ngram_max: int = 1
    min_df: int = 2
    max_df: float = 0.5
    max_features: int = 100_000
    # Inverse regularisation strength of each topic's logistic regression.
    c: float = 32.0
    # Strongest coefficients kept per topic; the rest are dropped to keep the model small.
    max_terms_per_topic: int = 1000
    min_positives: int = MIN_POSITIVES
    # Inner cross-validation folds for calibration and the suggested publish levels; 0: none
    # (raw balanced-weight probabilities, publish level 0.5).
    calibration_folds: int = 3


@dataclass(frozen=True)
class Scored:
    """One article's features and its probability per topic (from ``TopicModel.score``)."""

    idx: np.ndarray
    values: np.ndarray
    probabilities: dict[str, float]


@dataclass(frozen=True)
class TopicScore:
    """The model's view of one topic for one article."""

    topic: str
    probability: float
    # The terms that weighed most towards the topic, with their contribution to the log-odds.
    terms: tuple[tuple[str, float], ...] = ()


def document(title: str, summary: str, text: str) -> str:
    # The title counts twice: it is what an article is about, as for the rules' title weight.
    return f"{title}\n{title}\n{summary}\n{text}"


_TOKEN = re.compile(r"\w\w+")


def analyze(doc: str, ngram_max: int = 2) -> list[str]:
    """Lower-cased words of two or more characters, accents stripped, then (with
    ``ngram_max=2``) word bigrams.

    Used both for fitting (inside scikit-learn) and for predicting (by hand, below), so the two
    can never disagree about what a term is.
    """
    doc = doc.lower()
    if not doc.isascii():
        doc = "".join(c for c in unicodedata.normalize("NFKD", doc) if not unicodedata.combining(c))
    words = _TOKEN.findall(doc)
    if ngram_max < 2:
        return words
    # map/join keep the loop in C: this runs for every article a worker tags.
    return words + list(map(" ".join, itertools.pairwise(words)))


def _vectorizer(options: Options) -> TfidfVectorizer:
    if options.ngram_max not in (1, 2):
        raise ValueError("ngram_max must be 1 (words) or 2 (words and bigrams)")
    return TfidfVectorizer(
        analyzer=functools.partial(analyze, ngram_max=options.ngram_max),
        min_df=options.min_df,
        max_df=options.max_df,
        max_features=options.max_features,
        sublinear_tf=True,
        dtype=np.float32,
    )


@dataclass
class TopicModel:
    """A fitted model for a set of topics; build with ``fit`` or ``TopicModel.from_bytes``."""

    version: str
    topics: tuple[str, ...]
    terms: tuple[str, ...]
    idf: np.ndarray  # float32, one per term
    coef: sparse.csr_matrix  # float32, terms x topics
    intercept: np.ndarray  # float32, one per topic
    options: Options = field(default_factory=Options)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    n_examples: int = 0
    positives: dict[str, int] = field(default_factory=dict)
    # Topics asked for but not learned, with the reason (e.g. too few positives).
    skipped: dict[str, str] = field(default_factory=dict)
    # Per topic, the publish level with the best cross-validated F1 on the training examples.
    publish_at: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._index = {topic: i for i, topic in enumerate(self.topics)}
        self._vocabulary = {term: i for i, term in enumerate(self.terms)}
        self.coef = sparse.csr_matrix(self.coef, dtype=np.float32)
        self.idf = np.asarray(self.idf, dtype=np.float32)
        self.intercept = np.asarray(self.intercept, dtype=np.float32)
        # By topic too, for explaining one topic without touching the others' coefficients.
        self._coef_csc = self.coef.tocsc()
        self._coef_csc.sort_indices()

    def __contains__(self, topic: str) -> bool:
        return topic in self._index

    # --- predicting ----------------------------------------------------------------------------

    def features(self, doc: str) -> tuple[np.ndarray, np.ndarray]:
        """One document's TF-IDF vector as (term indices, weights), as scikit-learn computes it
        (sublinear tf, smoothed idf, unit length) without its per-call overhead."""
        # Counted first (in C), so the vocabulary is looked up once per distinct word.
        counted = Counter(analyze(doc, self.options.ngram_max))
        found = np.fromiter(
            map(self._vocabulary.get, counted, itertools.repeat(-1)),
            dtype=np.int64,
            count=len(counted),
        )
        counts = np.fromiter(counted.values(), dtype=np.int64, count=len(counted))
        known = found >= 0
        if not known.any():
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        found, counts = found[known], counts[known]
        order = np.argsort(found)
        idx, counts = found[order], counts[order]
        values = (1.0 + np.log(counts, dtype=np.float32)) * self.idf[idx]
        values /= np.sqrt(np.dot(values, values))
        return idx, values

    def vectorize(self, docs: Iterable[str]) -> sparse.csr_matrix:
        rows = [self.features(doc) for doc in docs]
        indptr = np.cumsum([0, *(len(idx) for idx, _ in rows)])
        indices = np.concatenate([idx for idx, _ in rows]) if rows else np.zeros(0, np.int64)
        data = np.concatenate([v for _, v in rows]) if rows else np.zeros(0, np.float32)
        return sparse.csr_matrix(
            (data, indices, indptr), shape=(len(rows), len(self.terms)), dtype=np.float32
        )

    def probabilities(self, x: sparse.csr_matrix) -> np.ndarray:
        """Rows of documents (from ``vectorize``) -> their probability per topic."""
        logits = np.asarray((x @ self.coef).todense(), dtype=np.float32) + self.intercept
        return 1.0 / (1.0 + np.exp(-logits))

    def logits(self, idx: np.ndarray, values: np.ndarray) -> np.ndarray:
        """One document's log-odds per topic (float32): its terms' rows of the coefficients,
        each product in float32, summed per topic in float64 in term order. Plain numpy on the
        arrays: scipy's per-call checks cost more than the arithmetic for one article, and its
        float32 sums would round differently from the probabilities the levels were set on."""
        if not len(idx):
            return np.zeros(len(self.topics), np.float32) + self.intercept
        lengths, cols, weights = _gather_rows(self.coef, idx)
        weights *= np.repeat(values, lengths)
        summed = np.bincount(cols, weights=weights, minlength=len(self.topics))
        return summed.astype(np.float32) + self.intercept

    def article_probabilities(self, idx: np.ndarray, values: np.ndarray) -> np.ndarray:
        """One document's probability per topic (float32), from ``features``."""
        return 1.0 / (1.0 + np.exp(-self.logits(idx, values)))

    def predict(
        self,
        *,
        title: str = "",
        summary: str = "",
        text: str = "",
        min_probability: float = 0.0,
        top_terms: int = 5,
    ) -> dict[str, TopicScore]:
        """Each topic's probability for one article, with the terms that weighed most.

        Topics below ``min_probability`` are left out, which saves explaining a thousand topics
        when only a few are candidates.
        """
        scored = self.score(title=title, summary=summary, text=text, min_probability=0.0)
        keep = [t for t, p in scored.probabilities.items() if p >= min_probability]
        terms = self.explain(scored, keep, top_terms)
        return {t: TopicScore(t, scored.probabilities[t], terms.get(t, ())) for t in keep}

    def score(
        self,
        *,
        title: str = "",
        summary: str = "",
        text: str = "",
        min_probability: float = 0.0,
        include: Iterable[str] = (),
    ) -> Scored:
        """Each topic's probability (those at or above ``min_probability``, and those in
        ``include`` whatever it is), without terms: the worker decides first, then
        ``explain``s only the links and review items it makes."""
        idx, values = self.features(document(title, summary, text))
        probs = self.article_probabilities(idx, values)
        wanted = probs >= min_probability
        wanted[[self._index[t] for t in include if t in self._index]] = True
        keep = np.flatnonzero(wanted)
        return Scored(
            idx,
            values,
            {self.topics[t]: float(p) for t, p in zip(keep, probs[keep], strict=True)},
        )

    def explain(
        self, scored: Scored, topics: Iterable[str], n: int = 5
    ) -> dict[str, tuple[tuple[str, float], ...]]:
        """The ``n`` terms that weighed most towards each of ``topics`` in a scored article."""
        return self.explain_columns(
            scored.idx, scored.values, sorted(self._index[t] for t in topics if t in self._index), n
        )

    def explain_columns(
        self, idx: np.ndarray, values: np.ndarray, columns: Sequence[int], n: int = 5
    ) -> dict[str, tuple[tuple[str, float], ...]]:
        """``explain`` by topic columns (ascending, distinct), for a document from ``features``:
        per topic its positive contributions, largest first (ties in term order), rounded to 4
        places.

        From the topics' own columns of the coefficients (kept by topic too), so that scoring
        keeps nothing per coefficient for it: the worker explains only the few topics it links
        or sends to review."""
        if n <= 0 or not len(idx) or not len(columns):
            return {}
        lengths, terms, weights = _gather_rows(self._coef_csc, columns)
        cols = np.repeat(np.asarray(columns), lengths)
        # Where each of the columns' terms is in the document (-1: absent).
        position = np.full(len(self.terms), -1, np.int64)
        position[idx] = np.arange(len(idx))
        at = position[terms]
        hit = np.flatnonzero(at >= 0)
        # The same float32 products as ``logits``.
        contributions = weights[hit] * values[at[hit]]
        positive = contributions > 0
        hit, contributions = hit[positive], contributions[positive]
        # By topic, then largest first; a column's terms are in term order, which a stable
        # sort keeps for ties.
        ranked = np.lexsort((-contributions, cols[hit]))
        order, ordered_cols = hit[ranked], cols[hit[ranked]]
        # The first n of each topic (hundreds of an article's terms weigh towards its topics).
        first = np.ones(len(order), dtype=bool)
        np.not_equal(ordered_cols[1:], ordered_cols[:-1], out=first[1:])
        group = np.flatnonzero(first)
        rank = np.arange(len(order)) - np.repeat(group, np.diff(group, append=len(order)))
        top = ranked[rank < n]
        rounded = np.round(contributions[top].astype(np.float64), 4).tolist()
        found: dict[str, list[tuple[str, float]]] = {}
        names, topics = self.terms, self.topics
        for col, term, weight in zip(
            cols[hit[top]].tolist(), terms[hit[top]].tolist(), rounded, strict=True
        ):
            found.setdefault(topics[col], []).append((names[term], weight))
        return {topic: tuple(picked) for topic, picked in found.items()}

    # --- storing -------------------------------------------------------------------------------

    def header(self) -> dict:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "version": self.version,
            "created_at": self.created_at.isoformat(),
            "topics": list(self.topics),
            "options": self.options.__dict__,
            "n_examples": self.n_examples,
            "positives": self.positives,
            "skipped": self.skipped,
            "publish_at": self.publish_at,
        }

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        coef = self.coef.tocsr()
        np.savez_compressed(
            buf,
            header=np.frombuffer(json.dumps(self.header()).encode(), dtype=np.uint8),
            terms=np.frombuffer("\n".join(self.terms).encode(), dtype=np.uint8),
            idf=self.idf.astype(np.float32),
            coef_data=coef.data.astype(np.float32),
            coef_indices=coef.indices.astype(np.int32),
            coef_indptr=coef.indptr.astype(np.int64),
            intercept=self.intercept.astype(np.float32),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> TopicModel:
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise ModelLoadError(f"not a topic model file ({exc})") from exc
        missing = {
            "header",
            "terms",
            "idf",
            "coef_data",
            "coef_indices",
            "coef_indptr",
            "intercept",
        } - set(arrays)
        if missing:
            raise ModelLoadError(f"model file lacks {', '.join(sorted(missing))}")
        try:
            header = json.loads(arrays["header"].tobytes().decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelLoadError(f"model header is not JSON ({exc})") from exc
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ModelLoadError("not a Newsdesk topic model")
        if header.get("format_version") != FORMAT_VERSION:
            raise ModelLoadError(
                f"model format version {header.get('format_version')!r}; this Newsdesk reads "
                f"version {FORMAT_VERSION} (retrain with manage.py trainmodels)"
            )
        text = arrays["terms"].tobytes().decode()
        terms = tuple(text.split("\n")) if text else ()
        topics = tuple(header["topics"])
        idf, intercept = arrays["idf"], arrays["intercept"]
        try:
            coef = sparse.csr_matrix(
                (arrays["coef_data"], arrays["coef_indices"], arrays["coef_indptr"]),
                shape=(len(terms), len(topics)),
            )
        except ValueError as exc:
            raise ModelLoadError(f"model coefficients are damaged ({exc})") from exc
        if idf.shape != (len(terms),) or intercept.shape != (len(topics),):
            raise ModelLoadError("model arrays do not agree in size")
        try:
            options = Options(**header.get("options", {}))
            created = datetime.fromisoformat(header["created_at"])
        except (TypeError, ValueError, KeyError) as exc:
            raise ModelLoadError(f"model header is damaged ({exc})") from exc
        return cls(
            version=str(header["version"]),
            topics=topics,
            terms=terms,
            idf=idf,
            coef=coef,
            intercept=intercept,
            options=options,
            created_at=created,
            n_examples=int(header.get("n_examples", 0)),
            positives={k: int(v) for k, v in header.get("positives", {}).items()},
            skipped=dict(header.get("skipped", {})),
            publish_at={k: float(v) for k, v in header.get("publish_at", {}).items()},
        )

    @property
    def nbytes(self) -> int:
        """Memory held by the model's arrays and vocabulary (an estimate for the vocabulary)."""
        arrays = self.idf.nbytes + self.intercept.nbytes
        for coef in (self.coef, self._coef_csc):
            arrays += coef.data.nbytes + coef.indices.nbytes + coef.indptr.nbytes
        # A vocabulary entry: the str object, its dict slot and the int it maps to.
        vocab = sum(49 + len(t) for t in self.terms) + len(self.terms) * (8 * 3 + 28)
        return arrays + vocab


# --- fitting -------------------------------------------------------------------------------------


def _gather_rows(
    matrix: sparse.csr_matrix | sparse.csc_matrix, rows: np.ndarray | Sequence[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of a CSR matrix (columns of a CSC one), in the order given: each row's length, and
    their indices and values one after another, as ``np.concatenate`` of their slices."""
    indptr = matrix.indptr
    rows = np.asarray(rows, dtype=indptr.dtype)
    lengths = indptr[rows + 1] - indptr[rows]
    total = int(lengths.sum())
    indices = np.empty(total, matrix.indices.dtype)
    data = np.empty(total, matrix.data.dtype)
    csr_row_index(len(rows), rows, indptr, matrix.indices, matrix.data, indices, data)
    return lengths, indices, data


def topic_counts(examples: Iterable[LabelledText]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for example in examples:
        for topic in example.topics:
            counts[topic] = counts.get(topic, 0) + 1
    return counts


def fit(
    examples: Sequence[LabelledText],
    topics: Iterable[str] | None = None,
    options: Options | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> TopicModel:
    """Learn one classifier per topic from the examples; every example counts as a negative for
    the topics it does not carry. Topics with too few positives are listed in ``skipped``."""
    options = options or Options()
    counts = topic_counts(examples)
    wanted = sorted(set(topics) if topics is not None else set(counts))
    learnable = [t for t in wanted if counts.get(t, 0) >= options.min_positives]
    skipped = {
        t: f"{counts.get(t, 0)} labelled articles, at least {options.min_positives} needed"
        for t in wanted
        if t not in learnable
    }
    for t in learnable:
        if counts[t] >= sum(1 for e in examples if e.only is None or t in e.only):
            skipped[t] = "every labelled article carries it: nothing to tell it from"
    learnable = [t for t in learnable if t not in skipped]
    vec = _vectorizer(options)
    docs = [document(e.title, e.summary, e.text) for e in examples]
    if docs:
        try:
            x = vec.fit_transform(docs)
        except ValueError:
            # min_df/max_df leave no terms (a tiny training set): fall back to every term.
            vec = _vectorizer(Options(**{**options.__dict__, "min_df": 1, "max_df": 1.0}))
            x = vec.fit_transform(docs)
        terms = tuple(vec.get_feature_names_out().tolist())
        idf = vec.idf_.astype(np.float32)
    else:
        x, terms, idf = sparse.csr_matrix((0, 0), dtype=np.float32), (), np.zeros(0, np.float32)
    columns, intercepts, publish_at = [], [], {}
    for topic in learnable:
        if progress:
            progress(topic)
        rows = [i for i, e in enumerate(examples) if e.only is None or topic in e.only]
        y = np.fromiter((topic in examples[i].topics for i in rows), dtype=bool, count=len(rows))
        xt = x[rows] if len(rows) < len(examples) else x
        w, b = _regression(xt, y, options)
        if np.count_nonzero(w) > options.max_terms_per_topic:
            keep = np.argpartition(np.abs(w), -options.max_terms_per_topic)
            w[keep[: -options.max_terms_per_topic]] = 0
        scale, shift, publish_at[topic] = _calibrate(xt, y, options)
        columns.append(sparse.csc_matrix((w * scale).astype(np.float32).reshape(-1, 1)))
        intercepts.append(b * scale + shift)
    if columns:
        coef = sparse.hstack(columns, format="csr", dtype=np.float32)
    else:
        coef = sparse.csr_matrix((len(terms), 0), dtype=np.float32)
    coef.eliminate_zeros()
    return TopicModel(
        version=uuid.uuid4().hex[:12],
        topics=tuple(learnable),
        terms=terms,
        idf=idf,
        coef=coef,
        intercept=np.asarray(intercepts, dtype=np.float32),
        options=options,
        n_examples=len(examples),
        positives={t: counts.get(t, 0) for t in wanted},
        skipped=skipped,
        publish_at=publish_at,
    )


def _regression(x: sparse.csr_matrix, y: np.ndarray, options: Options) -> tuple[np.ndarray, float]:
    # The dual solver: far faster than the primal when terms outnumber articles.
    clf = LogisticRegression(
        solver="liblinear", dual=True, C=options.c, class_weight="balanced", max_iter=1000
    )
    clf.fit(x, y)
    return clf.coef_[0].astype(np.float32), float(clf.intercept_[0])


# Publish levels tried for each topic's suggestion.
LEVELS = np.round(np.arange(0.05, 0.951, 0.05), 2)


def _calibrate(x: sparse.csr_matrix, y: np.ndarray, options: Options) -> tuple[float, float, float]:
    """(scale, shift, publish level) for one topic from out-of-fold scores on its examples.

    Platt scaling: a one-feature logistic regression from the out-of-fold log-odds to the
    (smoothed) labels, so that probabilities mean what they say; then the level with the best
    F1 on the calibrated out-of-fold probabilities (ties: the level nearest 0.5). Without
    enough examples of each kind for the folds: no calibration, level 0.5.
    """
    folds = options.calibration_folds
    positives = int(y.sum())
    if folds < 2 or min(positives, len(y) - positives) < folds:
        return 1.0, 0.0, 0.5
    logits = np.zeros(len(y), dtype=np.float64)
    for inner, held in StratifiedKFold(folds, shuffle=True, random_state=0).split(x, y):
        w, b = _regression(x[inner], y[inner], options)
        logits[held] = x[held] @ w + b
    # Platt's smoothed targets, (positives + 1) / (positives + 2) and 1 / (negatives + 2):
    # a few perfectly separated examples must not make the model certain.
    negatives = len(y) - positives
    target = np.where(y, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    platt = LogisticRegression(C=1e4).fit(
        np.concatenate([logits, logits]).reshape(-1, 1),
        np.r_[np.ones(len(y), bool), np.zeros(len(y), bool)],
        sample_weight=np.r_[target, 1 - target],
    )
    scale, shift = float(platt.coef_[0, 0]), float(platt.intercept_[0])
    if scale <= 0:  # scores that do not rank positives higher: leave them as they are
        return 1.0, 0.0, 0.5
    probs = 1.0 / (1.0 + np.exp(-(logits * scale + shift)))
    predicted = probs[:, None] >= LEVELS[None, :]
    tp = (predicted & y[:, None]).sum(axis=0)
    f1 = 2 * tp / (predicted.sum(axis=0) + positives)
    best = max(range(len(LEVELS)), key=lambda k: (round(float(f1[k]), 6), -abs(LEVELS[k] - 0.5)))
    return scale, shift, float(LEVELS[best])


# --- cross-validation ----------------------------------------------------------------------------


def kfold(n: int, folds: int = 5, seed: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index arrays for ``folds`` shuffled folds (fewer when n is small)."""
    folds = max(2, min(folds, n))
    order = np.random.default_rng(seed).permutation(n)
    for part in np.array_split(order, folds):
        test = np.sort(part)
        yield np.setdiff1d(order, test, assume_unique=True), test


def time_split(
    examples: Sequence[LabelledText], train_fraction: float = 0.8
) -> tuple[np.ndarray, np.ndarray]:
    """Train on the oldest ``train_fraction`` by date, test on the newest rest (undated last)."""
    far = datetime.max.replace(tzinfo=UTC)
    order = sorted(
        range(len(examples)),
        key=lambda i: (_aware(examples[i].date) or far, i),
    )
    cut = round(len(order) * train_fraction)
    return np.asarray(sorted(order[:cut]), dtype=int), np.asarray(sorted(order[cut:]), dtype=int)


def _aware(when: datetime | None) -> datetime | None:
    if when is None or when.tzinfo is not None:
        return when
    return when.replace(tzinfo=UTC)


def out_of_fold(
    examples: Sequence[LabelledText],
    topics: Sequence[str],
    splits: Iterable[tuple[np.ndarray, np.ndarray]],
    options: Options | None = None,
) -> np.ndarray:
    """Each test example's probability per topic from a model that never saw it.

    Returns an (examples x topics) float32 array; NaN where no split tested the example or the
    fold's model could not learn the topic (the rules then decide alone).
    """
    probs = np.full((len(examples), len(topics)), np.nan, dtype=np.float32)
    for train, test in splits:
        model = fit([examples[i] for i in train], topics, options)
        if not model.topics or not len(test):
            continue
        x = model.vectorize(
            document(examples[i].title, examples[i].summary, examples[i].text) for i in test
        )
        p = model.probabilities(x)
        for col, topic in enumerate(topics):
            if topic in model:
                probs[test, col] = p[:, model.topics.index(topic)]
    return probs


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, predicted: bool, actual: bool) -> None:
        if predicted and actual:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif actual:
            self.fn += 1

    def __iadd__(self, other: Counts) -> Counts:
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn
        return self

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def micro(per_topic: dict[str, Counts]) -> Counts:
    total = Counts()
    for counts in per_topic.values():
        total += counts
    return total


def macro_f1(per_topic: dict[str, Counts]) -> float:
    return sum(c.f1 for c in per_topic.values()) / len(per_topic) if per_topic else 0.0
