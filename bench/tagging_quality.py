"""How well topics are tagged, on labelled news nobody tuned the rules on.

    uv run python bench/tagging_quality.py [--corpus FILE.jsonl] [--folds 5] [--seed 1]
                                          [--only NAME ...] [--json] [--time-split-only]
                                          [--validation] [--diagnose]

Data: the Reuters-21578 ModApte training split in ``../shared/corpus/labelled-news/`` (read its
README: research use only, never copied into the repository). Topics: the 12 in
``bench/tagging_quality_topics.json``, whose alias lists were written from general knowledge
before any story was read, and are never tuned.

Every tagger in ``TAGGERS`` is evaluated the same way by ``evaluate``: a tagger is a factory that
takes the training stories and returns a function from a story to the set of topic codes it
would publish. Rule taggers may use the training part to choose thresholds, never the test part.
Two evaluations:

- time split: train on the oldest 80% of stories by date, test on the newest 20%;
- k-fold CV (5 folds, shuffled with a fixed seed): every story is predicted once, by a tagger
  built on the other folds; figures are pooled over all predictions (``--time-split-only``
  skips it: the models make it about 5 times slower).

``--validation`` runs only the same time split inside the older 80% (its oldest 80% against its
newest 20%): design choices (features, how rules and model combine) are made there, never on
the test part. ``--diagnose`` adds where (d) loses on the first split (``bench/
tagging_diagnosis.py``): errors by story id, a hindsight ceiling, a plain linear SVM, calibration,
the review band and label conflicts.

Figures: micro-averaged precision, recall and F1 over all (story, topic) decisions, and
macro-averaged ones (the mean over the 12 topics). Target: prominence-aware rules (b) at least
0.05 micro-F1 above today's rules (a) on the time split; the script exits non-zero below it.

To add a tagger (a learned model, say), write ``def my_tagger(train: Sequence[Story]) ->
Predict`` and add it to ``TAGGERS``; everything else follows.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tags import combining, learning, suggesting
from tags.matching import DEFAULT_STRONG_BODY_MENTIONS, Matcher, Rule, TagMatch, is_strong

CORPUS = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "corpus"
    / "labelled-news"
    / "reuters21578-modapte-train.jsonl"
)
TOPICS_FILE = Path(__file__).resolve().parent / "tagging_quality_topics.json"
TARGET_GAIN = 0.05
TIME_SPLIT = "time split 80/20"
VALIDATION = "validation: time split inside the older 80%"
# Candidate body-mention thresholds tried per topic on the training part.
BODY_MENTION_GRID = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Story:
    id: str
    title: str
    body: str
    topics: frozenset[str]  # codes among the benchmark's topics
    date: str


@dataclass(frozen=True)
class Topic:
    code: str
    name: str
    aliases: tuple[str, ...]
    case_sensitive: tuple[str, ...]
    exclusions: tuple[str, ...]


Predict = Callable[[Story], set[str]]
Tagger = Callable[[Sequence[Story]], Predict]


@dataclass(frozen=True)
class Scores:
    micro_p: float
    micro_r: float
    micro_f1: float
    macro_p: float
    macro_r: float
    macro_f1: float
    per_topic_f1: dict[str, float]
    # (tp, fp, fn) per topic.
    per_topic_counts: dict[str, tuple[int, int, int]]


# --- data ----------------------------------------------------------------------------------------


def load_topics(path: Path = TOPICS_FILE) -> list[Topic]:
    raw = json.loads(path.read_text())["topics"]
    return [
        Topic(
            code=t["code"],
            name=t["name"],
            aliases=tuple(t.get("aliases", ())),
            case_sensitive=tuple(t.get("case_sensitive", ())),
            exclusions=tuple(t.get("exclusions", ())),
        )
        for t in raw
    ]


def load_stories(path: Path, codes: set[str]) -> list[Story]:
    if not path.exists():
        sys.exit(f"corpus not found: {path} (see ../shared/corpus/labelled-news/README.md)")
    stories = []
    with path.open() as lines:
        for number, line in enumerate(lines, 1):
            try:
                row = json.loads(line)
                stories.append(
                    Story(
                        id=str(row["id"]),
                        title=row.get("title") or "",
                        body=row.get("body") or "",
                        topics=frozenset(row.get("topics") or ()) & codes,
                        date=row["date"],
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                sys.exit(f"{path}:{number}: not a labelled story ({exc})")
    return stories


# --- splits and scoring --------------------------------------------------------------------------


def time_split(stories: Sequence[Story], train_share: float = 0.8):
    ordered = sorted(stories, key=lambda s: (s.date, s.id))
    cut = int(len(ordered) * train_share)
    return [(ordered[:cut], ordered[cut:])]


def k_folds(stories: Sequence[Story], folds: int, seed: int):
    shuffled = list(stories)
    random.Random(seed).shuffle(shuffled)
    parts = [shuffled[i::folds] for i in range(folds)]
    return [
        ([s for j, part in enumerate(parts) if j != i for s in part], parts[i])
        for i in range(folds)
    ]


def score(pairs: Sequence[tuple[frozenset[str], set[str]]], codes: Sequence[str]) -> Scores:
    """Precision, recall and F1 over (gold, predicted) topic sets, micro and macro."""
    tp = dict.fromkeys(codes, 0)
    fp = dict.fromkeys(codes, 0)
    fn = dict.fromkeys(codes, 0)
    for gold, predicted in pairs:
        for code in codes:
            g, p = code in gold, code in predicted
            tp[code] += g and p
            fp[code] += p and not g
            fn[code] += g and not p

    def prf(t: int, f_p: int, f_n: int) -> tuple[float, float, float]:
        p = t / (t + f_p) if t + f_p else 0.0
        r = t / (t + f_n) if t + f_n else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)

    micro = prf(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    per = {code: prf(tp[code], fp[code], fn[code]) for code in codes}
    n = len(codes)
    return Scores(
        *micro,
        sum(v[0] for v in per.values()) / n,
        sum(v[1] for v in per.values()) / n,
        sum(v[2] for v in per.values()) / n,
        {code: v[2] for code, v in per.items()},
        {code: (tp[code], fp[code], fn[code]) for code in codes},
    )


def evaluate(tagger: Tagger, splits, codes: Sequence[str]) -> Scores:
    """Build the tagger on each training part, predict its test part, score all predictions."""
    pairs = []
    for train, test in splits:
        predict = tagger(train)
        pairs.extend((story.topics, predict(story)) for story in test)
    return score(pairs, codes)


# --- rule taggers --------------------------------------------------------------------------------


def rules_for(topics: Sequence[Topic], **options) -> list[Rule]:
    return [
        Rule(
            tag_id=i,
            name=t.name,
            aliases=t.aliases,
            case_sensitive_aliases=t.case_sensitive,
            exclusions=t.exclusions,
            **options,
        )
        for i, t in enumerate(topics)
    ]


class RuleTaggers:
    """Rule taggers over one topic list; each story is matched once per matcher and cached."""

    def __init__(self, topics: Sequence[Topic]) -> None:
        self.topics = list(topics)
        self.codes = [t.code for t in topics]
        self.today = Matcher(rules_for(topics, prominence=False))
        self.prominent = Matcher(rules_for(topics, prominence=True))
        self._cache: dict[tuple[int, str], list[TagMatch]] = {}

    def matches(self, matcher: Matcher, story: Story) -> list[TagMatch]:
        key = (id(matcher), story.id)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = matcher.match(title=story.title, text=story.body)
        return found

    def today_rules(self, train: Sequence[Story]) -> Predict:
        """(a) The rules as they were: any alias anywhere, the name an alias."""
        return lambda story: {self.codes[m.tag_id] for m in self.matches(self.today, story)}

    def prominence_defaults(self, train: Sequence[Story]) -> Predict:
        """(b0) Prominence-aware rules with the default thresholds, nothing learned."""
        return lambda story: {
            self.codes[m.tag_id] for m in self.matches(self.prominent, story) if m.strong
        }

    def prominence_tuned(self, train: Sequence[Story]) -> Predict:
        """(b) Prominence-aware rules, each topic's body-mention threshold and whether it
        publishes weak matches chosen for the best F1 on the training part."""
        thresholds = self.tune(train)

        def predict(story: Story) -> set[str]:
            out = set()
            for m in self.matches(self.prominent, story):
                body_mentions, publish_weak = thresholds[m.tag_id]
                if publish_weak or is_strong(m.hits, body_mentions):
                    out.add(self.codes[m.tag_id])
            return out

        return predict

    def tune(self, train: Sequence[Story]) -> dict[int, tuple[int, bool]]:
        """Per topic: (strong_body_mentions, publish_weak) with the best training F1.

        Ties go to the default, then to the stricter setting.
        """
        candidates = [(n, False) for n in BODY_MENTION_GRID] + [(1, True)]
        counts = {
            (i, c): [0, 0, 0] for i in range(len(self.topics)) for c in candidates
        }  # tp, fp, fn
        for story in train:
            found = {m.tag_id: m for m in self.matches(self.prominent, story)}
            for i, code in enumerate(self.codes):
                gold = code in story.topics
                match = found.get(i)
                for body_mentions, publish_weak in candidates:
                    predicted = match is not None and (
                        publish_weak or is_strong(match.hits, body_mentions)
                    )
                    row = counts[i, (body_mentions, publish_weak)]
                    if gold and predicted:
                        row[0] += 1
                    elif predicted:
                        row[1] += 1
                    elif gold:
                        row[2] += 1
        default = (DEFAULT_STRONG_BODY_MENTIONS, False)
        chosen = {}
        for i in range(len(self.topics)):

            def f1(c, i=i) -> float:
                tp, fp, fn = counts[i, c]
                return 2 * tp / (2 * tp + fp + fn) if tp else 0.0

            chosen[i] = max(candidates, key=lambda c: (round(f1(c), 6), c == default, c[0]))
        return chosen


# --- model taggers (tags.learning, tags.combining) -----------------------------------------------


class ModelTaggers:
    """Topic models trained on the training part, alone or combined with the prominence rules
    exactly as ``tags.combining`` combines them for a topic in that mode (review items are not
    published). A topic with too few training positives has no model and keeps its rules."""

    def __init__(self, rules: RuleTaggers, inner_folds: int = 5) -> None:
        self.rules = rules
        self.inner_folds = inner_folds
        self._model: tuple[int, learning.TopicModel] | None = None
        self._suggested: tuple[int, dict[str, suggesting.Suggestion]] | None = None
        # Every training part's suggestions, in the order evaluated (the time split first).
        self.suggestion_log: list[dict[str, suggesting.Suggestion]] = []

    def model(self, train: Sequence[Story]) -> learning.TopicModel:
        key = id(train)
        if self._model is None or self._model[0] != key:
            examples = [learning.LabelledText(s.title, "", s.body, s.topics) for s in train]
            self._model = (key, learning.fit(examples, self.rules.codes))
        return self._model[1]

    @staticmethod
    def levels(model: learning.TopicModel, code: str) -> dict[str, float]:
        """The publish level the model suggests for the topic (chosen by cross-validation
        inside the training part), as an editor would take it; the review level below it."""
        publish_at = model.publish_at.get(code, combining.DEFAULT_PUBLISH_AT)
        return {"publish_at": publish_at, "review_at": min(combining.DEFAULT_REVIEW_AT, publish_at)}

    def probabilities(self, model: learning.TopicModel, story: Story) -> dict[str, float | None]:
        scores = model.predict(title=story.title, text=story.body, top_terms=0)
        return {
            code: (scores[code].probability if code in model else None) for code in self.rules.codes
        }

    def model_only(self, train: Sequence[Story]) -> Predict:
        """(c) The model alone, at each topic's suggested publish level."""
        model = self.model(train)

        def predict(story: Story) -> set[str]:
            probs = self.probabilities(model, story)
            rule = {
                self.rules.codes[m.tag_id]: m
                for m in self.rules.matches(self.rules.prominent, story)
            }
            return {
                code
                for code, p in probs.items()
                if combining.published(
                    combining.MODEL,
                    _state(rule.get(code)) if p is None else None,
                    p,
                    **self.levels(model, code),
                )
            }

        return predict

    def states(self, thresholds: dict[int, tuple[int, bool]], story: Story) -> dict[str, str]:
        """Each matched topic's rule state, with the thresholds tuned on the training part."""
        states: dict[str, str] = {}
        for m in self.rules.matches(self.rules.prominent, story):
            body_mentions, publish_weak = thresholds[m.tag_id]
            strong = publish_weak or is_strong(m.hits, body_mentions)
            states[self.rules.codes[m.tag_id]] = combining.STRONG if strong else combining.WEAK
        return states

    def suggested(self, train: Sequence[Story]) -> dict[str, suggesting.Suggestion]:
        """Per topic, the mode and publish level with the best F1 on out-of-fold
        probabilities inside the training part (``tags.suggesting``): what the topic form
        suggests to the editor. The test part is never seen."""
        key = id(train)
        if self._suggested is not None and self._suggested[0] == key:
            return self._suggested[1]
        codes = self.rules.codes
        examples = [learning.LabelledText(s.title, "", s.body, s.topics) for s in train]
        probs = learning.out_of_fold(
            examples, codes, learning.kfold(len(examples), self.inner_folds)
        )
        thresholds = self.rules.tune(train)
        states = [self.states(thresholds, s) for s in train]
        found = {
            code: suggesting.suggest(
                probs[:, k], [st.get(code) for st in states], [code in s.topics for s in train]
            )
            for k, code in enumerate(codes)
        }
        self._suggested = (key, found)
        self.suggestion_log.append(found)
        return found

    def rules_and_model_suggested(self, train: Sequence[Story]) -> Predict:
        """(d) Rules and model, each topic in the mode, at the publish level and (rules+model)
        the veto level suggested by inner CV on the training part (rules+model, model alone or
        rules alone)."""
        model = self.model(train)
        thresholds = self.rules.tune(train)
        suggested = self.suggested(train)

        def predict(story: Story) -> set[str]:
            probs = self.probabilities(model, story)
            states = self.states(thresholds, story)
            out = set()
            for code, p in probs.items():
                pick = suggested[code]
                levels = {
                    "publish_at": pick.publish_at,
                    "review_at": pick.publish_at,
                    "veto_at": pick.veto_at,
                }
                if combining.published(pick.mode, states.get(code), p, **levels):
                    out.add(code)
            return out

        return predict

    def rules_and_model(self, train: Sequence[Story]) -> Predict:
        """(d) Prominence rules (thresholds tuned on train as in (b)) with the model vetoing weak
        matches (and strong ones it is very sure of) and adding confident misses, at each
        topic's suggested publish level and the default veto level."""
        model = self.model(train)
        thresholds = self.rules.tune(train)

        def predict(story: Story) -> set[str]:
            probs = self.probabilities(model, story)
            states: dict[str, str] = {}
            for m in self.rules.matches(self.rules.prominent, story):
                body_mentions, publish_weak = thresholds[m.tag_id]
                strong = publish_weak or is_strong(m.hits, body_mentions)
                states[self.rules.codes[m.tag_id]] = combining.STRONG if strong else combining.WEAK
            return {
                code
                for code, p in probs.items()
                if combining.published(
                    combining.RULES_AND_MODEL, states.get(code), p, **self.levels(model, code)
                )
            }

        return predict


