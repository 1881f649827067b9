"""Speed and quality of our extraction step against plain trafilatura on the corpus pages.

    uv run python bench/extraction.py [--repeat 3] [--json]

Plain is ``trafilatura.extract(html)``; ours is the whole ``articles.extraction.extract()``
(metadata, canonical URL, summary, language, hash). Both run in this process, interleaved page
by page so machine noise hits them alike; the best of ``--repeat`` timings per page is kept.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import trafilatura  # noqa: E402

from articles.extraction import extract  # noqa: E402
from bench.scoring import CorpusPage, corpus_score, load_corpus  # noqa: E402


def _plain(page: CorpusPage) -> str:
    return trafilatura.extract(page.html) or ""


def _ours(page: CorpusPage) -> str:
    return extract(page.html, page.url).text


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
    runners = {"plain": _plain, "ours": _ours}
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
    result["speed_ratio"] = result["ours"]["pages_per_s"] / result["plain"]["pages_per_s"]  # type: ignore[index]
    return result


def _table(result: dict[str, object]) -> str:
    lines = [
        f"{result['pages']} pages, best of {result['repeat']} runs per page",
        f"{'':8}{'pages/s':>9}{'median ms':>11}{'P':>8}{'R':>8}{'F1':>8}",
    ]
    for name in ("plain", "ours"):
        row = result[name]
        assert isinstance(row, dict)
        lines.append(
            f"{name:8}{row['pages_per_s']:9.1f}{row['median_ms']:11.1f}"
            f"{row['precision']:8.4f}{row['recall']:8.4f}{row['f1']:8.4f}"
        )
    lines.append(f"speed ratio ours/plain: {result['speed_ratio']:.3f}")
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
