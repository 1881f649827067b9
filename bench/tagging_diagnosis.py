"""Where rules + model (d) loses on a split: ``bench/tagging_quality.py --diagnose``.

Nothing here chooses anything the taggers use: every figure is computed after the fact, some
on the test part's own labels (marked "hindsight"), to say how far any choice of mode and
levels could go with this model, and why the rest is out of reach of a text classifier.

- errors of (d) per topic, with the mode it used and the story ids (for reading them);
- a hindsight ceiling: each topic at the mode, publish level and veto level that would have
  been best on the test part itself;
- a plain linear SVM (word TF-IDF, sublinear tf, C = 1, one per topic: the usual reference
  for Reuters-21578 since Joachims 1998) on the same split;
- calibration of the model's probabilities on the test part;
- the review band: test articles (d) would send to the editors' queue, and the micro-F1 if an
  editor decided each of them as the labels say;
- label conflicts: templated stories (the same kind of wire item, recognised by its title)
  whose share labelled with the topic differs between the training and the test part. The
  patterns below were written after reading (d)'s errors on the time split: they are a
  diagnosis, not a feature.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

import numpy as np

from tags import combining, suggesting

# (title pattern, topic): recurring wire items whose labelling the errors showed to vary.
TEMPLATES = (
    (r"^U\.K\. MONEY MARKET", "interest"),
    (r"^FED (ADDS|SETS|EXPECTED|BUYS)", "interest"),
    (r"REPURCHASE", "interest"),
    (r"BUNDESBANK", "interest"),
    (r"PRIME", "interest"),
    (r"REFINER", "crude"),
    (r"GRAIN (SHIP|FREIGHT)", "wheat"),
)
D = "(d) rules + model, mode+level by inner CV"


def _counts(hit: np.ndarray, y: np.ndarray) -> tuple[int, int, int]:
    return int((hit & y).sum()), int((hit & ~y).sum()), int((~hit & y).sum())


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def report(taggers: dict, train: Sequence, test: Sequence, codes: Sequence[str]) -> None:
    tagger = taggers.get(D)
    models = getattr(tagger, "__self__", None)
    if models is None:
        print(f"\n--diagnose needs the tagger {D!r}")
        return
    model = models.model(train)
    picks = models.suggested(train)
    thresholds = models.rules.tune(train)
    probs = np.array(
        [
            [np.nan if (p := models.probabilities(model, s)[c]) is None else p for c in codes]
            for s in test
        ],
        dtype=np.float64,
    )
    states = [models.states(thresholds, s) for s in test]
    st = np.array([[x.get(c, "") for c in codes] for x in states], dtype=object)
    y = np.array([[c in s.topics for c in codes] for s in test])

    print(f"\n=== diagnosis of (d) on {len(test)} test stories ===")
    print("errors per topic (mode used; FP and FN story ids):")
    total = np.zeros(3, int)
    for k, code in enumerate(codes):
        pick = picks[code]
        hit = suggesting.published(pick.mode, st[:, k], probs[:, k], pick.publish_at, pick.veto_at)
        tp, fp, fn = _counts(hit, y[:, k])
        total += (tp, fp, fn)
        fps = [test[i].id for i in np.flatnonzero(hit & ~y[:, k])]
        fns = [test[i].id for i in np.flatnonzero(~hit & y[:, k])]
        print(
            f"  {code:<16} {pick.mode:<12} inner-CV F1 {pick.f1:.3f} -> test {_f1(tp, fp, fn):.3f}"
            f"  FP {fp:3} {' '.join(fps[:12])}{' …' if len(fps) > 12 else ''}"
            f"\n  {'':<16} {'':<12} {'':<28}  FN {fn:3} {' '.join(fns[:12])}"
            f"{' …' if len(fns) > 12 else ''}"
        )
    print(f"  all: tp {total[0]} fp {total[1]} fn {total[2]}, micro-F1 {_f1(*total):.3f}")

    ceiling = np.zeros(3, int)
    for k in range(len(codes)):
        best = max(
            (
                _counts(suggesting.published(m, st[:, k], probs[:, k], float(lv), v), y[:, k])
                for m in combining.MODES
                for lv in suggesting.LEVELS
                for v in suggesting.VETO_LEVELS
            ),
            key=lambda c: _f1(*c),
        )
        ceiling += best
    print(
        f"hindsight ceiling (each topic at the mode, publish and veto level best on the test "
        f"part itself, same model): micro-F1 {_f1(*ceiling):.3f} "
        f"(tp {ceiling[0]} fp {ceiling[1]} fn {ceiling[2]})"
    )

    _svm_reference(train, test, codes)

    print("calibration on the test part (all topics pooled):")
    p, yy = probs[~np.isnan(probs)], y[~np.isnan(probs)]
    edges = (0.0, 0.05, 0.2, 0.35, 0.5, 0.6, 0.8, 0.9, 1.0001)
    for lo, hi in itertools.pairwise(edges):
        m = (p >= lo) & (p < hi)
        if m.any():
            print(
                f"  p in [{lo:.2f}, {min(hi, 1):.2f}): {int(m.sum()):6} pairs, mean p "
                f"{p[m].mean():.3f}, labelled {yy[m].mean():.3f}"
            )

    queued = np.zeros_like(y)
    decided = np.zeros_like(y)
    for k, code in enumerate(codes):
        pick = picks[code]
        review_at = min(combining.DEFAULT_REVIEW_AT, pick.publish_at)
        for i in range(len(test)):
            pr = None if np.isnan(probs[i, k]) else float(probs[i, k])
            action = combining.decide(
                pick.mode,
                st[i, k] or None,
                pr,
                publish_at=pick.publish_at,
                review_at=review_at,
                veto_at=pick.veto_at,
            ).action
            decided[i, k] = action == combining.Action.PUBLISH
            queued[i, k] = action == combining.Action.REVIEW
    with_editor = decided | (queued & y)
    print(
        f"review band (review level {combining.DEFAULT_REVIEW_AT} up to each topic's publish "
        f"level): {int(queued.sum())} (story, topic) items queued, {int((queued & y).sum())} of "
        f"them labelled with the topic; published alone micro-F1 "
        f"{_f1(*_counts(decided, y)):.3f}, with an editor accepting exactly the labelled ones "
        f"{_f1(*_counts(with_editor, y)):.3f}"
    )

    print("label conflicts: recurring wire items, share labelled with the topic (train -> test):")
    for pattern, code in TEMPLATES:
        if code not in codes:
            continue
        rx = re.compile(pattern)
        parts = []
        for part in (train, test):
            found = [s for s in part if rx.search(s.title.upper())]
            pos = sum(code in s.topics for s in found)
            parts.append(f"{pos}/{len(found)}" + (f" {pos / len(found):.0%}" if found else ""))
        print(f"  {pattern:<32} {code:<9} {parts[0]:>12} -> {parts[1]:>10}")


def _svm_reference(train: Sequence, test: Sequence, codes: Sequence[str]) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    vec = TfidfVectorizer(sublinear_tf=True, min_df=2)
    x = vec.fit_transform([f"{s.title}\n{s.body}" for s in train])
    xt = vec.transform([f"{s.title}\n{s.body}" for s in test])
    total = np.zeros(3, int)
    per = []
    for code in codes:
        y = np.array([code in s.topics for s in train])
        yt = np.array([code in s.topics for s in test])
        hit = LinearSVC(C=1.0).fit(x, y).predict(xt).astype(bool)
        counts = _counts(hit, yt)
        total += counts
        per.append(f"{code} {_f1(*counts):.2f}")
    print(
        f"plain linear SVM (word TF-IDF, C = 1, no rules) on the same split: micro-F1 "
        f"{_f1(*total):.3f} (tp {total[0]} fp {total[1]} fn {total[2]}); {', '.join(per)}"
    )
