"""The model's share of tagging, made faster, decides exactly as before on real stories.

``old_plan`` and ``OldScoring`` keep the previous ``tags.modelling.plan`` and
``TopicModel.score``/``explain`` for this comparison only. Everything a plan holds is compared:
the matches kept (whole, with their hits), the model's links and review items with their
probabilities, reasons and top terms, and the vetoes; and every topic's probability, bit for
bit. Stories are read in place from the shared labelled archive; the model is trained on part
of it for synthetic topics like bench/topic_models.py's, and tested on other stories.
"""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tags import combining, learning, modelling
from tags.matching import Matcher, Rule, TagMatch

CORPUS = Path(__file__).resolve().parents[2] / "shared/corpus/labelled-news"
CORPUS_FILE = CORPUS / "reuters21578-modapte-train.jsonl"

pytestmark = pytest.mark.skipif(
    not CORPUS_FILE.exists(), reason=f"labelled archive not found at {CORPUS}"
)

PUBLISH, WEAK, REVIEW = combining.Action.PUBLISH, combining.Action.WEAK, combining.Action.REVIEW


@dataclass(frozen=True)
class OldScored:
    idx: np.ndarray
    values: np.ndarray
    probabilities: dict[str, float]
    parts: tuple[np.ndarray, np.ndarray, np.ndarray]


