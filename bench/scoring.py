"""The article-extraction benchmark's metric, shared by the corpus test and the bench script.

Texts become multisets of 4-token ``\\w+`` shingles; precision is averaged over pages with
output, recall over all pages, and F1 is the harmonic mean of the two averages.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CORPUS_PAGES = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "pages"
SHINGLE = 4
_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class CorpusPage:
    page_id: str
    url: str
    html: bytes
    reference: str


def load_corpus(root: Path = CORPUS_PAGES) -> list[CorpusPage]:
    """The corpus pages with their reference text, sorted by id; empty when absent."""
    truth_path = root / "ground-truth.json"
    if not truth_path.is_file():
        return []
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    return [
        CorpusPage(
            page_id,
            item["url"],
            (root / "html" / f"{page_id}.html").read_bytes(),
            item["articleBody"],
        )
        for page_id, item in sorted(truth.items())
        if (root / "html" / f"{page_id}.html").is_file()
    ]


def shingles(text: str) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i : i + SHINGLE]) for i in range(len(tokens) - SHINGLE + 1))


def page_scores(predicted: str, reference: str) -> tuple[float | None, float]:
    """(precision or None when there is no output, recall) for one page."""
    got, want = shingles(predicted), shingles(reference)
    shared = sum((got & want).values())
    precision = shared / sum(got.values()) if got else None
    recall = shared / sum(want.values()) if want else 1.0
    return precision, recall


def corpus_score(pairs: Iterable[tuple[str, str]]) -> Score:
    """Score ``(predicted, reference)`` pairs with the benchmark's averaging."""
    precisions: list[float] = []
    recalls: list[float] = []
    for predicted, reference in pairs:
        precision, recall = page_scores(predicted, reference)
        if precision is not None:
            precisions.append(precision)
        recalls.append(recall)
    p = sum(precisions) / len(precisions) if precisions else 0.0
    r = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return Score(p, r, f1)
