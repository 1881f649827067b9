"""Topic matcher: every alias of every topic found in one Aho-Corasick pass per field.

Text is reduced to its match form (``tags.normalize.match_form``: words separated by single
spaces) and patterns are padded with a space on each side, so the automaton only reports
whole-word hits and no hit needs a Python-level boundary check. Scripts written without
spaces (Chinese, Japanese, Thai ...) are not padded on their CJK edge, so "稀土" is found
inside a longer run.

Scoring, per topic: each alias (as the editor wrote it, its inflections and hyphenations
included) scores ``weight * min(occurrences, 3)`` in each field, with weights title 3,
keywords 3 (each keyword counts once), summary 2, text 1; the topic's score is the sum over
its aliases. The cap stops one repeated word from outweighing a title hit. An occurrence of
an alias that lies inside an occurrence of a longer alias of the same topic ("rare earth"
inside "rare earth elements") counts only for the longer one.

Case-sensitive aliases ("US" but not "us") are matched exactly, without inflections: the
folded form is a cheap candidate in the main pass, and only when a candidate is seen is the
field scanned again, unfolded, for the case-sensitive patterns.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, groupby, pairwise
from operator import itemgetter

import ahocorasick

from tags.normalize import (
    char_form,
    match_form,
    match_form_mapped,
    normalize,
    phrase_variants,
    split_hashtag,
)

TITLE, SUMMARY, TEXT, KEYWORDS, LEAD = range(5)
# Field names as recorded in TagMatch.hits. TEXT is the body: the text after its lead.
FIELD_NAMES = ("title", "summary", "body", "keywords", "lead")
# The lead is the text's first paragraph, or at most this many characters of it.
LEAD_MAX_CHARS = 600
DEFAULT_STRONG_BODY_MENTIONS = 3
# Occurrences of one pattern located per field; the count in TagMatch.terms has them all.
MAX_HITS_PER_PATTERN = 20
FIELD_WEIGHTS: tuple[float, float, float, float] = (3.0, 2.0, 1.0, 3.0)
OCCURRENCE_CAP = 3
_W_TITLE, _W_SUMMARY, _W_TEXT, _W_KEYWORDS = FIELD_WEIGHTS

_ALIAS, _JOINED, _EXCLUSION, _CASE_CANDIDATE = range(4)
# Patterns shorter than this are ignored: "C#" reduces to "c", which would match every "c".
_MIN_PATTERN_CHARS = 2

_Entry = tuple[int, int, int]  # (rule index, term index, kind)


@dataclass(frozen=True)
class Rule:
    """One topic's matching rule, as editors define it in the admin."""

    tag_id: int
    name: str
    aliases: tuple[str, ...] = ()
    exclusions: tuple[str, ...] = ()
    title_and_summary_only: bool = False
    min_score: float = 1.0
    case_sensitive_aliases: tuple[str, ...] = ()
    # Whether the topic's own name is matched like an alias.
    name_is_alias: bool = True
    # False: every match at or above min_score is strong (the matcher before prominence).
    prominence: bool = True
    # Mentions in the body (outside the lead, outside capitalised names) that make a match
    # found nowhere more prominent strong.
    strong_body_mentions: int = DEFAULT_STRONG_BODY_MENTIONS
    # Weak matches are published too. The matcher only reports it; callers decide.
    publish_weak: bool = False


@dataclass(frozen=True, slots=True)
class Hit:
    """One occurrence of a term: its field and its character span in that field's original text.

    ``field`` is one of FIELD_NAMES; "lead" and "body" spans are offsets into the whole text.
    For "keywords", ``start`` is the keyword's index in the list and ``end`` is ``start + 1``.
    ``in_name`` marks an occurrence inside a capitalised multi-word name ("Kiena Gold Mines").
    """

    field: str
    start: int
    end: int
    term: str
    in_name: bool = False

    def as_list(self) -> list:
        """The compact JSON form stored with a link: [field, start, end, term, in_name]."""
        return [self.field, self.start, self.end, self.term, int(self.in_name)]


@dataclass(frozen=True, slots=True)
class TagMatch:
    """Why a topic applies to an article: its score and the aliases that were found."""

    tag_id: int
    score: float
    terms: dict[str, int]
    in_title: bool
    vetoed_by: str | None = None
    # Found only among the article's own labels (categories, keywords, hashtags), not its words.
    keywords_only: bool = False
    # True: the rules publish it. False: a weak match (one passing mention, a company name).
    strong: bool = True
    # Where each term was found, in text order per field (nested occurrences dropped).
    hits: tuple[Hit, ...] = ()

    def where(self) -> dict[str, int]:
        """Occurrences per field, counting those inside names separately as "name"."""
        counts: dict[str, int] = {}
        for hit in self.hits:
            key = "name" if hit.in_name else hit.field
            counts[key] = counts.get(key, 0) + 1
        return counts


def _slot_setters(cls: type) -> list:
    return [cls.__dict__[name].__set__ for name in cls.__dataclass_fields__]


_SET_HIT = _slot_setters(Hit)
_SET_MATCH = _slot_setters(TagMatch)
_NEW = object.__new__


