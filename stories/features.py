"""Words of a headline or text as story-clustering terms: pure functions, no state.

Two outlets telling one event agree on who, where and how many, rarely on wording, and write
the same names in different ways: "Mt. Gox", "Mt.Gox" and "MtGox"; "U.S." and "US";
"Chiquita-Fyffes". Terms are made so that these meet:
- dotted and hyphenated compounds also give their parts ("chiquita-fyffes" is "chiquita" and
  "fyffes"), dotted acronyms lose their dots ("U.S." is "us"), decimals stay whole ("7.1");
- an acronym in capitals is kept even where its lower-case form is a stop word ("US", "IT");
- words are stemmed with the Snowball English stemmer, so "files", "filed" and "filing" meet.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

_RSQUO = "\u2019"  # a typographic apostrophe, as in "Japan\u2019s"
WORD = re.compile(r"\w(?:[\w'\u2019.\-&]*\w)?")
_ELLIPSIS = re.compile(r"\.{3}|\u2026")
_DECIMAL = re.compile(r"^\d+(?:[.,]\d+)+$")
_DOTTED_ACRONYM = re.compile(r"^(?:\w\.)+\w?$")
_SPLIT = re.compile(r"[.\-&]+")

_STEMMER = snowballstemmer.stemmer("english")


@dataclass(frozen=True)
class Token:
    word: str  # case-folded, as written: what stop words are checked against
    term: str  # stemmed
    name: bool  # a name, an acronym or a number: weighs more
    acronym: bool  # written in capitals: kept even if its lower case is a stop word


def tokens(raw: str) -> list[Token]:
    """The tokens of one field (a title, a summary, a text), in order."""
    text = _ELLIPSIS.sub(" ", unicodedata.normalize("NFKC", raw)).replace(_RSQUO, "'")
    words = WORD.findall(text)
    if not words:
        return []
    # In Title Case (and in capitals) every word is capitalised, so capitals say nothing there.
    title_case = sum(w[0].isupper() for w in words) > 0.6 * len(words)
    shouting = sum(w.isupper() for w in words if w.isalpha()) > 0.6 * len(words)
    out: list[Token] = []
    for i, word in enumerate(words):
        out.extend(_word_tokens(word, shouting, i > 0 and not title_case))
    return out


# Headlines and leads reuse a small vocabulary: each distinct word is analysed once per process
# (stripping, acronym test, parts, stemming were most of the clusterer's time on long texts).
@lru_cache(maxsize=1 << 18)
def _word_tokens(word: str, shouting: bool, mid_sentence: bool) -> tuple[Token, ...]:
    """The tokens of one word as ``WORD`` found it. ``mid_sentence``: not the first word of a
    field that is not in Title Case, so a capital there marks a name."""
    word = word.strip("'.-&")
    if word.endswith(("'s", "'S")):
        word = word[:-2]
    if not word:
        return ()
    acronym = not shouting and _is_acronym(word)
    capital = word[0].isupper() and (acronym or mid_sentence)
    out = []
    for part in _parts(word):
        number = any(c.isdigit() for c in part)
        if len(part) < 2 and not number:
            continue
        folded = part.casefold()
        out.append(Token(folded, stem(folded), number or capital, acronym))
    return tuple(out)


def _is_acronym(word: str) -> bool:
    letters = [c for c in word if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def _parts(word: str) -> list[str]:
    """A word's terms: decimals whole, "U.S." as "US", compounds as their parts."""
    if _DECIMAL.match(word):
        return [word.replace(",", "")]
    if _DOTTED_ACRONYM.match(word):
        return [word.replace(".", "")]
    parts = [p.strip("'") for p in _SPLIT.split(word)]
    return [p for p in parts if p]


# How much a term's rarity in the stream counts. Plain IDF (power 1) is wrong for stories: an
# event told by many outlets makes its own names common within the window ("Snowden" in 230 of
# 2,169 headlines), so the terms that define a big story weigh least, and its later headlines
# drift to smaller stories that share a rarer word. Damping keeps rare words above common ones
# without punishing a story for being big.
# The upper median of the cross-validated choices (bench/stories.py --cv) before joins asked
# more of small stories; since then the folds choose 0.5 or 0 about equally, and 0.25 between
# them was kept.
IDF_POWER = 0.25


@lru_cache(maxsize=8192)  # called for every term of every candidate: the cache halves its cost
def idf(docs: int, df: int) -> float:
    """Damped inverse document frequency of a term seen in ``df`` of ``docs`` items."""
    return (math.log((docs + 1) / (df + 1)) + 1.0) ** IDF_POWER


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Snowball (Porter 2) English stem of a lower-case word; numbers are left as they are."""
    if not word.isalpha():
        return word
    return _STEMMER.stemWord(word)
