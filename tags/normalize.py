"""Text normalisation shared by topic aliases, feed keywords and article text.

Two forms exist:

- ``normalize`` is the human-readable form stored beside aliases: NFKC, case-folded, every
  dash variant as "-", every apostrophe variant as "'", invisible characters dropped,
  whitespace collapsed.
- ``match_form`` is what the matcher scans: ``normalize`` plus every character that is not a
  letter, digit, combining mark or "+" turned into a single space, so word boundaries become
  plain spaces ("rare-earth", "rare - earth" with any dash and "rare earth" are one form,
  "China's" becomes "china s"). It is computed on bytes for the ASCII majority because
  articles can be megabytes.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\u2e3a\u2e3b\u058a\u1806"
APOSTROPHES = "\u2018\u2019\u201b\u02bc\u2032\u2035`"
# Invisible in print but splits words in a string: soft hyphen, zero-width space/joiners, word
# joiner, BOM, Mongolian vowel separator, Arabic tatweel (elongation inside a word), variation
# selectors (emoji presentation, which would otherwise glue a combining-mark-like char to a word).
INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff\u180e\u0640" + "".join(
    chr(cp) for cp in range(0xFE00, 0xFE10)
)

_NORM_TABLE: dict[int, str | None] = {
    **dict.fromkeys(map(ord, DASHES), "-"),
    **dict.fromkeys(map(ord, APOSTROPHES), "'"),
    **dict.fromkeys(map(ord, INVISIBLE), None),
}

# Last words that must not be inflected: already plural, uncountable, or "-s" singulars.
_NO_INFLECT = frozenset(
    {
        *("news", "series", "species", "means", "data", "media", "criteria", "people"),
        *("police", "always", "perhaps", "whereas", "thus", "its", "this", "his", "hers"),
        *("ours", "yours", "theirs", "was", "has", "does"),
    }
)
_IRREGULAR_PLURALS = {"child": "children", "person": "people", "man": "men", "woman": "women"}
_ACRONYM_MAX = 5


def normalize(text: str) -> str:
    """Return the canonical comparable form of ``text`` (see module docstring)."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_NORM_TABLE)
    return " ".join(folded.split())


def match_form(text: str, *, fold_case: bool = True) -> str:
    """Return ``text`` reduced to words separated by single spaces, as the matcher scans it.

    With ``fold_case=False`` letters keep their case, for case-sensitive aliases.
    """
    # The ASCII encoder runs in C and calls back only for each run of non-ASCII characters
    # (curly quotes, dashes, accented letters), which is far cheaper than a per-character pass.
    handler = _FOLD_ERRORS if fold_case else _KEEP_ERRORS
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():
        # Typographic punctuation is in almost every article: replacing it in C beforehand
        # spares the encoder a Python callback per curly quote or dash.
        for char in _COMMON_SEPARATORS:
            if char in text:
                text = text.replace(char, " ")
    raw = text.encode("ascii", errors=handler).translate(_ASCII_FOLD if fold_case else _ASCII_KEEP)
    if b"  " in raw:
        raw = _SPACE_RUNS.sub(b" ", raw)
    return raw.decode("utf-8").strip(" ")


def char_form(char: str, *, fold_case: bool = True) -> str:
    """Return the match form of one code point without collapsing spaces (may be '' or ' ')."""
    out = []
    for c in char.casefold() if fold_case else char:
        if c in INVISIBLE:
            continue
        if c in DASHES or c in APOSTROPHES:
            out.append(" ")
        elif c.isalnum() or c == "+" or unicodedata.category(c)[0] == "M":
            out.append(c)
        elif unicodedata.category(c) == "Cf":
            continue
        else:
            out.append(" ")
    return "".join(out)


def split_hashtag(tag: str) -> str:
    """Split a hashtag into normalized words: "#RareEarths" -> "rare earths".

    Splits on "_" and punctuation, lower-to-upper case changes, letter/digit changes
    ("#COVID19" -> "covid 19") and before the last capital of an acronym followed by a
    lowercase word ("#EUTariffs" -> "eu tariffs"). An all-lowercase tag stays one word.
    """
    body = unicodedata.normalize("NFKC", tag).strip().lstrip("#")
    parts: list[str] = []
    for chunk in re.split(r"[\W_]+", body):
        if chunk:
            parts.extend(_camel_parts(chunk))
    return normalize(" ".join(parts))


def phrase_variants(phrase: str, *, joined: bool = False) -> set[str]:
    """Return the normalized forms under which ``phrase`` should be found.

    The last word gets its singular and plural ("rare earth" <-> "rare earths",
    "policy" <-> "policies", "REE" -> "rees"; "-ing" words and known uncountables stay), and
    words may be joined by space or hyphen. ``joined=True`` adds the run-together form
    ("rareearths") that hashtags use. A phrase wrapped in double quotes is taken verbatim.
    """
    stripped = phrase.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] == '"':
        exact = normalize(stripped[1:-1])
        return {exact} if exact else set()
    words = _words(normalize(stripped))
    if not words:
        return set()
    original_last = _words(unicodedata.normalize("NFKC", stripped))[-1]
    variants: set[str] = set()
    for last in {words[-1], *_inflections(words[-1], original_last)}:
        variants.update(_joinings([*words[:-1], last], joined=joined))
    return variants


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[\s\-]+", text) if w]


