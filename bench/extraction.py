"""Speed and quality of our extraction step against plain trafilatura on the corpus pages.

    uv run python bench/extraction.py [--repeat 3] [--json]

Plain is ``trafilatura.extract(html)``, precision is the same with ``favor_precision=True``;
ours is the whole ``articles.extraction.extract()`` (metadata, canonical URL, over-extraction
guard, blocks, summary, language, hash). All run in this process, interleaved page by page so
machine noise hits them alike; the best of ``--repeat`` timings per page is kept.

Targets: our F1 at least precision mode's, our speed at least 0.85x plain. Structure: on the
pages whose reference text has headings (an ``<h2>``-``<h6>`` of the page that is a whole line of
the reference), the share of those headings we keep as heading blocks.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402
from lxml.html import fromstring  # noqa: E402

from articles.blocks import HEADING_TYPES  # noqa: E402
from articles.extraction import Extracted, extract  # noqa: E402
from bench.scoring import CorpusPage, corpus_score, load_corpus  # noqa: E402

F1_TARGET = "precision"
SPEED_TARGET = 0.85
_SPACE = re.compile(r"\s+")
_RUNS: dict[str, Extracted] = {}


def _plain(page: CorpusPage) -> str:
    return trafilatura.extract(page.html) or ""


def _precision(page: CorpusPage) -> str:
    return trafilatura.extract(page.html, favor_precision=True) or ""


def _ours(page: CorpusPage) -> str:
    result = extract(page.html, page.url)
    _RUNS[page.page_id] = result
    return result.text


def _key(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()


def reference_headings(page: CorpusPage) -> list[str]:
    """The page's headings that the reference keeps as lines of their own."""
    lines = {_key(line) for line in page.reference.splitlines() if line.strip()}
    tree = fromstring(page.html)
    headings = [_key(h.text_content()) for h in tree.iter("h2", "h3", "h4", "h5", "h6")]
    return list(dict.fromkeys(h for h in headings if h and h in lines))


def heading_share(pages: list[CorpusPage]) -> dict[str, float | int]:
    """Of the reference's headings, how many we keep as headings, as text, or lose."""
    total = as_heading = as_text = with_headings = 0
    for page in pages:
        wanted = reference_headings(page)
        if not wanted:
            continue
        result = _RUNS[page.page_id]
        # The headline is stored as the title, apart from the body: not a heading lost.
        wanted = [h for h in wanted if h != _key(result.title)]
        if not wanted:
            continue
        with_headings += 1
        ours = {_key(b["text"]) for b in result.blocks if b["type"] in HEADING_TYPES}
        text = {_key(p) for p in result.paragraphs}
        total += len(wanted)
        as_heading += sum(1 for h in wanted if h in ours)
        as_text += sum(1 for h in wanted if h not in ours and h in text)
    return {
        "pages_with_headings": with_headings,
        "headings": total,
        "kept_as_headings": as_heading / total if total else 0.0,
        "kept_as_text_only": as_text / total if total else 0.0,
    }


def _time_pages(
    pages: list[CorpusPage], runners: dict[str, Callable[[CorpusPage], str]], repeat: int
) -> tuple[dict[str, list[float]], dict[str, list[str]]]:
    best = {name: [float("inf")] * len(pages) for name in runners}
    outputs: dict[str, list[str]] = {name: [""] * len(pages) for name in runners}
    for _ in range(repeat):
        for index, page in enumerate(pages):
            for name, runner in runners.items():
                start = time.perf_counter()
                outputs[name][index] = runner(page)
                best[name][index] = min(best[name][index], time.perf_counter() - start)
    return best, outputs


def run(repeat: int) -> dict[str, object]:
    pages = load_corpus()
    if not pages:
        raise SystemExit("no corpus pages found under shared/corpus/pages")
    runners = {"plain": _plain, "precision": _precision, "ours": _ours}
    for page in pages[:3]:  # warm caches (tld list, langid model) outside the timings
        for runner in runners.values():
            runner(page)
    timings, outputs = _time_pages(pages, runners, repeat)
    references = [page.reference for page in pages]
    result: dict[str, object] = {"pages": len(pages), "repeat": repeat}
    for name in runners:
        score = corpus_score(zip(outputs[name], references, strict=True))
        result[name] = {
            "pages_per_s": len(pages) / sum(timings[name]),
            "median_ms": statistics.median(timings[name]) * 1000,
            "precision": score.precision,
            "recall": score.recall,
            "f1": score.f1,
        }
    ours, plain = result["ours"], result["plain"]
    assert isinstance(ours, dict)
    assert isinstance(plain, dict)
    result["speed_ratio"] = ours["pages_per_s"] / plain["pages_per_s"]
    target = result[F1_TARGET]
    assert isinstance(target, dict)
    result["f1_pass"] = ours["f1"] >= target["f1"]
    result["speed_pass"] = result["speed_ratio"] >= SPEED_TARGET
    paths: dict[str, int] = {}
    for extracted in _RUNS.values():
        paths[extracted.path] = paths.get(extracted.path, 0) + 1
    result["paths"] = dict(sorted(paths.items()))
    result["structure"] = heading_share(pages)
    return result


def _table(result: dict[str, object]) -> str:
    lines = [
        f"{result['pages']} pages, best of {result['repeat']} runs per page",
        f"{'':8}{'pages/s':>9}{'median ms':>11}{'P':>8}{'R':>8}{'F1':>8}",
    ]
    for name in ("plain", "precision", "ours"):
        row = result[name]
        assert isinstance(row, dict)
        lines.append(
            f"{name:8}{row['pages_per_s']:9.1f}{row['median_ms']:11.1f}"
            f"{row['precision']:8.4f}{row['recall']:8.4f}{row['f1']:8.4f}"
        )
    verdict = {True: "PASS", False: "FAIL"}
    ours, target = result["ours"], result[F1_TARGET]
    assert isinstance(ours, dict)
    assert isinstance(target, dict)
    lines.append(
        f"F1 ours/{F1_TARGET}: {ours['f1']:.4f} vs {target['f1']:.4f} "
        f"{verdict[bool(result['f1_pass'])]} (target >=)"
    )
    lines.append(
        f"speed ratio ours/plain: {result['speed_ratio']:.3f} "
        f"{verdict[bool(result['speed_pass'])]} (target >= {SPEED_TARGET})"
    )
    lines.append(f"extraction paths: {result['paths']}")
    structure = result["structure"]
    assert isinstance(structure, dict)
    lines.append(
        f"headings: {structure['headings']} on {structure['pages_with_headings']} pages with "
        f"headings in the reference; kept as headings {structure['kept_as_headings']:.1%}, "
        f"as plain paragraphs only {structure['kept_as_text_only']:.1%}"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per page (best kept)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    # trafilatura logs every discarded page at WARNING; the figures are what matters here.
    logging.disable(logging.WARNING)
    result = run(max(1, args.repeat))
    print(json.dumps(result, indent=2) if args.json else _table(result))


if __name__ == "__main__":
    main()