def _new_hit(field: str, start: int, end: int, term: str, in_name: bool) -> Hit:
    """``Hit(...)`` at about half the cost: a frozen dataclass's ``__init__`` sets each field
    through ``object.__setattr__``, and tens of hits and matches are made per article. Both
    classes have no ``__post_init__`` and no defaults left unset here, so the objects are the
    same (tests/test_matching_equivalence.py compares whole results)."""
    hit = _NEW(Hit)
    s_field, s_start, s_end, s_term, s_in_name = _SET_HIT
    s_field(hit, field)
    s_start(hit, start)
    s_end(hit, end)
    s_term(hit, term)
    s_in_name(hit, in_name)
    return hit


class _Patterns:
    """Padded pattern strings with their entries, split into one automaton per purpose."""

    def __init__(self) -> None:
        self.strings: list[str] = []
        self.entries: list[list[_Entry]] = []
        self.index: dict[tuple[str, str], int] = {}  # (automaton, pattern) -> pattern id
        self.words: dict[str, list[str]] = {"main": [], "joined": [], "case": []}
        self.alias_forms: dict[int, set[str]] = {}  # rule index -> its alias pattern strings

    def add(self, automaton: str, form: str, entry: _Entry) -> None:
        if len(form) < _MIN_PATTERN_CHARS:
            return
        pattern = _pad(form)
        pid = self.index.get((automaton, pattern))
        if pid is None:
            pid = self.index[automaton, pattern] = len(self.strings)
            self.strings.append(pattern)
            self.entries.append([])
            self.words[automaton].append(pattern)
        # One topic may reach the same form through two aliases; count it once, for the first.
        if not any(e[0] == entry[0] and e[2] == entry[2] for e in self.entries[pid]):
            self.entries[pid].append(entry)
        if entry[2] in (_ALIAS, _JOINED):
            self.alias_forms.setdefault(entry[0], set()).add(pattern)

    def nested_rules(self) -> frozenset[int]:
        """Rules with an alias pattern inside another of their own, which need attribution."""
        nested = set()
        for rule_idx, forms in self.alias_forms.items():
            ordered = sorted(forms, key=len)
            if any(short in long for i, short in enumerate(ordered) for long in ordered[i + 1 :]):
                nested.add(rule_idx)
        return frozenset(nested)

    def automaton(self, name: str) -> ahocorasick.Automaton | None:
        if not self.words[name]:
            return None
        automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        for pattern in self.words[name]:
            automaton.add_word(pattern, self.index[name, pattern])
        automaton.make_automaton()
        return automaton


