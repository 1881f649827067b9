"""Which mode and publish level to suggest for a topic, from cross-validated figures. Pure.

The model's own suggested publish level (``TopicModel.publish_at``) is the best level for the
model alone. In ``rules+model`` the model only adds what the rules missed (and vetoes weak
matches), so the best level there is usually higher; and for some topics the model alone beats
any combination with rules whose aliases say too much or too little. So the suggestion is the
(mode, publish level) pair with the best F1 on out-of-fold probabilities of the topic's own
labelled articles, exactly as ``tags.combining.decide`` would publish them. The editor still
chooses: this is what the topic form shows next to each mode's figures.

In ``rules+model`` the veto level (below it the model overrules a strong rule match) is chosen
the same way, per topic: where the rules' strong matches are mostly right the model should
hardly ever overrule them, where they say too much it should more often. Ties go to the rules
alone, then rules+model, then the model alone: when the model adds nothing measurable on a
topic's own articles, the readable rules stay. Both were chosen on a time split inside the
benchmark's training part (older 80% of it vs its newest 20%, never the test part): per-topic
veto levels +0.009 micro-F1, ties to the rules +0.004 (``bench/tagging_quality.py
--validation``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tags import combining

# Publish levels tried (the review level stays below them; review items are not published).
LEVELS = np.round(np.arange(0.05, 0.951, 0.05), 2)
# Veto levels tried in rules+model (0: the model never overrules a strong match).
VETO_LEVELS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4)
# When figures tie: the rules alone (readable), then rules+model, then the model alone.
PREFERENCE = {combining.RULES: 0, combining.RULES_AND_MODEL: 1, combining.MODEL: 2}


@dataclass(frozen=True)
class Suggestion:
    mode: str
    publish_at: float
    f1: float
    # Each mode's best F1 (at its best level), for the form and the benchmark's report.
    per_mode: dict[str, tuple[float, float]]
    # Below this probability the model overrules a strong rule match (rules+model only).
    veto_at: float = combining.DEFAULT_VETO_AT


def published(
    mode: str,
    states: np.ndarray,
    probs: np.ndarray,
    publish_at: float,
    veto_at: float = combining.DEFAULT_VETO_AT,
) -> np.ndarray:
    """``combining.published`` for many articles at once (``states``: "strong", "weak" or "";
    ``probs``: NaN where the model could not score)."""
    strong = states == combining.STRONG
    unscored = np.isnan(probs)
    p = np.where(unscored, 0.0, probs)
    if mode == combining.RULES:
        return strong
    if mode == combining.RULES_AND_MODEL:
        model = (strong & (p >= veto_at)) | (p >= publish_at)
    elif mode == combining.MODEL:
        model = p >= publish_at
    else:
        raise ValueError(f"unknown mode {mode!r}")
    # Without a probability every mode falls back to the rules (``combining._rules_alone``).
    return np.where(unscored, strong, model)


def suggest(
    probs: Sequence[float] | np.ndarray,
    states: Sequence[str | None],
    labels: Sequence[bool] | np.ndarray,
    modes: Sequence[str] = combining.MODES,
    veto_levels: Sequence[float] = VETO_LEVELS,
) -> Suggestion:
    """The (mode, publish level, veto level) with the best F1 over one topic's labelled articles.

    ``probs``: each article's out-of-fold probability (NaN: none); ``states``: the rules' match
    ("strong", "weak" or None); ``labels``: whether the article is about the topic. Ties go to
    the mode first in ``PREFERENCE`` (rules, rules+model, model), then to the publish level
    nearest the default, then to the veto level nearest the default.
    """
    p = np.asarray(probs, dtype=np.float64)
    s = np.asarray([x or "" for x in states], dtype=object)
    y = np.asarray(labels, dtype=bool)
    positives = int(y.sum())
    best: tuple[tuple, str, float, float, float] | None = None
    per_mode: dict[str, tuple[float, float]] = {}
    for mode in modes:
        levels = [combining.DEFAULT_PUBLISH_AT] if mode == combining.RULES else LEVELS
        vetoes = veto_levels if mode == combining.RULES_AND_MODEL else [combining.DEFAULT_VETO_AT]
        for level in levels:
            for veto in vetoes:
                hit = published(mode, s, p, float(level), float(veto))
                tp = int((hit & y).sum())
                f1 = 2 * tp / (int(hit.sum()) + positives) if tp else 0.0
                key = (
                    round(f1, 6),
                    -PREFERENCE.get(mode, 3),
                    -abs(float(level) - combining.DEFAULT_PUBLISH_AT),
                    -abs(float(veto) - combining.DEFAULT_VETO_AT),
                )
                if mode not in per_mode or f1 > per_mode[mode][0]:
                    per_mode[mode] = (f1, float(level))
                if best is None or key > best[0]:
                    best = (key, mode, float(level), f1, float(veto))
    if best is None:
        raise ValueError("no mode to suggest from")
    return Suggestion(best[1], best[2], best[3], per_mode, best[4])
