"""Extraction quality on real pages nobody here wrote, scored with the benchmark's own metric."""

import logging

import pytest
import trafilatura

from articles.extraction import Extracted, extract
from bench.scoring import CORPUS_PAGES, CorpusPage, Score, corpus_score, load_corpus

pytestmark = pytest.mark.skipif(
    not (CORPUS_PAGES / "ground-truth.json").is_file(),
    reason=f"corpus pages not found at {CORPUS_PAGES}",
)


@pytest.fixture(scope="module")
def pages() -> list[CorpusPage]:
    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    return load_corpus()


@pytest.fixture(scope="module")
def plain_score(pages: list[CorpusPage]) -> Score:
    return corpus_score((trafilatura.extract(p.html) or "", p.reference) for p in pages)


@pytest.fixture(scope="module")
def ours(pages: list[CorpusPage]) -> list[Extracted]:
    return [extract(p.html, p.url) for p in pages]


@pytest.fixture(scope="module")
def our_score(pages: list[CorpusPage], ours: list[Extracted]) -> Score:
    return corpus_score((r.text, p.reference) for r, p in zip(ours, pages, strict=True))


def test_the_corpus_is_there(pages: list[CorpusPage]) -> None:
    assert len(pages) >= 50


def test_our_text_scores_at_least_as_well_as_plain_trafilatura(
    plain_score: Score, our_score: Score
) -> None:
    assert our_score.f1 >= plain_score.f1 - 0.005, (our_score, plain_score)


def test_our_text_scores_at_least_as_well_as_trafilatura_precision_mode(
    pages: list[CorpusPage], our_score: Score
) -> None:
    precision = corpus_score(
        (trafilatura.extract(p.html, favor_precision=True) or "", p.reference) for p in pages
    )
    assert our_score.f1 >= precision.f1, (our_score, precision)


def test_every_corpus_page_records_its_extraction_path(ours: list[Extracted]) -> None:
    assert {r.path for r in ours} <= {"fast", "fallback", "precision", "full"}
    assert all(r.signals and r.signals["fast"]["words"] >= 0 for r in ours)
    # Pages with real subheadings keep some of them as headings.
    assert sum(1 for r in ours if any(b["type"] in ("h2", "h3") for b in r.blocks)) >= 10


def test_our_text_scores_at_least_090(our_score: Score) -> None:
    assert our_score.f1 >= 0.90, our_score


def test_nearly_every_corpus_page_yields_an_article(ours: list[Extracted]) -> None:
    assert all(r.url.startswith("http") for r in ours)
    assert sum(1 for r in ours if not r.error) >= 0.9 * len(ours)
    assert sum(1 for r in ours if r.language) >= 0.9 * len(ours)


def test_the_scorer_matches_the_definition() -> None:
    perfect = corpus_score([("one two three four five", "one two three four five")])
    assert perfect == Score(1.0, 1.0, 1.0)
    half = corpus_score([("a b c d x y z w", "a b c d e"), ("", "p q r s")])
    # precision 1/5 over the one page with output; recall (1/2 + 0) / 2.
    assert half.precision == pytest.approx(0.2)
    assert half.recall == pytest.approx(0.25)