class Matcher:
    """All topic rules compiled into automata; build once per rules version and reuse.

    Instances are picklable (pyahocorasick automata pickle), so a cache may store them.
    """

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._rules: tuple[Rule, ...] = tuple(rules)
        seen = Counter(rule.tag_id for rule in self._rules)
        duplicated = sorted(tag_id for tag_id, n in seen.items() if n > 1)
        if duplicated:
            raise ValueError(f"duplicate tag ids in rules: {duplicated}")
        self._terms: list[tuple[str, ...]] = []
        patterns = _Patterns()
        for rule_idx, rule in enumerate(self._rules):
            self._add_rule(patterns, rule_idx, rule)
        self._patterns = patterns.strings
        self._entries: list[tuple[_Entry, ...]] = [tuple(e) for e in patterns.entries]
        # Tallies are keyed by a global term id; ids of one rule are consecutive, in term order.
        self._term_base: list[int] = []
        self._term_rule: list[int] = []
        self._labels: list[str] = []
        for rule_idx, labels in enumerate(self._terms):
            self._term_base.append(len(self._labels))
            self._term_rule.extend([rule_idx] * len(labels))
            self._labels.extend(labels)
        # Per global term id: whether its occurrences can be part of a capitalised name.
        self._nameable: list[bool] = [
            _may_be_name(label, self._rules[rule_idx])
            for label, rule_idx in zip(self._labels, self._term_rule, strict=True)
        ]
        # Per pattern id: (rule index, global term id) of each plain alias it stands for.
        self._alias_terms: list[tuple[tuple[int, int], ...]] = [
            tuple(
                (rule_idx, self._term_base[rule_idx] + term_idx)
                for rule_idx, term_idx, kind in entries
                if kind == _ALIAS
            )
            for entries in self._entries
        ]
        # Per global term id: one number per (label, nameable), the only parts of a term that
        # make its hits differ, so that topics sharing an alias share its hits.
        kinds: dict[tuple[str, bool], int] = {}
        self._term_kind: list[int] = [
            kinds.setdefault(key, len(kinds))
            for key in zip(self._labels, self._nameable, strict=True)
        ]
        self._fast = self._fast_pids(patterns.nested_rules())
        self._candidates = frozenset(
            pid for pid, es in enumerate(self._entries) if any(e[2] == _CASE_CANDIDATE for e in es)
        )
        self._main = patterns.automaton("main")
        self._joined = patterns.automaton("joined")
        self._case = patterns.automaton("case")

    def _add_rule(self, patterns: _Patterns, rule_idx: int, rule: Rule) -> None:
        terms = _dedupe_terms((rule.name, *rule.aliases) if rule.name_is_alias else rule.aliases)
        for term_idx, term in enumerate(terms):
            # Hyphenated variants share their spaced match form: reduce before match_form.
            forms = {
                match_form(v)
                for v in {v.replace("-", " ") for v in phrase_variants(term, joined=True)}
            }
            spaced = {f for f in forms if " " in f or len(_words(term)) == 1}
            for form in spaced:
                patterns.add("main", form, (rule_idx, term_idx, _ALIAS))
            for form in forms - spaced:
                patterns.add("joined", form, (rule_idx, term_idx, _JOINED))
        for offset, term in enumerate(rule.case_sensitive_aliases):
            term_idx = len(terms) + offset
            exact = match_form(term, fold_case=False)
            patterns.add("case", exact, (rule_idx, term_idx, _ALIAS))
            patterns.add("main", match_form(term), (rule_idx, term_idx, _CASE_CANDIDATE))
        self._terms.append((*terms, *rule.case_sensitive_aliases))
        for excl_idx, phrase in enumerate(rule.exclusions):
            for form in {match_form(v) for v in phrase_variants(phrase)}:
                patterns.add("main", form, (rule_idx, excl_idx, _EXCLUSION))

    def _fast_pids(self, nested: frozenset[int]) -> dict[int, tuple[int, ...]]:
        """Pattern id -> global term ids, for patterns whose hits need no per-rule pass.

        That is every pattern holding only plain aliases of rules without nested aliases (and
        case candidates, which a text hit ignores); the rest go through ``_collect``.
        """
        fast: dict[int, tuple[int, ...]] = {}
        for pid, entries in enumerate(self._entries):
            if all(
                kind == _CASE_CANDIDATE or (kind == _ALIAS and rule_idx not in nested)
                for rule_idx, _, kind in entries
            ):
                fast[pid] = tuple(
                    self._term_base[rule_idx] + term_idx
                    for rule_idx, term_idx, kind in entries
                    if kind == _ALIAS
                )
        return fast

    def __len__(self) -> int:
        return len(self._patterns)

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self._rules

    def match(
        self,
        *,
        title: str = "",
        summary: str = "",
        text: str = "",
        keywords: Iterable[str] = (),
        explain: bool = False,
    ) -> list[TagMatch]:
        """Return the topics of an article, best first (score desc, then tag id).

        ``keywords`` (feed categories, page keywords, hashtags) count like a title hit. With
        ``explain=True`` vetoed and below-``min_score`` topics are returned too, vetoed ones
        with ``vetoed_by`` set to the exclusion as the editor wrote it.
        """
        tally: dict[int, list[int]] = {}  # global term id -> hits per field
        vetoes: dict[int, str] = {}
        scans: list[_Scan] = []
        cut = lead_end(text) if text else 0
        fields = ((TITLE, title, 0), (SUMMARY, summary, 0), (LEAD, text[:cut], 0))
        for field, raw, offset in (*fields, (TEXT, text[cut:], cut)):
            if raw:
                self._tally_field(self._field_hits(raw, field, offset, scans), field, tally, vetoes)
        keyword_pids: list[Counter[int]] = []
        for keyword in keywords:
            pids = self._keyword_hits(keyword)
            keyword_pids.append(pids)
            self._collect(pids, KEYWORDS, tally, vetoes)
        if not tally:
            return []
        return self._results(tally, vetoes, scans, keyword_pids, explain=explain)

    def highlight_terms(
        self, text: str, *, tag_ids: Iterable[int] | None = None
    ) -> list[tuple[int, int, int]]:
        """Return ``(start, end, tag_id)`` spans of alias occurrences over the original ``text``.

        Meant for the admin preview: it walks the text character by character in Python.
        A span inside a longer span of the same topic is dropped.
        """
        wanted = None if tag_ids is None else set(tag_ids)
        spans: set[tuple[int, int, int]] = set()
        for automaton, fold_case in ((self._main, True), (self._case, False)):
            if automaton is None:
                continue
            form, starts, ends = _mapped_form(text, fold_case=fold_case)
            for end_idx, pid in automaton.iter(form):
                first, last = self._core_span(pid, end_idx)
                for rule_idx, _, kind in self._entries[pid]:
                    tag_id = self._rules[rule_idx].tag_id
                    if kind == _ALIAS and (wanted is None or tag_id in wanted):
                        spans.add((starts[first], ends[last], tag_id))
        return _outermost(spans)

    def _field_hits(
        self, raw: str, field: int = -1, offset: int = 0, scans: list[_Scan] | None = None
    ) -> Counter[int]:
        form, spaced, stripped = match_form_mapped(raw)
        if not form or self._main is None:
            return Counter()
        padded = f" {form} "
        found = list(self._main.iter(padded))
        hits = Counter(map(itemgetter(1), found))
        if scans is not None and found:
            scans.append((field, raw, offset, padded, found, True, spaced, stripped))
        if self._case is not None and not self._candidates.isdisjoint(hits):
            form, spaced, stripped = match_form_mapped(raw, fold_case=False)
            exact = f" {form} "
            found = list(self._case.iter(exact))
            hits.update(map(itemgetter(1), found))
            if scans is not None and found:
                scans.append((field, raw, offset, exact, found, False, spaced, stripped))
        return hits

    def _keyword_hits(self, keyword: str) -> Counter[int]:
        """Pattern ids found in one keyword, each once; CamelCase is tried split and whole."""
        pids: set[int] = set()
        for variant in {keyword, split_hashtag(keyword)}:
            pids.update(self._field_hits(variant))
            form = match_form(variant)
            if self._joined is not None and form:
                pids.update(map(itemgetter(1), self._joined.iter(f" {form} ")))
        return Counter(pids)

    def _tally_field(
        self, hits: Counter[int], field: int, tally: dict[int, list[int]], vetoes: dict[int, str]
    ) -> None:
        """Add one text field's hits; only patterns outside ``self._fast`` take ``_collect``."""
        fast = self._fast
        rest: Counter[int] | None = None
        for pid, n in hits.items():
            term_ids = fast.get(pid)
            if term_ids is None:
                if rest is None:
                    rest = Counter()
                rest[pid] = n
                continue
            for term_id in term_ids:
                row = tally.get(term_id)
                if row is None:
                    row = tally[term_id] = [0, 0, 0, 0, 0]
                row[field] += n
        if rest:
            self._collect(rest, field, tally, vetoes)

    def _collect(
        self,
        hits: Counter[int],
        field: int,
        tally: dict[int, list[int]],
        vetoes: dict[int, str],
    ) -> None:
        per_rule: dict[int, list[tuple[int, int, int]]] = {}
        for pid, n in hits.items():
            for rule_idx, term_idx, kind in self._entries[pid]:
                if kind == _EXCLUSION:
                    if field != KEYWORDS:
                        vetoes.setdefault(rule_idx, self._rules[rule_idx].exclusions[term_idx])
                elif kind == _ALIAS or (kind == _JOINED and field == KEYWORDS):
                    per_rule.setdefault(rule_idx, []).append((pid, term_idx, n))
        for rule_idx, found in per_rule.items():
            if len(found) == 1:
                per_term = {found[0][1]: found[0][2]}
            else:
                per_term = {}
                for term_idx, n in self._attribute_nested(found):
                    per_term[term_idx] = per_term.get(term_idx, 0) + n
            base = self._term_base[rule_idx]
            for term_idx, n in per_term.items():
                row = tally.get(base + term_idx)
                if row is None:
                    row = tally[base + term_idx] = [0, 0, 0, 0, 0]
                # A keyword is a label: it carries an alias or not, whatever its spellings.
                row[field] += min(n, 1) if field == KEYWORDS else n

    def _attribute_nested(self, found: list[tuple[int, int, int]]) -> Iterator[tuple[int, int]]:
        """Yield (term, count) with occurrences inside a longer alias given to that alias."""
        longest_first = sorted(found, key=lambda f: -len(self._patterns[f[0]]))
        kept: list[tuple[str, int]] = []
        for pid, term_idx, n in longest_first:
            pattern = self._patterns[pid]
            inside = sum(k * _occurrences(pattern, longer) for longer, k in kept)
            own = max(n - inside, 0)
            kept.append((pattern, own))
            yield term_idx, own

    def _results(
        self,
        tally: dict[int, list[int]],
        vetoes: dict[int, str],
        scans: list[_Scan],
        keyword_pids: list[Counter[int]],
        *,
        explain: bool,
    ) -> list[TagMatch]:
        rules, labels = self._rules, self._labels
        cap = OCCURRENCE_CAP
        # (sort key: -score, tag id; rule index, score, terms, in title, vetoed by, keywords only)
        kept: list[tuple[float, int, int, float, dict[str, int], bool, str | None, bool]] = []
        # Sorting term ids groups them by rule, in term order.
        for rule_idx, term_ids in groupby(sorted(tally), self._term_rule.__getitem__):
            rule = rules[rule_idx]
            body_counts = not rule.title_and_summary_only
            score = 0.0
            terms: dict[str, int] = {}
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
                    _W_TITLE * (title if title < cap else cap)
                    + _W_SUMMARY * (summary if summary < cap else cap)
                    + _W_TEXT * (text if text < cap else cap)
                    + _W_KEYWORDS * (keywords if keywords < cap else cap)
                )
                terms[labels[term_id]] = total
                if title:
                    in_title = True
                if title or summary or text:
                    in_words = True
            if not terms:
                continue
            vetoed_by = vetoes.get(rule_idx)
            if explain or (vetoed_by is None and score >= rule.min_score):
                kept.append(
                    (-score, rule.tag_id, rule_idx, score, terms, in_title, vetoed_by, not in_words)
                )
        if not kept:
            return []
        hits = self._hits({k[2] for k in kept}, scans, keyword_pids)
        # Best first: (-score, tag id) leads each tuple and tag ids are distinct, so the tuples
        # sort by it alone, without a key function per match.
        kept.sort()
        # Topics sharing an alias found in one place share its hits (one tuple): classify once.
        strong_of: dict[tuple[int, int], bool] = {}
        results = []
        new, s_tag, s_score, s_terms, s_title, s_veto, s_keywords, s_strong, s_hits = (
            _NEW,
            *_SET_MATCH,
        )
        for _, tag_id, rule_idx, score, terms, in_title, vetoed_by, keywords_only in kept:
            rule = rules[rule_idx]
            found = hits.get(rule_idx, ())
            if rule.title_and_summary_only:
                found = tuple(h for h in found if h.field not in ("lead", "body"))
            strong = True
            if rule.prominence:
                key = (id(found), rule.strong_body_mentions)
                strong = strong_of.get(key)
                if strong is None:
                    strong = strong_of[key] = is_strong(found, rule.strong_body_mentions)
            # Made like ``_new_hit`` (every field set, no ``__init__``), inline: once per match.
            match = new(TagMatch)
            s_tag(match, tag_id)
            s_score(match, score)
            s_terms(match, terms)
            s_title(match, in_title)
            s_veto(match, vetoed_by)
            s_keywords(match, keywords_only)
            s_strong(match, strong)
            s_hits(match, found)
            results.append(match)
        return results

    def _hits(
        self, wanted: set[int], scans: list[_Scan], keyword_pids: list[Counter[int]]
    ) -> dict[int, tuple[Hit, ...]]:
        """Each wanted rule's occurrences, located in the original text of their field.

        Work is done once per located occurrence, not once per topic sharing its pattern: the
        name test runs once per span (only its term's side depends on the topic) and equal hits
        are one shared, immutable ``Hit``. A topic whose hits in a field all come from one
        pattern shares them, as one tuple, with every topic finding that pattern's term there
        (and one found in a single field gets that very tuple, so ``_results`` can classify
        it once for all of them).
        """
        alias_terms, labels, nameable, kinds = (
            self._alias_terms,
            self._labels,
            self._nameable,
            self._term_kind,
        )
        n_kinds = len(labels) + 1
        parts: dict[int, list[tuple[Hit, ...]]] = {}  # rule -> its hits, a tuple per field
        for field, raw, offset, padded, found, folded, spaced, stripped in scans:
            name = FIELD_NAMES[field]
            # Each pattern's spans, with their place in text order.
            spans: dict[int, list[tuple[int, int, int]]] = {}
            located = self._locate(raw, padded, found, folded, spaced, stripped)
            for at, (start, end, pid) in enumerate(located):
                got = spans.get(pid)
                if got is None:
                    spans[pid] = [(at, start, end)]
                else:
                    got.append((at, start, end))
            per_rule: dict[int, list[tuple[int, int]]] = {}  # rule -> (pattern, term id)
            for pid in spans:
                for rule_idx, term_id in alias_terms[pid]:
                    if rule_idx in wanted:
                        got = per_rule.get(rule_idx)
                        if got is None:
                            per_rule[rule_idx] = [(pid, term_id)]
                        else:
                            got.append((pid, term_id))
            hit = _FieldHits(raw, name, offset, title=field == TITLE).hit
            by_pattern: dict[int, tuple[Hit, ...]] = {}
            for rule_idx, got in per_rule.items():
                if len(got) == 1:
                    pid, term_id = got[0]
                    key = pid * n_kinds + kinds[term_id]
                    same = by_pattern.get(key)
                    if same is None:
                        label, may_be_name = labels[term_id], nameable[term_id]
                        located = spans[pid]
                        if _increasing(located):
                            # Spans advancing: nothing to drop, already in text order.
                            same = tuple(hit(s, e, label, may_be_name) for _, s, e in located)
                        else:
                            kept = _outermost_terms([(s, e, term_id) for _, s, e in located])
                            same = tuple(hit(s, e, label, may_be_name) for s, e, _ in kept)
                        by_pattern[key] = same
                else:
                    ordered = sorted(
                        (at, s, e, term_id) for pid, term_id in got for at, s, e in spans[pid]
                    )
                    kept = _outermost_terms([(s, e, term_id) for _, s, e, term_id in ordered])
                    same = tuple(
                        hit(s, e, labels[term_id], nameable[term_id]) for s, e, term_id in kept
                    )
                got = parts.get(rule_idx)
                if got is None:
                    parts[rule_idx] = [same]
                else:
                    got.append(same)
        for index, pids in enumerate(keyword_pids):
            seen: set[tuple[int, int]] = set()
            for pid in pids:
                for rule_idx, term_idx, kind in self._entries[pid]:
                    key = (rule_idx, term_idx)
                    if kind in (_ALIAS, _JOINED) and rule_idx in wanted and key not in seen:
                        seen.add(key)
                        term = labels[self._term_base[rule_idx] + term_idx]
                        parts.setdefault(rule_idx, []).append(
                            (Hit("keywords", index, index + 1, term),)
                        )
        return {
            rule_idx: got[0] if len(got) == 1 else tuple(chain.from_iterable(got))
            for rule_idx, got in parts.items()
        }

    def _locate(
        self,
        raw: str,
        padded: str,
        found: list[tuple[int, int]],
        folded: bool,
        spaced: bytes | None,
        stripped: int,
    ) -> list[tuple[int, int, int]]:
        """(start, end, pid) in ``raw`` of the first MAX_HITS_PER_PATTERN hits of each pattern.

        Three ways, cheapest first. When each character of the text became one character of
        the form before spaces were collapsed (``match_form_mapped``), positions shift only
        by the collapsed runs. Else words of the form correspond to runs of word characters in
        the text (checked per hit). Where neither holds (a soft hyphen joining two words, an
        unspaced script) the text is mapped character by character: slow, but exact.
        """
        patterns = self._patterns
        seen: dict[int, int] = {}
        selected = []
        for end_idx, pid in found:
            n = seen[pid] = seen.get(pid, 0) + 1
            if n <= MAX_HITS_PER_PATTERN:
                selected.append((end_idx, pid))
        spans = None
        if spaced is not None:
            spans = _spans_by_offsets(spaced, stripped, padded, selected, patterns)
        if spans is None:
            spans = _spans_by_words(raw, padded, selected, patterns, folded)
        if spans is not None:
            return spans
        form, starts, ends = _mapped_form(raw, fold_case=folded)
        automaton = self._main if folded else self._case
        wanted = {pid for _, pid in selected}
        seen.clear()
        spans = []
        for end_idx, pid in automaton.iter(form):
            if pid in wanted:
                n = seen[pid] = seen.get(pid, 0) + 1
                if n <= MAX_HITS_PER_PATTERN:
                    first, last = self._core_span(pid, end_idx)
                    spans.append((starts[first], ends[last], pid))
        return spans

    def _core_span(self, pid: int, end_idx: int) -> tuple[int, int]:
        """Positions of the first and last non-padding character of a hit in the form."""
        pattern = self._patterns[pid]
        first = end_idx - len(pattern) + 1 + (pattern[0] == " ")
        last = end_idx - (pattern[-1] == " ")
        return first, last


