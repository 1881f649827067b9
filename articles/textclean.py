"""Text that the database and readers can take: the cleaning done at the parsing boundary.

Feeds and pages are hostile input. PostgreSQL refuses NUL in text; ESC and the other C0/C1
controls garble terminals and logs; U+FFFE, U+FFFF and the other noncharacters are not text at
all; lone surrogates cannot be encoded; and bidirectional overrides (U+202E …) let a title
re-order the text around it on a page. Every string that came from a feed or a page goes
through `clean_text` before it is stored.

Invalid UTF-8 is repaired, not re-guessed: a document that is UTF-8 (declared so, or visibly
so) keeps its text and only the broken sequences become U+FFFD, instead of the whole document
being read as windows-1252 ("ZÃ¼rich").

Pure functions; no Django imports.
"""

from __future__ import annotations

import codecs
import dataclasses
import re
from typing import Any, TypeVar

# C0 controls but tab, newline and carriage return; DEL and the C1 block; lone surrogates;
# noncharacters (U+FDD0 to U+FDEF and the last two code points of every plane); bidi embeddings,
# overrides and isolates, which a title could use to disguise what surrounds it.
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}" for plane in range(17)
)
_UNWANTED = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff"
    + _NONCHARACTERS
    + "\u202a-\u202e\u2066-\u2069]"
)
_UTF8_NAMES = frozenset({"utf-8", "utf8", "utf_8", "unicode-1-1-utf-8", "x-unicode20utf8"})
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:-]+)""")
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)

T = TypeVar("T")


def has_unwanted(text: str) -> bool:
    return _UNWANTED.search(text) is not None


def clean_text(text: str) -> str:
    """`text` without the characters above: NUL and other controls, noncharacters, bidi controls.

    A form feed or vertical tab becomes a space so words either side stay apart; the rest go.
    """
    if not _UNWANTED.search(text):
        return text
    return _UNWANTED.sub(_replacement, text)


def _replacement(match: re.Match[str]) -> str:
    char = match.group()
    return " " if char in "\x0b\x0c\x85" else ""


def clean_value(value: T) -> T:
    """`clean_text` applied to a string, or to every string in a tuple, list or dict value."""
    if isinstance(value, str):
        return clean_text(value)  # type: ignore[return-value]
    if isinstance(value, tuple):
        return tuple(clean_value(item) for item in value)  # type: ignore[return-value]
    if isinstance(value, list):
        return [clean_value(item) for item in value]  # type: ignore[return-value]
    if isinstance(value, dict):
        return {clean_value(k): clean_value(v) for k, v in value.items()}  # type: ignore[return-value]
    return value


def clean_fields(record: T) -> T:
    """A copy of a dataclass instance with `clean_value` applied to every field."""
    changes: dict[str, Any] = {}
    for field in dataclasses.fields(record):  # type: ignore[arg-type]
        value = getattr(record, field.name)
        cleaned = clean_value(value)
        if cleaned != value:
            changes[field.name] = cleaned
    return dataclasses.replace(record, **changes) if changes else record  # type: ignore[type-var]


def is_utf8_label(label: str | None) -> bool:
    if not label:
        return False
    name = label.strip().strip("\"'").lower()
    if name in _UTF8_NAMES:
        return True
    try:
        return codecs.lookup(name).name == "utf-8"
    except LookupError:
        return False


def declared_charset(body: bytes) -> str | None:
    """The encoding the document names for itself: XML declaration, else a `<meta>` charset."""
    head = body[:4096]
    match = _XML_ENCODING.match(head.removeprefix(b"\xef\xbb\xbf")) or _META_CHARSET.search(head)
    return match.group(1).decode("ascii") if match else None


def repair_utf8(body: bytes, http_charset: str | None = None) -> tuple[bytes, int]:
    """(body, number of invalid sequences replaced) for a UTF-8 document with broken bytes.

    A document counts as UTF-8 when it is declared so (HTTP charset first, else its own XML
    declaration or `<meta>`), or when nothing is declared and its valid multi-byte sequences
    outnumber the broken ones. Anything else is returned unchanged for the decoder to handle.
    """
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return body, 0
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return body, 0  # UTF-16 (or 32) by its BOM
    label = http_charset or declared_charset(body)
    if label and not is_utf8_label(label):
        return body, 0
    text = body.decode("utf-8", errors="replace")
    broken = text.count("\ufffd") - body.count("\xef\xbf\xbd".encode("latin-1"))
    if not label and _valid_multibyte(text) < broken:
        return body, 0  # more broken than valid: probably a legacy single-byte encoding
    return text.encode("utf-8"), broken


def _valid_multibyte(text: str) -> int:
    return sum(1 for char in text if ord(char) > 0x7F and char != "\ufffd")


def clip(value: str, limit: int) -> str:
    """`value` cut to `limit` characters, on a character boundary (never a half surrogate)."""
    return value if len(value) <= limit else value[:limit].rstrip()
