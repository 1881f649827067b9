"""How close a clustering is to labelled stories: B-cubed precision/recall/F1 and ARI.

B-cubed scores each item: precision is the share of its predicted cluster that shares its gold
story, recall the share of its gold story found in its predicted cluster; both are averaged
over items. The adjusted Rand index counts agreeing pairs, corrected for chance.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from math import comb


@dataclass(frozen=True)
class ClusterScore:
    precision: float
    recall: float
    f1: float
    ari: float
    clusters: int


def score(predicted: Sequence[Hashable], gold: Sequence[Hashable]) -> ClusterScore:
    if len(predicted) != len(gold) or not gold:
        raise ValueError("need one predicted label per gold label, and at least one item")
    pairs = Counter(zip(predicted, gold, strict=True))
    by_pred: defaultdict[Hashable, int] = defaultdict(int)
    by_gold: defaultdict[Hashable, int] = defaultdict(int)
    for (p, g), n in pairs.items():
        by_pred[p] += n
        by_gold[g] += n
    total = len(gold)
    precision = sum(n * n / by_pred[p] for (p, _), n in pairs.items()) / total
    recall = sum(n * n / by_gold[g] for (_, g), n in pairs.items()) / total
    f1 = 2 * precision * recall / (precision + recall)
    return ClusterScore(precision, recall, f1, _ari(pairs, by_pred, by_gold, total), len(by_pred))


def _ari(pairs, by_pred, by_gold, total: int) -> float:
    index = sum(comb(n, 2) for n in pairs.values())
    pred_pairs = sum(comb(n, 2) for n in by_pred.values())
    gold_pairs = sum(comb(n, 2) for n in by_gold.values())
    expected = pred_pairs * gold_pairs / comb(total, 2) if total > 1 else 0.0
    most = (pred_pairs + gold_pairs) / 2
    return 1.0 if most == expected else (index - expected) / (most - expected)