# (field, raw text, offset of raw in its field, padded form, automaton hits, case folded,
#  uncollapsed form and its stripped lead for mapping positions back, see match_form_mapped)
_Scan = tuple[int, str, int, str, list[tuple[int, int]], bool, bytes | None, int]
# What the match form keeps as a word (letters, digits, "+", combining marks) and between.
_SEP = r"[^\w+\u0300-\u036f]*(?:_[^\w+\u0300-\u036f]*)*"
_WORD_RE = r"(?:[^\W_]|[+\u0300-\u036f])+"
_ONE_WORD = re.compile(rf"{_SEP}({_WORD_RE})")
_SKIP = [re.compile(rf"(?:{_SEP}{_WORD_RE}){{{1 << k}}}") for k in range(12)]
_SPACES = re.compile(b" *")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n|\n[ \t]+(?=\S)")
# A neighbouring word of the same name: only spaces (one line break, "&") between them.
_GAP = r"[ \t]*\n?[ \t]*(?:&[ \t]*\n?[ \t]*)?"
_NAME_BEFORE = re.compile(rf"([^\W\d_][\w']*)(?=[ \t\n&]){_GAP}\Z")
_WORD_CHARS = re.compile(r"[\w']*")
_NEXT_WORD = re.compile(rf",?{_GAP}([^\W\d_][\w'.]*)")
COMPANY_SUFFIXES = frozenset(
    {
        *("ltd", "ltd.", "limited", "inc", "inc.", "corp", "corp.", "corporation", "co", "co."),
        *("cos", "plc", "llc", "ag", "sa", "nv", "n.v.", "bv", "gmbh", "spa", "pty", "bhd"),
        *("fund", "group", "holdings", "mines", "resources", "industries", "petroleums"),
    }
)
_NAME_AFTER = re.compile(rf"(?=[ \t\n&]){_GAP}([^\W\d_]\w*)")


