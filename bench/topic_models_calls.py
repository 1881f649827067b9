"""The worker's tagging path of bench/topic_models.py, for counting instructions and hashing plans.

    valgrind --tool=callgrind --instr-atstart=no uv run --no-sync python \\
        bench/topic_models_calls.py --model m.npz --callgrind [--rules-only]
    uv run python bench/topic_models_calls.py --model m.npz --hash 3000

The same 1,000 synthetic topics, rules (three aliases each), settings (every topic in
rules+model at its suggested level) and sample of archive stories as bench/topic_models.py with
the same ``--topics`` and ``--seed``; ``--model`` is a model that bench wrote with
``--save-model``. ``--callgrind``: after ``--warmup`` articles, instrumentation is switched on
(``callgrind_control -i on``) for ``--articles`` articles of the matcher then
``tags.modelling.plan`` (or the matcher alone), and off again, so valgrind's "Collected" line
counts those articles only, whatever the machine's load. ``--hash N``: a SHA-256 of the plans of
the archive's first N stories (kept matches with every field and hit, the model's links and
review items with probabilities as exact floats, reasons and top terms, the vetoes), to show
that a change decides exactly as before.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from threadpoolctl import threadpool_limits

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsdesk.settings")
import django

django.setup()

from bench.topic_models import CORPUS, CORPUS_FILE, read, synthetic_topics, tagging_setup  # noqa: E402
from tags import learning, modelling  # noqa: E402


def plan_record(planned: modelling.Plan) -> list:
    return [
        [
            [
                *(m.tag_id, m.score.hex(), sorted(m.terms.items()), m.in_title, m.vetoed_by),
                *(m.keywords_only, m.strong, [h.as_list() for h in m.hits]),
            ]
            for m in planned.matches
        ],
        [[k, p.hex(), sorted(t.items())] for k, (p, t) in sorted(planned.model_links.items())],
        [[k, p.hex(), sorted(t.items()), r] for k, (p, t, r) in sorted(planned.reviews.items())],
        [[k, p.hex()] for k, p in sorted(planned.vetoes.items())],
    ]


def main() -> int:
    threadpool_limits(1)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--topics", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--articles", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--rules-only", action="store_true")
    parser.add_argument("--callgrind", action="store_true")
    parser.add_argument("--hash", type=int, metavar="N")
    args = parser.parse_args()
    if args.hash and args.rules_only:
        parser.error("--hash needs the plans: not with --rules-only")
    rows = read(CORPUS / CORPUS_FILE)
    # The same draws, in the same order, as bench/topic_models.py.
    rng = random.Random(args.seed)
    words = synthetic_topics(rows, args.topics, rng)
    model = learning.TopicModel.from_bytes(args.model.read_bytes())
    matcher, settings = tagging_setup(words, model, rng)
    sample = rng.sample(rows, min(3000, len(rows)))

    def tag(title: str, text: str) -> modelling.Plan | None:
        found = matcher.match(title=title, text=text)
        if args.rules_only:
            return None
        return modelling.plan(found, model, settings, title=title, summary="", text=text)

    if args.hash:
        digest = hashlib.sha256()
        for row in rows[: args.hash]:
            planned = tag(row["title"], row["body"])
            digest.update(json.dumps(plan_record(planned)).encode())
        print(f"plans of the archive's first {args.hash} stories: sha256 {digest.hexdigest()}")
        return 0
    stories = [(r["title"], r["body"]) for r in sample]
    for title, text in stories[: args.warmup]:
        tag(title, text)
    measured = stories[args.warmup : args.warmup + args.articles]
    if args.callgrind:
        subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True)
    for title, text in measured:
        tag(title, text)
    if args.callgrind:
        subprocess.run(["callgrind_control", "-i", "off", str(os.getpid())], check=True)
    what = "the matcher" if args.rules_only else "the matcher and plan"
    print(f"{what} on {len(measured)} archive stories (after {args.warmup})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
