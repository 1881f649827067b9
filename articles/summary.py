"""Short summaries for listings: the best of what editors, feeds and pages offer."""

from __future__ import annotations

import html
import re

import nh3

MAX_SUMMARY_CHARS = 320
MAX_SENTENCES = 3
# Shorter than this, a feed or meta description is a teaser, not a summary.
MIN_SUMMARY_CHARS = 60
MIN_SUMMARY_WORDS = 8
# A lead paragraph shorter than this is a byline, caption or heading rather than prose.
MIN_LEAD_WORDS = 8

_SPACE = re.compile(r"\s+")
_ELLIPSIS_END = re.compile(r"(?:\.\.\.|…|\[\s*(?:…|\.\.\.)\s*\]|\[\.\.\.\])\s*$")
# Trailers feeds append to the real text; removed before judging what is left.
_TRAILERS = (
    re.compile(r"\s*The post .{1,300}? appeared first on .{1,200}?\.?\s*$", re.IGNORECASE),
    re.compile(
        r"\s*(?:\[\s*)?(?:continue reading|read more|read the full (?:story|article)|"
        r"full story|keep reading)\b[^.!?]{0,80}?(?:\.\.\.|…|→|»|\u203a|\])?\s*$",
        re.IGNORECASE,
    ),
)
_MONTH = (
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+\d{1,2}(?:,\s*\d{4})?"
)
_AGENCY = r"\([A-Z][\w .&/-]{1,30}\)"
_CITY = (
    r"[A-Z][A-Z.'\u2019-]+(?:\s+[A-Z][A-Z.'\u2019-]+){0,3}"  # TOKYO, NEW YORK
    r"(?:,\s+[A-Z][A-Za-z.]+(?:\s+[A-Z][A-Za-z.]+)?)?"  # , Calif.
)
# "TOKYO, Dec 23 (Reuters) -", "WASHINGTON (AP) —", "LONDON, March 3 -", "(Reuters) -".
_DATELINE = re.compile(
    rf"^\s*(?:{_CITY}(?:,\s*{_MONTH})?\s*(?:{_AGENCY})?|{_AGENCY})\s*[-\u2013—]{{1,2}}\s+(?=\S)"
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Never a sentence end, whatever follows.
_TITLES = _words(
    "mr mrs ms dr prof sen rep gov gen lt col capt sgt st mt ft hon rev messrs mme mlle "
    "vs etc e.g i.e cf approx dept est"
)
# Not a sentence end when a number follows ("No. 5", "Dec. 23", "Fig. 2").
_BEFORE_NUMBER = _words(
    "no nos nr fig figs vol p pp art sec ch jan feb mar apr jun jul aug sep sept oct nov dec"
)
_BOUNDARY = re.compile(r"[.!?…]+[\"'”\u2019)\]]*\s+|[。\uff01\uff1f]+[」』”\u2019)\uff09]*\s*")
_TOKEN_BEFORE = re.compile(r"(\S+)$")
_INITIALISM = re.compile(r"^(?:[A-Za-z]\.)+[A-Za-z]?\.?$")
_OPENERS = "\"'“\u2018([«"


def clean_feed_summary(html_or_text: str) -> str:
    """Plain text of a feed's summary: tags stripped, entities decoded, whitespace collapsed."""
    if not html_or_text:
        return ""
    if "<" in html_or_text:
        # nh3 drops script/style contents too, which a plain tag regex would leave behind.
        html_or_text = nh3.clean(html_or_text, tags=set(), attributes={})
    return _SPACE.sub(" ", html.unescape(html.unescape(html_or_text))).strip()


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences, keeping abbreviations, initials and decimals intact."""
    text = _SPACE.sub(" ", text or "").strip()
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        if end >= len(text) or not _is_boundary(text, match):
            continue
        sentences.append(text[start:end].strip())
        start = end
    if text[start:].strip():
        sentences.append(text[start:].strip())
    return sentences


def _is_boundary(text: str, match: re.Match[str]) -> bool:
    if match.group(0)[0] in "。\uff01\uff1f":
        return True
    following = text[match.end() :]
    first = following[0]
    if first.isalpha() and first.islower():
        return False
    if match.group(0)[0] != ".":
        return True
    token_match = _TOKEN_BEFORE.search(text[: match.start()])
    token = (token_match.group(1) if token_match else "").lstrip(_OPENERS)
    word = token.lower().rstrip(".")
    if word in _TITLES:
        return False
    if first.isdigit() and word in _BEFORE_NUMBER:
        return False
    # Single initials ("J. Smith") and initialisms ("U.S.", "U.K.") rarely end a sentence.
    if len(token) == 1 and token.isupper():
        return False
    return not _INITIALISM.match(token + ".")


def strip_dateline(text: str) -> str:
    """Drop a wire-service dateline ("LONDON, March 3 (Reuters) -") from the start of ``text``."""
    return _DATELINE.sub("", text, count=1)


def make_summary(
    *,
    editor: str = "",
    feed: str = "",
    description: str = "",
    text: str = "",
    title: str = "",
) -> tuple[str, str]:
    """Return ``(summary, source)``: the editor's, the feed's, the meta description, or the lead."""
    editor = _SPACE.sub(" ", editor).strip()
    if editor:
        return editor, "editor"
    for candidate, source in ((feed, "feed"), (description, "meta")):
        cleaned = _real_summary(clean_feed_summary(candidate), text, title)
        if cleaned:
            return _fit(cleaned), source
    lead = _lead(text)
    if lead:
        return _fit(lead), "lead"
    return "", ""


def _real_summary(candidate: str, text: str, title: str) -> str:
    for trailer in _TRAILERS:
        candidate = trailer.sub("", candidate)
    candidate = strip_dateline(candidate.strip())
    if len(candidate) < MIN_SUMMARY_CHARS or len(candidate.split()) < MIN_SUMMARY_WORDS:
        return ""
    if _ELLIPSIS_END.search(candidate):
        return ""
    folded = _fold(candidate)
    if title and folded == _fold(title):
        return ""
    body = _fold(text[: len(candidate) * 2 + 100])
    # A copy of the text's opening that stops mid-sentence is a truncation, not a summary.
    if body.startswith(folded) and candidate[-1] not in ".!?\"'”\u2019)。\uff01\uff1f":
        return ""
    return candidate


def _lead(text: str) -> str:
    paragraphs = [p.strip() for p in (text or "").split("\n") if p.strip()]
    for index, paragraph in enumerate(paragraphs):
        if (
            len(paragraph.split()) >= MIN_LEAD_WORDS
            and paragraph[-1] in ".!?\"'”\u2019)。\uff01\uff1f"
        ):
            return strip_dateline(" ".join(paragraphs[index : index + 3]))
    return strip_dateline(" ".join(paragraphs[:3]))


def _fit(text: str) -> str:
    sentences = split_sentences(strip_dateline(text))
    if not sentences:
        return ""
    chosen: list[str] = []
    length = 0
    for sentence in sentences[:MAX_SENTENCES]:
        added = len(sentence) + (1 if chosen else 0)
        if chosen and length + added > MAX_SUMMARY_CHARS:
            break
        chosen.append(sentence)
        length += added
    summary = _join(chosen)
    if len(summary) <= MAX_SUMMARY_CHARS:
        return summary
    # One sentence longer than the limit: cut at a word boundary and say so.
    cut = summary[: MAX_SUMMARY_CHARS - 1].rsplit(" ", 1)[0].rstrip(",;:\u2013—- ")
    return f"{cut}…"


def _join(sentences: list[str]) -> str:
    # Chinese and Japanese put no space between sentences.
    joined = sentences[0] if sentences else ""
    for sentence in sentences[1:]:
        joined += ("" if joined[-1] in "。\uff01\uff1f」』\uff09" else " ") + sentence
    return joined


def _fold(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()