class _FieldHits:
    """Hits in one field's text, each made once: topics sharing an alias share its hits."""

    __slots__ = ("in_names", "made", "name", "offset", "raw", "title")

    def __init__(self, raw: str, name: str, offset: int, *, title: bool) -> None:
        self.raw, self.name, self.offset, self.title = raw, name, offset, title
        self.made: dict[tuple[int, int, str, bool], Hit] = {}
        self.in_names: dict[tuple[int, int], bool] = {}  # span -> inside a capitalised name

    def hit(self, start: int, end: int, term: str, may_be_name: bool) -> Hit:
        key = (start, end, term, may_be_name)
        found = self.made.get(key)
        if found is None:
            # Only a capitalised occurrence can be part of a name.
            in_name = False
            if may_be_name and self.raw[start].isupper():
                in_name = self.in_names.get((start, end))
                if in_name is None:
                    in_name = _inside_name(self.raw, start, end, title=self.title)
                    self.in_names[start, end] = in_name
            offset = self.offset
            found = self.made[key] = _new_hit(
                self.name, start + offset, end + offset, term, in_name
            )
        return found


class _WordIndex:
    """Character spans of the n-th word of a text, found by skipping words in C.

    Words are fetched in (mostly) increasing order: the index remembers where it stopped and
    skips ahead with precompiled "skip 2**k words" patterns; an earlier word it has not seen
    is found again from the start.
    """

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self.next_word = 0  # words before self.pos
        self.pos = 0
        self.seen: dict[int, tuple[int, int]] = {}

    def span(self, word: int) -> tuple[int, int] | None:
        found = self.seen.get(word)
        if found is not None:
            return found
        if word < self.next_word:
            self.next_word = self.pos = 0
        gap = word - self.next_word
        for power in range(len(_SKIP) - 1, -1, -1):
            step = 1 << power
            while gap >= step:
                skipped = _SKIP[power].match(self.raw, self.pos)
                if skipped is None:
                    return None
                self.pos, self.next_word, gap = skipped.end(), self.next_word + step, gap - step
        token = _ONE_WORD.match(self.raw, self.pos)
        if token is None:
            return None
        self.pos, self.next_word = token.end(), self.next_word + 1
        self.seen[word] = found = token.span(1)
        return found


