"""Topic models at scale: tagging speed, model memory and training time.

    uv run python bench/topic_models.py [--topics 1000 --articles 3000 --seed 1]
                                        [--calibration-folds 3]
                                        [--save-model FILE | --model FILE]

``--save-model`` keeps the synthetic topics' model; ``--model`` reads it back instead of
training (same ``--topics`` and ``--seed``), for speed and memory runs without the minutes of
training.

On the labelled archive (`../shared/corpus/labelled-news/`, read in place):
- training time for the 12 benchmark topics (bench/tagging_quality_topics.json codes);
- 1,000 synthetic topics: each topic's labels are "the story contains word W" for a
  mid-frequency word W the model is not told about, so the model has something real to learn;
- tagging speed on one core (CPU time of this process, single-threaded BLAS). "rules + model"
  is the worker's own code: the matcher, then ``tags.modelling.plan`` with every topic in
  rules+model mode at its suggested level. "model only" is the model's share alone:
  ``TopicModel.score`` with a review level of
  0.35 (plus the topics the rules matched, which the model may veto), ``combining.decide`` in
  rules+model mode at each topic's suggested level, then the top terms only for the links and
  review items made, against the rules-only matcher (``Matcher.match``) for 1,000 topics with 3
  aliases each, on the same articles in the same run. Two article sizes: the archive's stories
  as they are, and ~600-word articles (four stories joined);
- model memory: the arrays and vocabulary (``TopicModel.nbytes``) and what loading the stored
  model allocates (tracemalloc), plus the stored size.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import tracemalloc
from collections import Counter
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from threadpoolctl import threadpool_limits

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsdesk.settings")
import django

django.setup()

from tags import combining, learning, modelling  # noqa: E402
from tags.matching import Matcher, Rule  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "shared/corpus/labelled-news"
CORPUS_FILE = "reuters21578-modapte-train.jsonl"
TWELVE = [
    "gold",
    "silver",
    "copper",
    "zinc",
    "nickel",
    "tin",
    "iron-steel",
    "strategic-metal",
    "crude",
    "coffee",
    "wheat",
    "interest",
]
REVIEW_AT = 0.35
SPEED_TARGET = 1000.0  # articles/s with models for 1,000 topics
MEMORY_TARGET_MB = 200.0


def read(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def synthetic_topics(rows: list[dict], n: int, rng: random.Random) -> list[str]:
    """``n`` words found in 20-400 stories each: each defines one synthetic topic."""
    df: Counter[str] = Counter()
    for row in rows:
        df.update(set(learning.analyze(row["body"])[:400]) - {""})
    pool = sorted(w for w, c in df.items() if 20 <= c <= 400 and " " not in w and w.isalpha())
    if len(pool) < n:
        raise SystemExit(f"only {len(pool)} usable words for {n} synthetic topics")
    return rng.sample(pool, n)


def load() -> str:
    """The load average now (1, 5, 15 min): the machine is shared, so every figure says it."""
    return "load " + "/".join(f"{x:.1f}" for x in os.getloadavg())


def timed_tagging(articles, fn) -> tuple[float, float]:
    """(articles per CPU second, articles per wall second)."""
    cpu, wall = time.process_time(), time.perf_counter()
    for article in articles:
        fn(article)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return len(articles) / cpu, len(articles) / wall


def tagging_setup(
    words: list[str], model: learning.TopicModel, rng: random.Random
) -> tuple[Matcher, modelling.TopicSettingsMap]:
    """The workers' rules and settings for the synthetic topics: each topic's word and two
    random others as aliases (drawn from ``rng``), and every topic in rules+model mode at its
    suggested level, as an editor would set it."""
    rules = [
        Rule(tag_id=i, name=w, aliases=(w, *rng.sample(words, 2)))
        for i, w in enumerate(words, start=1)
    ]
    settings = modelling.TopicSettingsMap(
        {
            i: modelling.TopicSettings(
                w,
                combining.RULES_AND_MODEL,
                model.publish_at.get(w, combining.DEFAULT_PUBLISH_AT),
                min(REVIEW_AT, model.publish_at.get(w, combining.DEFAULT_PUBLISH_AT)),
            )
            for i, w in enumerate(words, start=1)
        }
    )
    return Matcher(rules), settings


def main() -> int:
    # One core: BLAS threads would spread the products over both.
    threadpool_limits(1)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS / CORPUS_FILE)
    parser.add_argument("--topics", type=int, default=1000)
    parser.add_argument("--articles", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--calibration-folds",
        type=int,
        default=learning.Options().calibration_folds,
        help="inner CV folds when training the synthetic topics (0: none, ~4x faster training)",
    )
    parser.add_argument(
        "--model",
        type=Path,
        help="load the synthetic topics' model from this file (written by --save-model with "
        "the same --topics and --seed) instead of training: speed and memory only",
    )
    parser.add_argument("--save-model", type=Path, help="write the trained synthetic model here")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    failed: list[str] = []
    rows = read(args.corpus)
    print(f"corpus: {len(rows)} stories from {args.corpus.name}; load average {os.getloadavg()}")

    # --- training time: the 12 topics ----------------------------------------------------------
    twelve = [
        learning.LabelledText(
            r["title"],
            "",
            r["body"],
            frozenset(t for t in r["topics"] if t in TWELVE),
            datetime.fromisoformat(r["date"]),
        )
        for r in rows
    ]
    if args.model is None:
        t0 = time.perf_counter()
        model12 = learning.fit(twelve, TWELVE)
        fit12 = time.perf_counter() - t0
        print(
            f"training, 12 topics on {len(twelve)} stories: {fit12:.1f} s "
            f"({len(model12.topics)} learned; skipped: {model12.skipped or 'none'}; {load()})"
        )

    # --- 1,000 synthetic topics ---------------------------------------------------------------
    words = synthetic_topics(rows, args.topics, rng)
    examples = []
    for r in rows:
        present = set(learning.analyze(f"{r['title']} {r['body']}"))
        examples.append(
            learning.LabelledText(
                r["title"], "", r["body"], frozenset(w for w in words if w in present)
            )
        )
    if args.model is not None:
        blob = args.model.read_bytes()
        print(f"synthetic topics' model read from {args.model} (training not timed)")
    else:
        t0 = time.perf_counter()
        model = learning.fit(
            examples, words, learning.Options(calibration_folds=args.calibration_folds)
        )
        fit_many = time.perf_counter() - t0
        print(
            f"training, {args.topics} synthetic topics: {fit_many:.1f} s "
            f"({fit_many / max(1, len(model.topics)) * 1000:.0f} ms a topic; "
            f"{len(model.topics)} learned; calibration folds {args.calibration_folds}; {load()})"
        )
        blob = model.to_bytes()
        if args.save_model is not None:
            args.save_model.write_bytes(blob)

    # --- memory -------------------------------------------------------------------------------
    tracemalloc.start()
    loaded = learning.TopicModel.from_bytes(blob)
    _, peak = tracemalloc.get_traced_memory()
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    if not set(loaded.topics) <= set(words):
        raise SystemExit(f"{args.model}: not a model of these synthetic topics (--topics, --seed)")
    nbytes_mb = loaded.nbytes / 2**20
    print(
        f"model memory, {len(loaded.topics)} topics: {nbytes_mb:.1f} MB of arrays and vocabulary "
        f"({len(loaded.terms)} terms, {loaded.coef.nnz} coefficients); loading allocates "
        f"{held / 2**20:.1f} MB held, {peak / 2**20:.1f} MB peak; stored {len(blob) / 2**20:.1f} MB"
        f" -> {'PASS' if held / 2**20 < MEMORY_TARGET_MB else 'FAIL'} (< {MEMORY_TARGET_MB:.0f} MB)"
    )

    if held / 2**20 >= MEMORY_TARGET_MB:
        failed.append("memory")

    # --- speed -------------------------------------------------------------------------------
    matcher, settings = tagging_setup(words, loaded, rng)
    planned_links: list[int] = []
    sample = rng.sample(rows, min(args.articles, len(rows)))
    stories = [(r["title"], r["body"]) for r in sample]
    long = [
        (stories[i][0], " ".join(body for _, body in stories[i : i + 4]))
        for i in range(0, len(stories) - 3, 4)
    ]
    for label, articles in (("archive stories", stories), ("~600-word articles", long)):
        n_words = sum(len(b.split()) for _, b in articles) / len(articles)

        def rules_only(a):
            matcher.match(title=a[0], text=a[1])

        explained = []

        def model_only(a, matched=(), explained=explained):
            scored = loaded.score(title=a[0], text=a[1], min_probability=REVIEW_AT, include=matched)
            shown = []
            for topic, p in scored.probabilities.items():
                publish_at = loaded.publish_at.get(topic, combining.DEFAULT_PUBLISH_AT)
                decision = combining.decide(
                    combining.RULES_AND_MODEL,
                    combining.STRONG if topic in matched else None,
                    p,
                    publish_at=publish_at,
                    review_at=min(REVIEW_AT, publish_at),
                )
                if decision.by == "model" or decision.action == combining.Action.REVIEW:
                    shown.append(topic)
            explained.append(len(shown))
            loaded.explain(scored, shown, 5)

        def with_model(a):
            # The worker's own path: the matcher, then tags.modelling.plan.
            found = matcher.match(title=a[0], text=a[1])
            planned = modelling.plan(found, loaded, settings, title=a[0], summary="", text=a[1])
            planned_links.append(len(planned.model_links) + len(planned.reviews))

        rules_cpu, _ = timed_tagging(articles, rules_only)
        model_cpu, model_wall = timed_tagging(articles, model_only)
        per_article = sum(explained) / len(explained)
        row_nnz = np.diff(loaded.coef.indptr)
        touched = sum(
            int(row_nnz[loaded.features(learning.document(t, "", b))[0]].sum())
            for t, b in articles[:500]
        ) / min(500, len(articles))
        both_cpu, _ = timed_tagging(articles, with_model)
        verdict = "PASS" if both_cpu >= SPEED_TARGET else "FAIL"
        if both_cpu < SPEED_TARGET:
            failed.append(f"speed on {label}")
        print(
            f"tagging {label} ({len(articles)}, {n_words:.0f} words on average), "
            f"{len(loaded.topics)} topics, one core:\n"
            f"  rules only (matcher): {rules_cpu:,.0f} articles/s\n"
            f"  model only (score, decide, explain {per_article:.1f} topics an article): "
            f"{model_cpu:,.0f} articles/s "
            f"({model_wall:,.0f}/s wall) = {model_cpu / rules_cpu:.2f}x rules; "
            f"{touched:,.0f} coefficients touched an article\n"
            f"  rules + model:        {both_cpu:,.0f} articles/s = {both_cpu / rules_cpu:.2f}x "
            f"rules -> {verdict} (>= {SPEED_TARGET:,.0f}/s); {load()}"
        )

    print(f"\nbelow target: {', '.join(failed) or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