class OldScoring:
    """The previous ``TopicModel.score`` and ``explain``, over a model's arrays."""

    def __init__(self, model: learning.TopicModel) -> None:
        self.model = model

    def features(self, doc):
        m = self.model
        terms = learning.analyze(doc, m.options.ngram_max)
        found = np.fromiter(
            map(m._vocabulary.get, terms, itertools.repeat(-1)), dtype=np.int64, count=len(terms)
        )
        found = found[found >= 0]
        if not len(found):
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        idx, counts = np.unique(found, return_counts=True)
        values = (1.0 + np.log(counts, dtype=np.float32)) * m.idf[idx]
        values /= np.sqrt(np.dot(values, values))
        return idx, values

    def contributions(self, idx, values):
        coef = self.model.coef
        indptr = coef.indptr
        starts = indptr[idx]
        lengths = indptr[idx + 1] - starts
        total = int(lengths.sum())
        offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(total)
        rows = np.repeat(np.arange(len(idx)), lengths)
        weights = coef.data[offsets] * np.repeat(values, lengths)
        return rows, coef.indices[offsets].astype(np.int64), weights

    def score(self, *, title="", summary="", text="", min_probability=0.0, include=()):
        m = self.model
        idx, values = self.features(learning.document(title, summary, text))
        parts = self.contributions(idx, values)
        _, cols, contributions = parts
        summed = np.bincount(cols, weights=contributions, minlength=len(m.topics))
        logits = summed.astype(np.float32) + m.intercept
        probs = 1.0 / (1.0 + np.exp(-logits))
        wanted = probs >= min_probability
        index = {t: i for i, t in enumerate(m.topics)}
        wanted[[index[t] for t in include if t in index]] = True
        keep = np.flatnonzero(wanted)
        return OldScored(
            idx,
            values,
            {m.topics[t]: float(p) for t, p in zip(keep, probs[keep], strict=True)},
            parts,
        )

    def explain(self, scored, topics, n=5):
        m = self.model
        index = {t: i for i, t in enumerate(m.topics)}
        cols = np.asarray(sorted(index[t] for t in topics if t in index), np.int64)
        if n <= 0 or not len(scored.idx) or not len(cols):
            return {}
        rows, all_cols, contributions = scored.parts
        wanted = np.zeros(len(m.topics), dtype=bool)
        wanted[cols] = True
        picked = np.flatnonzero(wanted[all_cols])
        picked = picked[contributions[picked] > 0]
        c, r, w = all_cols[picked], rows[picked], contributions[picked]
        order = np.lexsort((-w, c))
        c, r, w = c[order], r[order], w[order]
        first = np.ones(len(c), dtype=bool)
        np.not_equal(c[1:], c[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        sizes = np.diff(np.append(starts, len(c)))
        top = np.arange(len(c)) - np.repeat(starts, sizes) < n
        result = {}
        weights = np.round(w[top].astype(np.float64), 4)
        for col, term, weight in zip(
            c[top].tolist(), scored.idx[r[top]].tolist(), weights.tolist(), strict=True
        ):
            result.setdefault(m.topics[col], []).append((m.terms[term], weight))
        return {topic: tuple(found) for topic, found in result.items()}


def old_plan(matches, model, topics, *, title, summary, text):
    """The previous ``tags.modelling.plan``."""
    if model is None or not topics:
        return modelling.Plan(matches)
    old = OldScoring(model)
    by_tag = {m.tag_id: m for m in matches}
    lowest = min(min(t.review_at, t.publish_at) for t in topics.values())
    matched = [topics[m.tag_id].slug for m in matches if m.tag_id in topics]
    scored = old.score(
        title=title, summary=summary, text=text, min_probability=lowest, include=matched
    )
    probabilities = scored.probabilities
    kept = [m for m in matches if m.tag_id not in topics]
    result = modelling.Plan(kept)
    explained = {}
    by_slug = {t.slug: tag_id for tag_id, t in topics.items()}
    candidates = sorted(
        {m.tag_id for m in matches if m.tag_id in topics}
        | {by_slug[slug] for slug in probabilities if slug in by_slug}
    )
    for tag_id in candidates:
        topic = topics[tag_id]
        match = by_tag.get(tag_id)
        probability = None
        if topic.slug in model:
            probability = probabilities.get(topic.slug, 0.0)
        state = modelling.match_state(match) if match else None
        action, by = combining.act(
            topic.mode, state, probability, topic.publish_at, topic.review_at, topic.veto_at
        )
        if action == PUBLISH:
            if by == "rule" and match is not None:
                kept.append(match)
            else:
                result.model_links[tag_id] = (round(float(probability or 0), 4), {})
                explained[tag_id] = topic.slug
        elif action == WEAK and match is not None:
            if state == combining.STRONG and probability is not None:
                kept.append(match)
                result.vetoes[tag_id] = round(float(probability), 4)
            else:
                kept.append(
                    TagMatch(
                        match.tag_id,
                        match.score,
                        match.terms,
                        match.in_title,
                        match.vetoed_by,
                        match.keywords_only,
                        False,
                        match.hits,
                    )
                )
        elif action == REVIEW:
            reason = combining.decide(
                topic.mode,
                state,
                probability,
                publish_at=topic.publish_at,
                review_at=topic.review_at,
                veto_at=topic.veto_at,
            ).reason
            result.reviews[tag_id] = (float(probability or 0), {}, reason)
            explained[tag_id] = topic.slug
    if explained:
        terms = old.explain(scored, explained.values(), modelling.TOP_TERMS)
        for tag_id, slug in explained.items():
            found = dict(terms.get(slug, ()))
            if tag_id in result.model_links:
                result.model_links[tag_id] = (result.model_links[tag_id][0], found)
            else:
                p, _, reason = result.reviews[tag_id]
                result.reviews[tag_id] = (p, found, reason)
    return result


N_TOPICS = 60


@pytest.fixture(scope="module")
def archive():
    with CORPUS_FILE.open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    rng = random.Random(11)  # noqa: S311 - a repeatable sample
    rng.shuffle(rows)
    train, test = rows[:2500], rows[2500:3100]
    # Synthetic topics as in bench/topic_models.py: "the story has word W", W mid-frequency.
    df: Counter[str] = Counter()
    for row in train:
        df.update(set(learning.analyze(row["body"])))
    pool = sorted(w for w, c in df.items() if 25 <= c <= 250 and w.isalpha())
    words = rng.sample(pool, N_TOPICS)
    examples = []
    for row in train:
        present = set(learning.analyze(f"{row['title']} {row['body']}"))
        examples.append(
            learning.LabelledText(
                row["title"], "", row["body"], frozenset(w for w in words if w in present)
            )
        )
    model = learning.fit(examples, words, learning.Options(calibration_folds=2))
    return model, words, test


def _settings(words, rng) -> dict[int, modelling.TopicSettings]:
    """Every mode and a spread of levels, so that links, reviews, vetoes and weak matches occur;
    the last topics are not in the model (a topic newer than it)."""
    settings = {}
    for i, word in enumerate(words, start=1):
        mode = (combining.RULES_AND_MODEL, combining.MODEL, combining.RULES)[i % 3 if i % 7 else 0]
        publish_at = rng.choice((0.3, 0.5, 0.6, 0.8))
        review_at = rng.choice((0.1, 0.2, 0.35, 0.5))
        veto_at = rng.choice((0.0, 0.05, 0.1, 0.3, 0.5))
        settings[i] = modelling.TopicSettings(word, mode, publish_at, review_at, veto_at)
    for i in range(len(words) + 1, len(words) + 4):
        settings[i] = modelling.TopicSettings(f"new-{i}", combining.RULES_AND_MODEL, 0.6, 0.35)
    return settings


def _rules(words, rng) -> list[Rule]:
    rules = [
        Rule(
            tag_id=i,
            name=w,
            aliases=(w, *rng.sample(words, 2)),
            strong_body_mentions=1 + i % 3,
        )
        for i, w in enumerate(words, start=1)
    ]
    # A topic the model does not know, and one outside the model's settings (rules only).
    rules.append(Rule(tag_id=len(words) + 1, name="new", aliases=(words[0],)))
    rules.append(Rule(tag_id=999, name="plain", aliases=(words[1], words[2])))
    return rules


def _same_plan(new: modelling.Plan, old: modelling.Plan) -> None:
    assert new.matches == old.matches
    assert [type(m) for m in new.matches] == [type(m) for m in old.matches]
    assert new.model_links == old.model_links
    assert new.reviews == old.reviews
    assert new.vetoes == old.vetoes


def test_every_probability_and_explanation_is_as_before(archive):
    model, _, stories = archive
    old = OldScoring(model)
    for story in stories[:300]:
        args = {"title": story["title"], "summary": "", "text": story["body"]}
        expected = old.score(**args)
        scored = model.score(**args)
        assert np.array_equal(scored.idx, expected.idx)
        assert np.array_equal(scored.values, expected.values)
        # Bit for bit: a probability on a level decides, and the stored one is rounded.
        assert scored.probabilities == expected.probabilities
        assert list(scored.probabilities) == list(expected.probabilities)
        picked = [t for t, p in expected.probabilities.items() if p > 0.2]
        assert model.explain(scored, picked) == old.explain(expected, picked)


@pytest.mark.parametrize("as_map", [True, False])
def test_same_plans_as_before_on_archive_stories(archive, as_map):
    model, words, stories = archive
    settings = _settings(words, random.Random(5))  # noqa: S311 - repeatable levels
    topics = modelling.TopicSettingsMap(settings) if as_map else settings
    matcher = Matcher(_rules(words, random.Random(6)))  # noqa: S311
    joined = [
        {"title": stories[i]["title"], "body": " ".join(s["body"] for s in stories[i : i + 4])}
        for i in range(0, 120, 4)
    ]
    seen: Counter[str] = Counter()
    for story in [*stories, *joined]:
        args = {"title": story["title"], "summary": story["body"][:150], "text": story["body"]}
        matches = matcher.match(**args)
        expected = old_plan(matches, model, topics, **args)
        _same_plan(modelling.plan(matches, model, topics, **args), expected)
        seen["link"] += len(expected.model_links)
        seen["review"] += len(expected.reviews)
        seen["veto"] += len(expected.vetoes)
        seen["weak"] += sum(not m.strong for m in expected.matches)
        seen["strong"] += sum(m.strong for m in expected.matches)
        seen["terms"] += sum(bool(t) for _, t in expected.model_links.values())
    # The comparison covered every kind of outcome, many times.
    assert min(seen.values()) > 100, seen


def test_without_a_model_or_topics_the_matches_pass_through(archive):
    model, words, stories = archive
    matcher = Matcher(_rules(words, random.Random(6)))  # noqa: S311
    story = stories[0]
    args = {"title": story["title"], "summary": "", "text": story["body"]}
    matches = matcher.match(**args)
    assert modelling.plan(matches, None, {1: None}, **args).matches == matches
    assert modelling.plan(matches, model, {}, **args).matches == matches


def test_rows_gathered_in_c_are_the_slices_concatenated(archive):
    """``learning._gather_rows`` (scipy's row gather, called directly) gives each article's rows
    of the coefficients, and each explained topic's column, exactly as slicing them one by one
    (the previous code) did: in the order asked, repeats and empty rows included."""
    model, _, stories = archive
    rng = random.Random(3)  # noqa: S311 - repeatable rows
    by_topic = model.coef.tocsc()
    by_topic.sort_indices()
    asked = [model.features(learning.document(s["title"], "", s["body"]))[0] for s in stories[:50]]
    asked += [np.asarray(rng.choices(range(len(model.topics)), k=12)) for _ in range(50)]
    asked += [np.zeros(0, np.int64)]
    empty = np.flatnonzero(np.diff(model.coef.indptr) == 0)
    if len(empty):
        asked.append(np.concatenate([empty[:3], asked[0][:3]]))
    for matrix, rows in [(model.coef, r) for r in asked[:51]] + [(by_topic, r) for r in asked[50:]]:
        rows = rows[rows < matrix.shape[0 if matrix is model.coef else 1]]
        indptr = matrix.indptr
        lengths, indices, data = learning._gather_rows(matrix, rows)
        starts, ends = indptr[rows].tolist(), indptr[rows + 1].tolist()
        assert lengths.tolist() == [b - a for a, b in zip(starts, ends, strict=True)]
        expected = [
            (matrix.indices[a:b], matrix.data[a:b]) for a, b in zip(starts, ends, strict=True)
        ]
        assert indices.tolist() == [int(i) for got, _ in expected for i in got]
        assert data.tobytes() == b"".join(d.tobytes() for _, d in expected)


def test_same_plans_as_before_with_every_topic_in_rules_and_model(archive):
    """The benchmark's configuration (bench/topic_models.py): every topic in rules+model at
    its suggested level, so that nearly every candidate is a strong rule match decided by the
    inline shortcut in ``plan``; vetoes, links by rule and by model and review items all occur."""
    model, words, stories = archive
    topics = modelling.TopicSettingsMap(
        {
            i: modelling.TopicSettings(
                w,
                combining.RULES_AND_MODEL,
                model.publish_at.get(w, combining.DEFAULT_PUBLISH_AT),
                min(0.35, model.publish_at.get(w, combining.DEFAULT_PUBLISH_AT)),
                veto_at=(0.05, 0.1, 0.3)[i % 3],
            )
            for i, w in enumerate(words, start=1)
        }
    )
    matcher = Matcher(_rules(words, random.Random(6)))  # noqa: S311
    seen: Counter[str] = Counter()
    for story in stories:
        args = {"title": story["title"], "summary": "", "text": story["body"]}
        matches = matcher.match(**args)
        expected = old_plan(matches, model, topics, **args)
        _same_plan(modelling.plan(matches, model, topics, **args), expected)
        seen["veto"] += len(expected.vetoes)
        seen["rule"] += len(expected.matches) - len(expected.vetoes)
        seen["link"] += len(expected.model_links)
        seen["review"] += len(expected.reviews)
    assert min(seen.values()) > 20, seen