class _Counted:
    """Occurrences of one character in ``text[:at]``, moved to any ``at`` by counting only
    the stretch in between (positions are asked for in roughly increasing order)."""

    __slots__ = ("at", "char", "n", "text")

    def __init__(self, text, char) -> None:
        self.text, self.char, self.at, self.n = text, char, 0, 0

    def __call__(self, at: int) -> int:
        if at >= self.at:
            self.n += self.text.count(self.char, self.at, at)
        else:
            self.n -= self.text.count(self.char, at, self.at)
        self.at = at
        return self.n


def _spans_by_offsets(
    spaced: bytes, stripped: int, padded: str, hits: list[tuple[int, int]], patterns: list[str]
) -> list[tuple[int, int, int]]:
    """Spans of ``hits`` in a text whose characters map one to one onto ``spaced``.

    ``spaced`` is the form before runs of spaces were collapsed. The non-space characters
    before a form position and before its text position are the same, so the text position
    ``r`` of form position ``f`` solves ``r = f + spaces(spaced[:r]) - spaces(form[:f])``:
    iterated from below, each step counting only the stretch it adds, it reaches the start of
    the spaces in front of the character; skipping those gives the character itself.
    """
    in_text, in_form = _Counted(spaced, b" "), _Counted(padded, " ")
    known = [0, 0]  # a form position already located and its text position

    def locate(f: int) -> int:
        # padded[f + 1] is form position f: one extra space in front.
        words = in_form(f + 1) - 1
        # Fewer characters are dropped before f than before any later position: start there.
        r = known[1] + f - known[0] if f >= known[0] else f
        while True:
            moved = f + in_text(r) - words
            if moved == r:
                break
            r = moved
        r = _SPACES.match(spaced, r).end()
        known[:] = f, r
        return r

    spans = []
    for end_idx, pid in hits:
        pattern = patterns[pid]
        # Positions in the form: the padded form has one extra space in front.
        first = end_idx - len(pattern) + (pattern[0] == " ")
        last = end_idx - 1 - (pattern[-1] == " ")
        start = locate(first)
        # Within one word nothing was collapsed: the hit is as long as its form.
        end = start + last - first if " " not in pattern.strip(" ") else locate(last)
        spans.append((start + stripped, end + stripped + 1, pid))
    return spans