def _state(match: TagMatch | None) -> str | None:
    if match is None:
        return None
    return combining.STRONG if match.strong else combining.WEAK


def build_taggers(topics: Sequence[Topic]) -> dict[str, Tagger]:
    """The table of taggers, by name; the order is the order of the report."""
    rules = RuleTaggers(topics)
    models = ModelTaggers(rules)
    return {
        "(a) today's rules": rules.today_rules,
        "(b0) prominence, default thresholds": rules.prominence_defaults,
        "(b) prominence, thresholds tuned on train": rules.prominence_tuned,
        "(c) model only": models.model_only,
        "(d0) rules + model, model-only levels": models.rules_and_model,
        "(d) rules + model, mode+level by inner CV": models.rules_and_model_suggested,
    }


# --- report --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--topics", type=Path, default=TOPICS_FILE)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", nargs="*", help="run only taggers whose name contains these")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--time-split-only", action="store_true", help="skip the k-fold CV (5x faster)"
    )
    parser.add_argument(
        "--validation",
        action="store_true",
        help="only the time split inside the older 80%% (its oldest 80%% vs its newest 20%%): "
        "where design choices are made, never seeing the test part",
    )
    parser.add_argument(
        "--diagnose",
        action="store_true",
        help="after the figures, where (d) loses on the first split: errors per topic, a "
        "hindsight ceiling, a plain linear SVM, calibration, the review band, label conflicts",
    )
    args = parser.parse_args(argv)

    topics = load_topics(args.topics)
    codes = [t.code for t in topics]
    stories = load_stories(args.corpus, set(codes))
    if args.validation:
        older = time_split(stories)[0][0]
        splits = {VALIDATION: time_split(older)}
    else:
        splits = {
            TIME_SPLIT: time_split(stories),
            f"{args.folds}-fold CV": k_folds(stories, args.folds, args.seed),
        }
        if args.time_split_only:
            del splits[f"{args.folds}-fold CV"]
    first = next(iter(splits))
    taggers = build_taggers(topics)
    if args.only:
        taggers = {k: v for k, v in taggers.items() if any(o in k for o in args.only)}
    if not args.json:
        train, test = splits[first][0]
        print(
            f"{len(stories)} stories, {sum(bool(s.topics) for s in stories)} with one of the "
            f"{len(codes)} topics; {first} trains on {len(train)}, tests on {len(test)} "
            f"stories from {test[0].date}"
        )
    results: dict[str, dict[str, Scores]] = {}
    seconds: dict[str, float] = {}
    for name, tagger in taggers.items():
        started = time.perf_counter()
        results[name] = {split: evaluate(tagger, parts, codes) for split, parts in splits.items()}
        seconds[name] = time.perf_counter() - started

    if args.json:
        print(json.dumps({n: {s: vars(sc) for s, sc in r.items()} for n, r in results.items()}))
    else:
        header = f"{'tagger':<44} {'split':<17} {'micro P':>7} {'R':>6} {'F1':>6}"
        print(f"\n{header} {'macro P':>8} {'R':>6} {'F1':>6} {'s':>6}")
        for name, by_split in results.items():
            for split, sc in by_split.items():
                print(
                    f"{name:<44} {split[:17]:<17} {sc.micro_p:7.3f} {sc.micro_r:6.3f} "
                    f"{sc.micro_f1:6.3f} {sc.macro_p:8.3f} {sc.macro_r:6.3f} {sc.macro_f1:6.3f} "
                    f"{seconds[name]:6.1f}"
                )
        print(f"\nper-topic F1, {first} (tp/fp/fn of the last tagger):")
        print(f"{'topic':<17}" + "".join(f"{n[:4]:>7}" for n in results) + "   tp/fp/fn")
        last = list(results.values())[-1][first]
        for code in codes:
            row = "".join(f"{r[first].per_topic_f1[code]:7.3f}" for r in results.values())
            print(f"{code:<17}{row}   {'/'.join(map(str, last.per_topic_counts[code]))}")
        for tagger in taggers.values():
            log = getattr(getattr(tagger, "__self__", None), "suggestion_log", None)
            if log:
                print(
                    f"\nsuggested by inner CV on the {first}'s training part "
                    "(mode, publish level, veto level):"
                )
                for code, pick in log[0].items():
                    figures = ", ".join(f"{m} {f1:.3f}" for m, (f1, _) in pick.per_mode.items())
                    print(
                        f"  {code:<17}{pick.mode:<12}{pick.publish_at:5.2f} "
                        f"{pick.veto_at if pick.mode == combining.RULES_AND_MODEL else '':>5}"
                        f"   ({figures})"
                    )
                break
        if args.diagnose:
            from bench import tagging_diagnosis

            train, test = splits[first][0]
            tagging_diagnosis.report(taggers, train, test, codes)
    a, b = "(a) today's rules", "(b) prominence, thresholds tuned on train"
    if a in results and b in results and TIME_SPLIT in splits:
        gain = results[b][TIME_SPLIT].micro_f1 - results[a][TIME_SPLIT].micro_f1
        ok = gain >= TARGET_GAIN
        if not args.json:
            print(
                f"\n(b) - (a) micro-F1 on the time split: {gain:+.3f} (target +{TARGET_GAIN}): "
                f"{'PASS' if ok else 'FAIL'}"
            )
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
