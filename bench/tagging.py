"""Benchmark the topic matcher against a naive regex-per-alias loop.

    uv run python bench/tagging.py [--tags 10000 --aliases 3 --articles 5000 --seed 1]
                                   [--density dense|sparse] [--baseline-articles 20] [--json]

Generates a deterministic vocabulary, topics with 1-3 word aliases and ~600-word articles
with some alias occurrences sprinkled in, then times building the Matcher, matching every
article, and (on a subset) one compiled ``re`` pattern per alias. Prints MB/s (wall clock and
CPU time: the machine is shared, so the load average is printed too), articles/s, the ratio,
build time, peak RSS and whether both methods agree on which topics match.

``--density dense`` (the default, and the original generator) draws 5% of body words from the
topic vocabulary and sprinkles 2-8 aliases into each body: about 24 topics per article.
``--density sparse`` draws 1% and sprinkles 0-3, closer to real news (a handful of topics).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tags.matching import Matcher, Rule
from tags.normalize import match_form, phrase_variants

_ONSETS = ["b", "c", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "st"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ou", "ea"]
_CODAS = ["", "", "n", "r", "l", "m", "x", "th", "nd"]


@dataclass(frozen=True)
class Article:
    title: str
    summary: str
    text: str

    def size(self) -> int:
        return len(self.title.encode()) + len(self.summary.encode()) + len(self.text.encode())


def make_words(rng: random.Random, count: int, syllables: tuple[int, int]) -> list[str]:
    words: set[str] = set()
    while len(words) < count:
        n = rng.randint(*syllables)
        syllables_ = (
            rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(n)
        )
        words.add("".join(syllables_))
    return sorted(words)


def make_rules(rng: random.Random, vocab: list[str], tags: int, aliases: int) -> list[Rule]:
    rules = []
    for tag_id in range(1, tags + 1):
        phrases = [
            " ".join(rng.choices(vocab, k=rng.choices((1, 2, 3), weights=(4, 4, 2))[0]))
            for _ in range(aliases)
        ]
        rules.append(Rule(tag_id=tag_id, name=phrases[0], aliases=tuple(phrases[1:])))
    return rules


def _sprinkle(rng: random.Random, phrase: str) -> str:
    """Write an alias as an article might: inflected, capitalised, hyphenated, possessive."""
    words = phrase.split()
    if rng.random() < 0.3:
        words[-1] += "s"
    if rng.random() < 0.3:
        words = [w.capitalize() for w in words]
    joined = ("\u2011" if rng.random() < 0.1 else "-").join(words) if rng.random() < 0.2 else None
    out = joined or " ".join(words)
    return out + ("\u2019s" if rng.random() < 0.1 else "")


# (share of body words drawn from the topic vocabulary, sprinkled aliases per body (min, max))
DENSITIES: dict[str, tuple[float, tuple[int, int]]] = {
    "dense": (0.05, (2, 8)),
    "sparse": (0.01, (0, 3)),
}


def make_sentence_words(
    rng: random.Random,
    common: list[str],
    cum: list[float],
    topic: list[str],
    n: int,
    rate: float = 0.05,
) -> list[str]:
    words = rng.choices(common, cum_weights=cum, k=n)
    for i in range(n):
        if rng.random() < rate:
            words[i] = rng.choice(topic)
    return words


def make_text(
    rng: random.Random,
    words: list[str],
    phrases: list[str],
    sprinkle: int,
) -> str:
    for _ in range(sprinkle):
        words.insert(rng.randrange(len(words) + 1), _sprinkle(rng, rng.choice(phrases)))
    out: list[str] = []
    sentence_start = True
    for word in words:
        out.append(word.capitalize() if sentence_start else word)
        sentence_start = False
        r = rng.random()
        if r < 0.06:
            out[-1] += "."
            sentence_start = True
        elif r < 0.12:
            out[-1] += ","
        elif r < 0.125:
            out.append("\u2014")
        elif r < 0.13:
            out[-1] = f"\u201c{out[-1]}\u201d"
    return " ".join(out) + "."


def make_articles(
    rng: random.Random,
    count: int,
    vocab: dict[str, list[str]],
    rules: list[Rule],
    density: str = "dense",
) -> list[Article]:
    common, topic = vocab["common"], vocab["topic"]
    rate, body_sprinkles = DENSITIES[density]
    cum = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(common))))
    phrases = [p for r in rules for p in (r.name, *r.aliases)]
    articles = []
    for _ in range(count):

        def part(n: int, sprinkle: int) -> str:
            words = make_sentence_words(rng, common, cum, topic, n, rate)
            return make_text(rng, words, phrases, sprinkle)

        articles.append(
            Article(
                title=part(rng.randint(6, 12), rng.randint(0, 1)).rstrip("."),
                summary=part(rng.randint(30, 50), rng.randint(0, 2)),
                text=part(rng.randint(500, 700), rng.randint(*body_sprinkles)),
            )
        )
    return articles


def regex_for(term: str) -> re.Pattern[str]:
    variants = (v.replace("-", " ").split() for v in phrase_variants(term))
    alternatives = sorted((r"[\W_]+".join(map(re.escape, v)) for v in variants), key=len)
    alternatives.reverse()
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.IGNORECASE)


def naive_tags(patterns: list[tuple[int, re.Pattern[str]]], article: Article) -> set[int]:
    blob = f"{article.title}\n{article.summary}\n{article.text}"
    return {tag_id for tag_id, pattern in patterns if pattern.search(blob)}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(args: argparse.Namespace) -> dict[str, float | int | str]:
    rng = random.Random(args.seed)
    vocab = {"common": make_words(rng, 3000, (1, 2)), "topic": make_words(rng, 30000, (2, 4))}
    rules = make_rules(rng, vocab["topic"], args.tags, args.aliases)
    articles = make_articles(rng, args.articles, vocab, rules, args.density)
    total_mb = sum(a.size() for a in articles) / 1e6
    load_before = os.getloadavg()

    start = time.perf_counter()
    matcher = Matcher(rules)
    build_s = time.perf_counter() - start

    start = time.perf_counter()
    for a in articles:
        match_form(a.title), match_form(a.summary), match_form(a.text)
    normalize_s = time.perf_counter() - start

    start, cpu_start = time.perf_counter(), time.process_time()
    results = [matcher.match(title=a.title, summary=a.summary, text=a.text) for a in articles]
    match_s = time.perf_counter() - start
    match_cpu_s = time.process_time() - cpu_start
    load_after_match = os.getloadavg()

    subset = articles[: args.baseline_articles]
    start = time.perf_counter()
    patterns = [(r.tag_id, regex_for(t)) for r in rules for t in (r.name, *r.aliases)]
    baseline_build_s = time.perf_counter() - start
    start = time.perf_counter()
    naive = [naive_tags(patterns, a) for a in subset]
    naive_s = time.perf_counter() - start
    subset_mb = sum(a.size() for a in subset) / 1e6

    agree = sum({m.tag_id for m in results[i]} == naive[i] for i in range(len(subset)))
    matcher_mbps = total_mb / match_s
    naive_mbps = subset_mb / naive_s
    return {
        "tags": args.tags,
        "aliases_per_tag": args.aliases,
        "patterns": len(matcher),
        "articles": len(articles),
        "density": args.density,
        "corpus_mb": round(total_mb, 2),
        "build_s": round(build_s, 3),
        "match_s": round(match_s, 3),
        "matcher_mb_per_s": round(matcher_mbps, 2),
        "matcher_cpu_mb_per_s": round(total_mb / match_cpu_s, 2),
        "match_form_mb_per_s": round(total_mb / normalize_s, 2),
        "articles_per_s": round(len(articles) / match_s, 1),
        "mean_tags_per_article": round(sum(map(len, results)) / len(results), 2),
        "baseline_build_s": round(baseline_build_s, 3),
        "baseline_articles": len(subset),
        "baseline_mb_per_s": round(naive_mbps, 4),
        "speedup": round(matcher_mbps / naive_mbps, 1),
        "agreement": f"{agree}/{len(subset)}",
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "cpus": os.cpu_count() or 0,
        "load_1m_before": round(load_before[0], 2),
        "load_1m_after_match": round(load_after_match[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=10000)
    parser.add_argument("--aliases", type=int, default=3)
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--baseline-articles", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--density", choices=sorted(DENSITIES), default="dense")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = run(args)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