def _spans_by_words(
    raw: str,
    padded: str,
    hits: list[tuple[int, int]],
    patterns: list[str],
    folded: bool,
) -> list[tuple[int, int, int]] | None:
    """Spans of ``hits`` in ``raw`` through word correspondence, or None where it fails."""
    words = _WordIndex(raw)
    cursor = spaces = 0  # spaces in padded[:cursor]
    spans = []
    for end_idx, pid in hits:
        pattern = patterns[pid]
        if pattern[0] != " ":
            return None
        first = end_idx - len(pattern) + 2
        last = end_idx - (pattern[-1] == " ")
        if first >= cursor:
            spaces += padded.count(" ", cursor, first)
        else:
            spaces -= padded.count(" ", first, cursor)
        w0 = spaces - 1
        spaces += padded.count(" ", first, last)
        cursor = last
        head = words.span(w0)
        tail = words.span(spaces - 1)
        if head is None or tail is None:
            return None
        start, end = head[0], tail[1]
        found = raw[start:end]
        form = padded[first : last + 1]
        if found.isascii() and found.isalnum():
            same = (found.lower() if folded else found) == form
        else:
            same = match_form(found, fold_case=folded) == form
        if not same:
            return None
        spans.append((start, end, pid))
    return spans


def lead_end(text: str) -> int:
    """Where the lead (the first paragraph) of ``text`` ends.

    A paragraph ends at a blank line or an indented new line; text with neither has one
    paragraph per line. The lead never runs past LEAD_MAX_CHARS (cut at a space).
    """
    start = len(text) - len(text.lstrip())
    found = _PARAGRAPH_BREAK.search(text, start)
    end = found.start() if found else text.find("\n", start)
    if end == -1:
        end = len(text)
    limit = start + LEAD_MAX_CHARS
    if end > limit:
        space = text.rfind(" ", start, limit)
        end = space if space > start else limit
    return end


def is_strong(hits: Iterable[Hit], strong_body_mentions: int) -> bool:
    """The prominence rule: one hit outside the body and outside a name, or enough body hits."""
    body = 0
    for hit in hits:
        if hit.in_name:
            continue
        if hit.field != "body":
            return True
        body += 1
    return body >= max(strong_body_mentions, 1)


def _company_follows(raw: str, end: int) -> bool:
    """Whether a company suffix follows within two capitalised words: "… Gold Mines Ltd"."""
    at = end
    for _ in range(3):
        word = _NEXT_WORD.match(raw, at)
        if word is None or not word.group(1)[0].isupper():
            return False
        if word.group(1).casefold() in COMPANY_SUFFIXES:
            return True
        at = word.end()
    return False


def _may_be_name(term: str, rule: Rule) -> bool:
    """Whether an occurrence of ``term`` can be part of a longer name (see ``_inside_name``).

    Not for aliases that are names themselves: case-sensitive ones and any an editor wrote with
    a capital past its first letter ("OPEC", "International Tin Council").
    """
    return term[1:] == term[1:].lower() and term not in rule.case_sensitive_aliases


