"""The matcher's hit locating and results, made faster, decide exactly as before on real stories.

``OldMatcher`` keeps the previous ``Matcher._hits`` (one name test, with the name regex searched
over the whole 40 characters before a hit, and one ``Hit`` per topic and occurrence) and the
previous ``Matcher._results`` (matches made through the dataclass constructor, each classified
by ``is_strong`` on its own, sorted at the end) for this comparison only. Every result field is
compared: tags, order, scores, terms, strong/weak, vetoes and each hit's field, span, term and
name flag. Stories are read in place from the shared labelled archive.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from itertools import groupby
from pathlib import Path

import pytest

from bench.tagging_quality import load_topics, rules_for
from tags import matching
from tags.matching import (
    _ALIAS,
    _JOINED,
    FIELD_NAMES,
    OCCURRENCE_CAP,
    TITLE,
    Hit,
    Matcher,
    Rule,
    TagMatch,
    _company_follows,
    _outermost_terms,
    is_strong,
)

CORPUS = Path(__file__).resolve().parents[2] / "shared/corpus/labelled-news"
CORPUS_FILE = CORPUS / "reuters21578-modapte-train.jsonl"

pytestmark = pytest.mark.skipif(
    not CORPUS_FILE.exists(), reason=f"labelled archive not found at {CORPUS}"
)


def _old_inside_name(raw, start, end, term, rule, *, title=False):
    if term[1:] != term[1:].lower() or term in rule.case_sensitive_aliases:
        return False
    found = raw[start:end]
    if not all(word[:1].isupper() for word in found.split()):
        return False
    if _company_follows(raw, end):
        return True
    if title or found.isupper():
        return False
    before = matching._NAME_BEFORE.search(raw, max(0, start - 40), start)
    if before and before.group(1)[0].isupper():
        return True
    after = matching._NAME_AFTER.match(raw, end)
    return bool(after and after.group(1)[0].isupper())


class OldMatcher(Matcher):
    def _results(self, tally, vetoes, scans, keyword_pids, *, explain):
        rules, labels = self._rules, self._labels
        cap = OCCURRENCE_CAP
        w_title, w_summary, w_text, w_keywords = matching.FIELD_WEIGHTS
        kept = []
        for rule_idx, term_ids in groupby(sorted(tally), self._term_rule.__getitem__):
            rule = rules[rule_idx]
            body_counts = not rule.title_and_summary_only
            score = 0.0
            terms = {}
            in_title = in_words = False
            for term_id in term_ids:
                title, summary, text, keywords, lead = tally[term_id]
                text += lead
                if not body_counts:
                    text = 0
                total = title + summary + text + keywords
                if not total:
                    continue
                score += (
                    w_title * min(title, cap)
                    + w_summary * min(summary, cap)
                    + w_text * min(text, cap)
                    + w_keywords * min(keywords, cap)
                )
                terms[labels[term_id]] = total
                in_title = in_title or bool(title)
                in_words = in_words or bool(title or summary or text)
            if not terms:
                continue
            vetoed_by = vetoes.get(rule_idx)
            if explain or (vetoed_by is None and score >= rule.min_score):
                kept.append((rule_idx, score, terms, in_title, vetoed_by, not in_words))
        if not kept:
            return []
        hits = self._hits({k[0] for k in kept}, scans, keyword_pids)
        results = []
        for rule_idx, score, terms, in_title, vetoed_by, keywords_only in kept:
            rule = rules[rule_idx]
            found = hits.get(rule_idx, ())
            if rule.title_and_summary_only:
                found = tuple(h for h in found if h.field not in ("lead", "body"))
            strong = is_strong(found, rule.strong_body_mentions) if rule.prominence else True
            results.append(
                TagMatch(
                    rule.tag_id, score, terms, in_title, vetoed_by, keywords_only, strong, found
                )
            )
        return sorted(results, key=lambda m: (-m.score, m.tag_id))

    def _hits(self, wanted, scans, keyword_pids):
        entries, labels, base = self._entries, self._labels, self._term_base
        out = {}
        for field, raw, offset, padded, found, folded, spaced, stripped in scans:
            name = FIELD_NAMES[field]
            per_rule = {}
            located = self._locate(raw, padded, found, folded, spaced, stripped)
            for start, end, hit_pid in located:
                for rule_idx, term_idx, kind in entries[hit_pid]:
                    if kind == _ALIAS and rule_idx in wanted:
                        per_rule.setdefault(rule_idx, []).append((start, end, term_idx))
            for rule_idx, located in per_rule.items():
                rule = self._rules[rule_idx]
                for start, end, term_idx in _outermost_terms(located):
                    term = labels[base[rule_idx] + term_idx]
                    in_name = raw[start].isupper() and _old_inside_name(
                        raw, start, end, term, rule, title=field == TITLE
                    )
                    out.setdefault(rule_idx, []).append(
                        Hit(name, start + offset, end + offset, term, in_name)
                    )
        for index, pids in enumerate(keyword_pids):
            seen = set()
            for pid in pids:
                for rule_idx, term_idx, kind in entries[pid]:
                    key = (rule_idx, term_idx)
                    if kind in (_ALIAS, _JOINED) and rule_idx in wanted and key not in seen:
                        seen.add(key)
                        term = labels[base[rule_idx] + term_idx]
                        out.setdefault(rule_idx, []).append(Hit("keywords", index, index + 1, term))
        return {rule_idx: tuple(found) for rule_idx, found in out.items()}


@pytest.fixture(scope="module")
def stories() -> list[dict]:
    with CORPUS_FILE.open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    return random.Random(7).sample(rows, 600)  # noqa: S311 - a repeatable sample


def _shared_alias_rules(stories: list[dict]) -> list[Rule]:
    """Topics like bench/topic_models.py's: each word an alias of several topics, plus
    capitalised, case-sensitive, multi-word and title-only variants sharing those words."""
    rng = random.Random(3)  # noqa: S311 - repeatable topics
    counts: Counter[str] = Counter()
    for story in stories:
        counts.update({w.lower() for w in story["body"].split() if w.isalpha()})
    pool = sorted(w for w, n in counts.items() if 5 <= n <= 200)
    words = rng.sample(pool, 400)
    rules = []
    for i, word in enumerate(words, start=1):
        aliases = [word, *rng.sample(words, 2)]
        if i % 5 == 0:
            aliases.append(aliases[1].title())  # "Trade": may not be part of a name
        if i % 6 == 0:
            aliases.append(f"{aliases[1]} {aliases[2]}")
        rules.append(
            Rule(
                tag_id=i,
                name=word,
                aliases=tuple(aliases),
                case_sensitive_aliases=(word.upper(), word.title()) if i % 7 == 0 else (),
                title_and_summary_only=i % 11 == 0,
                strong_body_mentions=1 + i % 4,
                exclusions=(f"{word} {aliases[1]}",) if i % 13 == 0 else (),
            )
        )
    return rules


def _compare(old: Matcher, new: Matcher, stories: list[dict]) -> int:
    joined = [
        {"title": stories[i]["title"], "body": " ".join(s["body"] for s in stories[i : i + 4])}
        for i in range(0, 80, 4)
    ]
    compared = 0
    for story in [*stories, *joined]:
        for explain in (True, False):
            args = {
                "title": story["title"],
                "summary": story["body"][:200],
                "text": story["body"],
                "keywords": story["title"].split()[:3],
                "explain": explain,
            }
            expected = old.match(**args)
            assert new.match(**args) == expected, story["title"]
            compared += sum(len(m.hits) for m in expected)
    return compared


def test_the_name_before_a_hit_is_found_as_by_searching_all_40_characters(stories):
    """``_name_before`` searches from one place only; it finds what the full search finds,
    at every position of real stories and of strings made of the characters that matter."""
    rng = random.Random(5)  # noqa: S311 - repeatable strings
    alphabet = "aZ9_' \t\n&,.É٣"
    texts = [story["body"] for story in stories[:40]]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(3000)]
    found = 0
    for text in texts:
        for start in range(len(text) + 1):
            expected = matching._NAME_BEFORE.search(text, max(0, start - 40), start)
            got = matching._name_before(text, start)
            assert (got and got.span(), got and got.group(1)) == (
                expected and expected.span(),
                expected and expected.group(1),
            ), (text, start)
            found += expected is not None
    assert found > 10_000


def test_same_decisions_and_hits_as_before_with_shared_aliases(stories):
    rules = _shared_alias_rules(stories)
    hits = _compare(OldMatcher(rules), Matcher(rules), stories)
    assert hits > 20_000  # the comparison covered many occurrences, not a handful


def test_same_decisions_and_hits_as_before_with_the_benchmark_topics(stories):
    topics = load_topics()
    for prominence in (True, False):
        rules = rules_for(topics, prominence=prominence)
        assert _compare(OldMatcher(rules), Matcher(rules), stories) > 300


def test_names_are_still_told_apart_on_real_stories(stories):
    """The comparison saw occurrences inside names and outside, strong and weak matches."""
    rules = _shared_alias_rules(stories)
    matcher = Matcher(rules)
    seen = Counter()
    for story in stories:
        for found in matcher.match(title=story["title"], text=story["body"]):
            seen["strong" if found.strong else "weak"] += 1
            seen.update("name" if h.in_name else "plain" for h in found.hits)
    assert min(seen["strong"], seen["weak"], seen["name"], seen["plain"]) > 50, seen