def _joinings(words: list[str], *, joined: bool) -> set[str]:
    if len(words) == 1:
        return {words[0]}
    forms = {" ".join(words), "-".join(words)}
    if len(words) <= 4:
        # Every space/hyphen mix: "rare-earth magnets" is how the phrase is often written.
        for mask in range(1 << (len(words) - 1)):
            seps = ["-" if mask >> i & 1 else " " for i in range(len(words) - 1)]
            forms.add(words[0] + "".join(s + w for s, w in zip(seps, words[1:], strict=True)))
    if joined:
        forms.add("".join(words))
    return forms


def _inflections(word: str, original: str) -> set[str]:
    """Singular/plural partners of a normalized last word (``original`` keeps its case)."""
    if not (word.isascii() and word.isalpha()) or word in _NO_INFLECT:
        return set()
    if original.isupper() and 2 <= len(original) <= _ACRONYM_MAX:
        return {word + "s"}
    if original[:-1].isupper() and original.endswith("s") and len(original) <= _ACRONYM_MAX + 1:
        return {word[:-1]}
    if len(word) < 3:
        return set()
    for singular, plural in _IRREGULAR_PLURALS.items():
        if word == singular:
            return {plural}
        if word == plural:
            return {singular}
    return _plural_to_singular(word) or _singular_to_plural(word)


def _plural_to_singular(word: str) -> set[str]:
    if word.endswith(("ss", "us", "ics", "ous")):
        return set()
    if word.endswith("is"):
        return set()
    if word.endswith("ies") and len(word) > 4:
        return {word[:-3] + "y"}
    if word.endswith(("sses", "shes", "ches", "xes", "zes")):
        # "taxes" -> "tax", but "niches" -> "niche": offer both, the wrong one never occurs.
        return {word[:-2], word[:-1]}
    if word.endswith("s") and not word.endswith(("as", "is")):
        return {word[:-1]}
    return set()


def _singular_to_plural(word: str) -> set[str]:
    if word.endswith("ing"):
        return set()
    if word.endswith("is"):
        return {word[:-2] + "es"}
    if word.endswith("y") and word[-2] not in "aeiou":
        return {word[:-1] + "ies"}
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return {word + "es"}
    return {word + "s"}


def _camel_parts(chunk: str) -> list[str]:
    parts: list[str] = []
    start = 0
    for i in range(1, len(chunk)):
        prev, cur = chunk[i - 1], chunk[i]
        nxt = chunk[i + 1] if i + 1 < len(chunk) else ""
        if (
            prev.isdigit() != cur.isdigit()
            or (prev.islower() and cur.isupper())
            or (prev.isupper() and cur.isupper() and nxt.islower())
        ):
            parts.append(chunk[start:i])
            start = i
    parts.append(chunk[start:])
    return parts


def _ascii_table(*, fold_case: bool) -> bytes:
    table = bytearray(range(256))
    for i in range(128):
        c = chr(i)
        table[i] = ord(c.lower() if fold_case else c) if c.isalnum() or c == "+" else 0x20
    return bytes(table)


_ASCII_FOLD = _ascii_table(fold_case=True)
_ASCII_KEEP = _ascii_table(fold_case=False)
_SPACE_RUNS = re.compile(b"  +")
# Frequent NFKC-stable characters whose match form is one space in both case modes.
_COMMON_SEPARATORS = "\u2019\u201c\u201d\u2018\u2014\u2013\u00ab\u00bb\u201e"


class _FormTable(dict[int, str]):
    """``str.translate`` table filled on first sight of each code point."""

    def __init__(self, *, fold_case: bool) -> None:
        super().__init__()
        self.fold_case = fold_case

    def __missing__(self, cp: int) -> str:
        form = self[cp] = char_form(chr(cp), fold_case=self.fold_case)
        return form


_FORM_TABLES = {True: _FormTable(fold_case=True), False: _FormTable(fold_case=False)}


def _run_form(run: str, fold_case: bool) -> bytes:
    return run.translate(_FORM_TABLES[fold_case]).encode("utf-8")


def _fold_run(error: UnicodeError) -> tuple[bytes, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return _run_form(error.object[error.start : error.end], True), error.end


def _keep_run(error: UnicodeError) -> tuple[bytes, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return _run_form(error.object[error.start : error.end], False), error.end


_FOLD_ERRORS = "newsdesk.match_form.fold"
_KEEP_ERRORS = "newsdesk.match_form.keep"
codecs.register_error(_FOLD_ERRORS, _fold_run)
codecs.register_error(_KEEP_ERRORS, _keep_run)


def match_form_mapped(text: str, *, fold_case: bool = True) -> tuple[str, bytes | None, int]:
    """``match_form(text)`` plus what maps its positions back to ``text``, when that is cheap.

    Returns ``(form, spaced, stripped)``. When every character of ``text`` becomes exactly one
    character before spaces are collapsed (ASCII text with typographic punctuation, the
    common case), ``spaced`` is that uncollapsed form without its ``stripped`` leading spaces:
    a form position maps back by counting the spaces dropped before it. Otherwise ``spaced``
    is None and the caller maps another way.
    """
    nfkc = unicodedata.normalize("NFKC", text)
    if not nfkc.isascii():
        for char in _COMMON_SEPARATORS:
            if char in nfkc:
                nfkc = nfkc.replace(char, " ")
    handler = _FOLD_ERRORS if fold_case else _KEEP_ERRORS
    raw = nfkc.encode("ascii", errors=handler).translate(_ASCII_FOLD if fold_case else _ASCII_KEEP)
    one_to_one = len(raw) == len(nfkc) == len(text)
    spaced = raw.lstrip(b" ")
    stripped = len(raw) - len(spaced)
    form = _SPACE_RUNS.sub(b" ", spaced) if b"  " in spaced else spaced
    return form.rstrip(b" ").decode("utf-8"), spaced if one_to_one else None, stripped