def _inside_name(raw: str, start: int, end: int, *, title: bool = False) -> bool:
    """Whether raw[start:end] is part of a longer capitalised name: "Kiena Gold Mines Ltd".

    In any field a capitalised occurrence followed by a company suffix ("Glamis Gold Ltd",
    "PAGE PETROLEUM LTD") is a name. Outside titles, which capitalise every word, so is one
    next to another capitalised word ("Global Petroleum Corp", "Kiena Gold Mines").

    Only for terms ``_may_be_name`` allows. Shouting text ("GOLD MINES") says nothing, so an
    all-capitals occurrence is never a name.
    """
    found = raw[start:end]
    if not all(word[:1].isupper() for word in found.split()):
        return False
    if _company_follows(raw, end):
        return True
    if title or found.isupper():
        return False
    before = _name_before(raw, start)
    if before and before.group(1)[0].isupper():
        return True
    after = _NAME_AFTER.match(raw, end)
    return bool(after and after.group(1)[0].isupper())


def _name_before(raw: str, start: int) -> re.Match | None:
    """``_NAME_BEFORE.search(raw, max(0, start - 40), start)``, searched from the one place a
    match can begin: the run of word characters ending where the trailing gap begins.

    From every position of the 40 the regex runs through the rest of its word and backtracks
    (~15 µs a call); a match's word ends where the gap characters begin and lies in that run.
    """
    lo = max(0, start - 40)
    head = raw[lo:start].rstrip(" \t\n&")
    word = _WORD_CHARS.match(head[::-1]).end()
    return _NAME_BEFORE.search(raw, lo + len(head) - word, start)


def _increasing(spans: list[tuple[int, int, int]]) -> bool:
    """Whether (place, start, end) spans strictly advance at both ends: none lies in another."""
    for (_, start, end), (_, next_start, next_end) in pairwise(spans):
        if next_start <= start or next_end <= end:
            return False
    return True


def _outermost_terms(located: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Drop occurrences inside a longer occurrence (of the same rule), keep text order."""
    if len(located) == 1:
        return located
    ordered = sorted(set(located), key=lambda s: (s[0], -s[1]))
    kept: list[tuple[int, int, int]] = []
    reach = -1
    for start, end, term_idx in ordered:
        if end <= reach:
            continue
        reach = end
        kept.append((start, end, term_idx))
    return kept


def _pad(form: str) -> str:
    head = "" if _unspaced_script(form[0]) else " "
    tail = "" if _unspaced_script(form[-1]) else " "
    return f"{head}{form}{tail}"


def _unspaced_script(char: str) -> bool:
    """True for scripts written without spaces between words."""
    cp = ord(char)
    return (
        0x0E00 <= cp <= 0x0EFF  # Thai, Lao
        or 0x1000 <= cp <= 0x109F  # Myanmar
        or 0x1780 <= cp <= 0x17FF  # Khmer
        or 0x3040 <= cp <= 0x30FF  # Hiragana, Katakana
        or 0x3400 <= cp <= 0x4DBF
        or 0x4E00 <= cp <= 0x9FFF
        or 0xF900 <= cp <= 0xFAFF
        or 0x20000 <= cp <= 0x3134F
    )


def _words(term: str) -> list[str]:
    return normalize(term).replace("-", " ").split()


def _dedupe_terms(terms: Iterable[str]) -> tuple[str, ...]:
    seen: set[str] = set()
    kept: list[str] = []
    for term in terms:
        key = normalize(term)
        if key and key not in seen:
            seen.add(key)
            kept.append(term)
    return tuple(kept)


@lru_cache(maxsize=4096)
def _occurrences(short: str, long: str) -> int:
    """Occurrences of ``short`` in ``long``, overlapping ones included."""
    count, start = 0, long.find(short)
    while start != -1:
        count += 1
        start = long.find(short, start + 1)
    return count


def _mapped_form(text: str, *, fold_case: bool) -> tuple[str, list[int], list[int]]:
    """Padded match form of ``text`` plus, per form character, its span in ``text``."""
    chars, starts, ends = [" "], [0], [0]
    for seg_start, seg_end in _segments(text):
        nfkc = unicodedata.normalize("NFKC", text[seg_start:seg_end])
        for c in "".join(char_form(ch, fold_case=fold_case) for ch in nfkc):
            if c == " " and chars[-1] == " ":
                continue
            chars.append(c)
            starts.append(seg_start)
            ends.append(seg_end)
    chars.append(" ")
    starts.append(len(text))
    ends.append(len(text))
    return "".join(chars), starts, ends


def _segments(text: str) -> Iterator[tuple[int, int]]:
    """Spans that NFKC never merges across: a base character and the marks that follow it."""
    start = 0
    for i in range(1, len(text)):
        ch = text[i]
        # Hangul medial/final jamo compose with the preceding syllable like combining marks.
        if unicodedata.combining(ch) == 0 and not 0x1160 <= ord(ch) <= 0x11FF:
            yield start, i
            start = i
    if text:
        yield start, len(text)


def _outermost(spans: set[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    ordered = sorted(spans, key=lambda s: (s[0], -s[1], s[2]))
    kept: list[tuple[int, int, int]] = []
    reach: dict[int, int] = {}
    for start, end, tag_id in ordered:
        if reach.get(tag_id, -1) >= end:
            continue
        reach[tag_id] = end
        kept.append((start, end, tag_id))
    return kept
