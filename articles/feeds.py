"""Feed parsing (RSS, Atom, JSON Feed), feed autodiscovery and a cheap feed sniff.

Pure functions over the bytes a fetch returned; nothing here touches the network.

feedparser runs with ``sanitize_html=False``: nh3 (``articles.sanitize``) is the one sanitiser,
so the allow-list the tests pin is the one that counts. It keeps ``resolve_relative_uris=True``
because only feedparser knows the ``xml:base`` in scope for each piece of embedded HTML.
No Content-Location is handed to feedparser, so links with no ``xml:base`` stay relative there;
we resolve them against the feed's own ``<link>`` (as most readers do: feeds are often served
from another host than the site), else against the feed URL. Relative links inside a
summary resolve against the entry's own link, since summaries are usually cut from that page.
JSON Feed 1.0/1.1 is read with the stdlib json module (versions "json1", "json11").
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import re
import xml.sax
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser
import lxml.html
from feedparser.exceptions import (
    CharacterEncodingOverride,
    CharacterEncodingUnknown,
    NonXMLContentType,
)
from lxml import etree

from articles.sanitize import collapse_whitespace, html_to_text, sanitize_html
from articles.textclean import clean_text, repair_utf8

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024
MAX_TITLE_CHARS = 500
MAX_SUMMARY_HTML_CHARS = 20_000
MAX_AUTHOR_CHARS = 200
MAX_CATEGORY_CHARS = 100
MAX_CATEGORIES = 50
MAX_GUID_CHARS = 500
# Article.url and Feed.url hold 2,000 characters; a longer link is refused here, with a reason.
MAX_URL_CHARS = 2000
# The most entries read from one document: a feed of 100,000 items costs memory and time for
# entries nobody will fetch (ingestion takes at most NEWSDESK_MAX_NEW_ENTRIES_PER_POLL anyway).
MAX_ENTRIES = 10_000
EARLIEST_DATE = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_TOLERANCE = timedelta(days=2)

_GZIP_MAGIC = b"\x1f\x8b"
_INFLATE_CHUNK = 256 * 1024
_JSON_FEED_VERSION = re.compile(r"^https?://jsonfeed\.org/version/(\d+)(?:\.(\d+))?/?$")


class FeedParseError(Exception):
    """The document cannot be read as a feed; `reason` says why, in one sentence."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class FeedEntry:
    guid: str
    link: str
    title: str
    summary: str
    summary_html: str
    author: str
    published: datetime | None
    categories: tuple[str, ...]


@dataclass(frozen=True)
class RejectedEntry:
    """An entry that cannot be stored, and why (recorded with the poll, never silently lost)."""

    guid: str
    title: str
    link: str  # as the feed gave it, clipped for display
    reason: str


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    site_url: str
    version: str
    entries: tuple[FeedEntry, ...]
    warning: str
    rejected: tuple[RejectedEntry, ...] = ()


@dataclass(frozen=True)
class _RawEntry:
    """An entry's fields as the format gave them, before cleaning."""

    guid: str
    link: str
    title: str
    title_is_html: bool
    body: str
    body_is_html: bool
    author: str
    published: datetime | None
    categories: tuple[str, ...]


# --- parsing ------------------------------------------------------------------------------------


def parse_feed(
    body: bytes,
    *,
    url: str,
    content_type: str | None = None,
    charset: str | None = None,
    now: datetime | None = None,
) -> ParsedFeed:
    """Parse a fetched feed document; raise FeedParseError when it is not a usable feed."""
    if len(body) > MAX_DOCUMENT_BYTES:
        raise FeedParseError(f"document too large: over {MAX_DOCUMENT_BYTES // 2**20} MB")
    warnings = []
    if body.startswith(_GZIP_MAGIC):
        body = _gunzip(body, limit=MAX_DOCUMENT_BYTES)
        warnings.append("compressed data served without Content-Encoding (decompressed)")
    if not body.strip():
        raise FeedParseError("empty document")
    body, repaired = repair_utf8(body, charset)
    if repaired:
        warnings.append(f"{repaired} invalid UTF-8 sequences replaced with U+FFFD")
    now = now or datetime.now(UTC)
    if _looks_like_json(body):
        title, site, version, raw_entries = _read_json_feed(body)
    else:
        body, doctype_warning = strip_internal_dtd(body)
        warnings.append(doctype_warning)
        _refuse_too_many_tags(body)
        body, clipped = clip_long_texts(body)
        if clipped:
            warnings.append(f"{clipped} over-long text runs clipped to {MAX_TEXT_RUN // 1024} KB")
        title, site, version, raw_entries, warning = _read_xml_feed(body, content_type, charset)
        warnings.append(warning)
    if len(raw_entries) > MAX_ENTRIES:
        warnings.append(f"read the first {MAX_ENTRIES} of {len(raw_entries)} entries")
        raw_entries = raw_entries[:MAX_ENTRIES]
    site_url = safe_http_url(clean_text(site), url)
    base = site_url or url
    finished = [_finish_entry(raw, base, now) for raw in raw_entries]
    rejected = tuple(item for item in finished if isinstance(item, RejectedEntry))
    entries = _unique_by_guid(item for item in finished if isinstance(item, FeedEntry))
    if rejected:
        warnings.append(describe_rejected(rejected))
    return ParsedFeed(
        title=_clean_title(title, is_html=False),
        site_url=site_url,
        version=version,
        entries=tuple(entries),
        warning="; ".join(w for w in warnings if w),
        rejected=rejected,
    )


def describe_rejected(rejected: Iterable[RejectedEntry], shown: int = 3) -> str:
    """One line for an operator: how many entries were not taken, and the first few reasons."""
    items = list(rejected)
    reasons = "; ".join(
        f"{(item.title or item.guid or '(untitled)')[:80]}: {item.reason}" for item in items[:shown]
    )
    more = f"; and {len(items) - shown} more" if len(items) > shown else ""
    return f"{len(items)} entries not taken ({reasons}{more})"


# --- the document type declaration --------------------------------------------------------------

# A DTD's internal subset may declare entities, and feedparser's fallback parser expands the
# ones it deems safe in full: one 50 KB entity referenced 50,000 times is 2.5 GB of text. The
# internal subset is removed before any parser sees the document, so an entity reference stays
# the literal text it was ("&name;") and a parse costs memory in proportion to the bytes read.
_PROLOG_TOKEN = re.compile(rb"\s+|<\?.*?\?>|<!--.*?-->|<!doctype", re.IGNORECASE | re.DOTALL)
_DOCTYPE_TOKEN = re.compile(rb'"[^"]*"|\'[^\']*\'|<!--.*?-->|<\?.*?\?>|[\[\]>]', re.DOTALL)
_UTF16_HEAD = re.compile(rb"^(?:\xff\xfe|\xfe\xff|\x00<|<\x00)")


def strip_internal_dtd(body: bytes) -> tuple[bytes, str]:
    """(body without any DOCTYPE internal subset, warning) or FeedParseError if it cannot be.

    The DOCTYPE's name and external identifier stay (feedparser reads "netscape" from them);
    external DTDs are never loaded.
    """
    entities, subsets, position = 0, 0, 0
    while (start := _doctype_start(body, position)) is not None:
        body, position, declared = _strip_one_doctype(body, start)
        if declared is not None:
            entities, subsets = entities + declared, subsets + 1
    if not subsets:
        if _UTF16_HEAD.match(body) and b"<!ENTITY" in body.replace(b"\x00", b"").upper():
            raise FeedParseError("refused: the document declares XML entities (a DTD)")
        return body, ""
    what = f"{entities} entity declarations" if entities else "a DTD internal subset"
    return body, f"{what} ignored (entities left unexpanded)"


# feedparser parses each embedded HTML value again in pure Python (to resolve relative links), at
# about 35 bytes of memory per byte: one 10 MB description costs 350 MB. Nothing past the first
# MAX_SUMMARY_HTML_CHARS of a value is kept, so any text run or CDATA section longer than this
# is cut before parsing; that bounds a parse whatever one field holds.
MAX_TEXT_RUN = 256 * 1024
_LONG_CDATA = re.compile(rb"<!\[CDATA\[(.{%d,}?)\]\]>" % MAX_TEXT_RUN, re.DOTALL)
_LONG_TEXT = re.compile(rb"[^<]{%d,}" % MAX_TEXT_RUN)


# The same pure-Python parsing costs about 200 bytes and 90 µs per tag: a document of a
# million tiny tags would take 200 MB and minutes. Real feeds, even 10 MB podcast feeds, stay
# far below this.
MAX_TAGS = 400_000


def _refuse_too_many_tags(body: bytes) -> None:
    tags = body.count(b"<")
    if tags > MAX_TAGS:
        raise FeedParseError(f"refused: the document has {tags} tags, over the {MAX_TAGS} limit")


def clip_long_texts(body: bytes) -> tuple[bytes, int]:
    """(body with each text run and CDATA section cut to MAX_TEXT_RUN bytes, how many were)."""
    if len(body) <= MAX_TEXT_RUN:
        return body, 0
    count = 0

    def cut_cdata(match: re.Match[bytes]) -> bytes:
        nonlocal count
        count += 1
        return b"<![CDATA[" + _cut(match.group(1)) + b"]]>"

    def cut_text(match: re.Match[bytes]) -> bytes:
        nonlocal count
        count += 1
        return _cut(match.group()).rsplit(b"&", 1)[0]  # never leave half an entity

    body = _LONG_CDATA.sub(cut_cdata, body)
    return _LONG_TEXT.sub(cut_text, body), count


def _cut(text: bytes) -> bytes:
    # Back up to a UTF-8 character boundary (a continuation byte is 0b10xxxxxx).
    end = MAX_TEXT_RUN
    while end and text[end] & 0xC0 == 0x80:
        end -= 1
    return text[:end]


def _strip_one_doctype(body: bytes, start: int) -> tuple[bytes, int, int | None]:
    """(body, where the DOCTYPE now ends, entities declared or None without a subset)."""
    subset_start = None
    depth = 0
    for token in _DOCTYPE_TOKEN.finditer(body, start + len(b"<!doctype")):
        text = token.group()
        if text == b"[":
            subset_start = token.start() if depth == 0 else subset_start
            depth += 1
        elif text == b"]":
            depth -= 1
        elif text == b">" and depth <= 0:
            if subset_start is None:
                return body, token.end(), None
            subset = body[subset_start : token.start()]
            head = body[:subset_start].rstrip() + b">"
            return head + body[token.end() :], len(head), subset.upper().count(b"<!ENTITY")
    raise FeedParseError("not well-formed XML: the DOCTYPE declaration never ends")


def _doctype_start(body: bytes, position: int = 0) -> int | None:
    if position == 0 and body.startswith(b"\xef\xbb\xbf"):
        position = 3
    while match := _PROLOG_TOKEN.match(body, position):
        if match.group().lower() == b"<!doctype":
            return match.start()
        position = match.end()
    return None


def _gunzip(body: bytes, *, limit: int) -> bytes:
    # Read in bounded steps: a few KB of gzip can inflate to gigabytes.
    inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    out = bytearray()
    pending = body
    try:
        while not inflater.eof:
            chunk = inflater.decompress(pending, _INFLATE_CHUNK)
            out += chunk
            if len(out) > limit:
                raise FeedParseError(
                    "compressed data served without Content-Encoding inflates beyond "
                    f"{limit // 2**20} MB"
                )
            pending = inflater.unconsumed_tail
            if not chunk and not pending:
                break
    except zlib.error as exc:
        raise FeedParseError(
            f"compressed data served without Content-Encoding is corrupt: {exc}"
        ) from exc
    if not inflater.eof:
        raise FeedParseError("compressed data served without Content-Encoding is truncated")
    return bytes(out)


def _read_xml_feed(
    body: bytes, content_type: str | None, charset: str | None
) -> tuple[str, str, str, list[_RawEntry], str]:
    result = _run_feedparser(body, content_type, charset)
    version = str(result.get("version") or "")
    entries = result.get("entries") or []
    problem = result.get("bozo_exception") if result.get("bozo") else None
    if not entries or not version:
        _reject_if_unusable(body, version, problem, has_entries=bool(entries))
    feed = result.get("feed") or {}
    raw_entries = [_raw_from_feedparser(entry) for entry in entries if isinstance(entry, dict)]
    title = _text_of(feed, "title")
    return title, _str(feed.get("link")), version, raw_entries, _describe_problem(problem)


def _run_feedparser(body: bytes, content_type: str | None, charset: str | None) -> Mapping:
    headers = {}
    if content_type or charset:
        declared = content_type or "application/xml"
        if charset and "charset=" not in declared.lower():
            declared = f"{declared}; charset={charset}"
        headers["content-type"] = declared
    # The one broad catch: whatever feedparser raises on hostile input means "unreadable".
    try:
        # A BytesIO, never a str: feedparser reads a str as a URL or a path and fetches it.
        return feedparser.parse(
            io.BytesIO(body),
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=True,
        )
    except Exception as exc:
        raise FeedParseError(f"feed parser failed: {type(exc).__name__}: {exc}") from exc


def _reject_if_unusable(body: bytes, version: str, problem: object, *, has_entries: bool) -> None:
    """A broken document without entries, or one with no feed root at all, is not kept.

    Entries without a version come from items in arbitrary XML (feedparser recognises <item>
    anywhere), so they do not make a document a feed.
    """
    root = first_element_name(body)
    if isinstance(problem, CharacterEncodingUnknown):
        raise FeedParseError(f"undecodable: {problem}")
    if root == "html":
        raise FeedParseError("not a feed: the document is an HTML page")
    if isinstance(problem, xml.sax.SAXParseException) and not has_entries:
        if _is_blank_markup(body):
            raise FeedParseError("empty document: no XML element")
        raise FeedParseError(
            f"not well-formed XML at line {problem.getLineNumber()}: {problem.getMessage()}"
        )
    if version:
        return
    if root:
        raise FeedParseError(f"not a feed: the root element is <{root}>, not RSS or Atom")
    raise FeedParseError("not a feed: no XML or JSON Feed content found")


def _describe_problem(problem: object) -> str:
    if problem is None:
        return ""
    if isinstance(problem, CharacterEncodingOverride):
        return f"character encoding overridden: {problem}"
    if isinstance(problem, NonXMLContentType):
        return f"not served as XML: {problem}"
    if isinstance(problem, xml.sax.SAXParseException):
        return (
            f"not well-formed XML at line {problem.getLineNumber()}: {problem.getMessage()} "
            "(read leniently)"
        )
    return f"{type(problem).__name__}: {problem}"


def _raw_from_feedparser(entry: dict) -> _RawEntry:
    body, body_is_html = _entry_body(entry)
    return _RawEntry(
        guid=_str(entry.get("id")),
        link=_str(entry.get("link")),
        title=_str(entry.get("title")),
        title_is_html=_is_html(entry.get("title_detail")),
        body=body,
        body_is_html=body_is_html,
        author=_str(entry.get("author")),
        # dict.get: FeedParserDict's own lookup aliases a missing updated_parsed with a warning.
        published=_struct_to_datetime(dict.get(entry, "published_parsed"))
        or _struct_to_datetime(dict.get(entry, "updated_parsed")),
        categories=tuple(_str(tag.get("term") or tag.get("label")) for tag in _tags(entry)),
    )


def _entry_body(entry: Mapping) -> tuple[str, bool]:
    detail = entry.get("summary_detail")
    if isinstance(detail, Mapping) and _str(detail.get("value")):
        return _str(detail.get("value")), _is_html(detail)
    for content in entry.get("content") or []:
        if isinstance(content, Mapping) and _str(content.get("value")):
            return _str(content.get("value")), _is_html(content)
    # Type unknown: treat as HTML, which is sanitised either way.
    return _str(entry.get("summary")), True


def _tags(entry: Mapping) -> Iterator[Mapping]:
    for tag in entry.get("tags") or []:
        if isinstance(tag, Mapping):
            yield tag


def _text_of(mapping: Mapping, key: str) -> str:
    value = _str(mapping.get(key))
    if _is_html(mapping.get(f"{key}_detail")):
        return html_to_text(value)
    return value


def _is_html(detail: object) -> bool:
    return isinstance(detail, Mapping) and "html" in _str(detail.get("type"))


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _struct_to_datetime(value: object) -> datetime | None:
    # time.struct_time is a tuple; a leap second (60) would make datetime() refuse the date.
    if not isinstance(value, tuple) or len(value) < 6:
        return None
    year, month, day, hour, minute, second = value[:6]
    try:
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


# --- JSON Feed ----------------------------------------------------------------------------------


def _looks_like_json(body: bytes) -> bool:
    # The body decides, not the Content-Type: servers label XML feeds as JSON and vice versa.
    return _sniff_text(body).lstrip().startswith("{")


def _read_json_feed(body: bytes) -> tuple[str, str, str, list[_RawEntry]]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise FeedParseError(f"not a feed: invalid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise FeedParseError("not a feed: JSON document is not a JSON Feed")
    match = _JSON_FEED_VERSION.match(_str(document.get("version")).strip())
    if not match:
        raise FeedParseError("not a feed: JSON document is not a JSON Feed (no jsonfeed version)")
    version = f"json{match.group(1)}{match.group(2) or ''}"
    items = document.get("items")
    raw_entries = (
        [_raw_from_json(item) for item in items if isinstance(item, dict)]
        if isinstance(items, list)
        else []
    )
    title = html.unescape(_str(document.get("title")))
    return title, _str(document.get("home_page_url")), version, raw_entries


def _raw_from_json(item: Mapping[str, Any]) -> _RawEntry:
    body, body_is_html = _json_body(item)
    guid = item.get("id")
    return _RawEntry(
        guid=str(guid) if isinstance(guid, str | int) and not isinstance(guid, bool) else "",
        link=_str(item.get("url")) or _str(item.get("external_url")),
        # Plain text by the spec, yet WordPress exports entities ("&#8211;"): decode, keep "<".
        title=html.unescape(_str(item.get("title"))),
        title_is_html=False,
        body=body,
        body_is_html=body_is_html,
        author=_json_author(item),
        published=_iso_to_datetime(item.get("date_published"))
        or _iso_to_datetime(item.get("date_modified")),
        categories=tuple(_str(tag) for tag in item.get("tags") or [] if isinstance(tag, str)),
    )


def _json_body(item: Mapping[str, Any]) -> tuple[str, bool]:
    if _str(item.get("summary")):
        return _str(item.get("summary")), False
    if _str(item.get("content_html")):
        return _str(item.get("content_html")), True
    return _str(item.get("content_text")), False


def _json_author(item: Mapping[str, Any]) -> str:
    authors = item.get("authors")
    candidates = authors if isinstance(authors, list) else [item.get("author")]
    names = [_str(a.get("name")) for a in candidates if isinstance(a, dict)]
    return ", ".join(name for name in names if name)


def _iso_to_datetime(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        # The spec says RFC 3339, but feeds converted from RSS often keep RFC 822 dates.
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return None


# --- cleaning -----------------------------------------------------------------------------------


def _finish_entry(raw: _RawEntry, base: str, now: datetime) -> FeedEntry | RejectedEntry:
    raw_link = clean_text(raw.link)
    link, link_problem = _checked_link(raw_link, base)
    title = _clean_title(raw.title, is_html=raw.title_is_html)
    published = _sane_date(raw.published, now)
    guid = _guid(clean_text(raw.guid), link, title, published)
    if link_problem:
        return RejectedEntry(guid=guid, title=title, link=raw_link[:200], reason=link_problem)
    body = clean_text(raw.body[:MAX_SUMMARY_HTML_CHARS])
    if raw.body_is_html:
        summary_html = sanitize_html(body, base_url=link or base)
    else:
        summary_html = html.escape(collapse_whitespace(body), quote=False)
    return FeedEntry(
        guid=guid,
        link=link,
        title=title,
        summary=html_to_text(summary_html),
        summary_html=summary_html,
        author=collapse_whitespace(clean_text(raw.author))[:MAX_AUTHOR_CHARS],
        published=published,
        categories=_clean_categories(clean_text(term) for term in raw.categories),
    )


def _checked_link(raw_link: str, base: str) -> tuple[str, str]:
    """(absolute link, "") or ("", why the entry's link cannot be used)."""
    stripped = raw_link.strip()
    if not stripped:
        return "", "the entry has no link"
    link = safe_http_url(stripped, base)
    if link:
        return link, ""
    absolute = urljoin(base, stripped) if base else stripped
    if len(absolute) > MAX_URL_CHARS:
        return "", f"link is {len(absolute)} characters long, over the {MAX_URL_CHARS} limit"
    return "", "link is not a usable http(s) URL"


def _clean_title(title: str, *, is_html: bool) -> str:
    text = html_to_text(clean_text(title)) if is_html else clean_text(title)
    return collapse_whitespace(text)[:MAX_TITLE_CHARS]


def _sane_date(value: datetime | None, now: datetime) -> datetime | None:
    if value is None or value < EARLIEST_DATE or value > now + FUTURE_TOLERANCE:
        return None
    return value


def _guid(raw_guid: str, link: str, title: str, published: datetime | None) -> str:
    guid = collapse_whitespace(raw_guid) or link
    if not guid:
        stamp = published.isoformat() if published else ""
        guid = "sha256:" + hashlib.sha256(f"{title}\x1f{stamp}".encode()).hexdigest()
    elif len(guid) > MAX_GUID_CHARS:
        # Stable and short enough for an indexed column, still unique per original id.
        guid = "sha256:" + hashlib.sha256(guid.encode()).hexdigest()
    return guid


def _clean_categories(terms: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for term in terms:
        text = collapse_whitespace(term)[:MAX_CATEGORY_CHARS]
        if text and text.casefold() not in seen:
            seen[text.casefold()] = text
    return tuple(seen.values())[:MAX_CATEGORIES]


def _unique_by_guid(entries: Iterable[FeedEntry]) -> list[FeedEntry]:
    seen: set[str] = set()
    unique = []
    for entry in entries:
        if entry.guid not in seen:
            seen.add(entry.guid)
            unique.append(entry)
    return unique


_UNSAFE_URL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_BAD_HOST_CHARS = re.compile(r"[\s<>\"'`{}|\\^%]")


def safe_http_url(raw: str, base: str = "") -> str:
    """`raw` made absolute against `base` if it is an http(s) URL, else ""."""
    candidate = raw.strip()
    if not candidate or _UNSAFE_URL_CHARS.search(candidate):
        return ""
    candidate = candidate.replace(" ", "%20")
    try:
        absolute = urljoin(base, candidate) if base else candidate
        parts = urlsplit(absolute)
        host = parts.hostname or ""
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not host or _BAD_HOST_CHARS.search(host):
        return ""
    if len(absolute) > MAX_URL_CHARS:
        return ""
    return absolute


# --- sniffing and discovery ---------------------------------------------------------------------

_MARKUP_PREAMBLE = re.compile(
    r"\s*(?:<\?.*?\?>|<!--.*?-->|<!doctype[^\[>]*(?:\[.*?\])?\s*>)", re.IGNORECASE | re.DOTALL
)
_ELEMENT_NAME = re.compile(r"\s*<([A-Za-z_][\w.:-]*)")
_SNIFF_BYTES = 4096
_FEED_ROOTS = frozenset({"rss", "feed", "rdf", "channel"})
_FEED_MEDIA_TYPES = frozenset(
    {"application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json"}
)


def _sniff_text(body: bytes, size: int = _SNIFF_BYTES) -> str:
    # Markup is ASCII: dropping NULs and BOMs makes UTF-16/32 heads readable without decoding.
    head = body[:size].replace(b"\x00", b"")
    for bom in (b"\xef\xbb\xbf", b"\xfe\xff", b"\xff\xfe"):
        head = head.removeprefix(bom)
    return head.decode("latin-1")


def _after_preamble(text: str) -> str:
    """`text` from its first element on: XML declaration, comments and doctype skipped."""
    position = 0
    while (match := _MARKUP_PREAMBLE.match(text, position)) and match.end() > position:
        position = match.end()
    return text[position:]


def first_element_name(body: bytes) -> str:
    """Lower-case local name of the document's first element, "" if none is visible."""
    element = _ELEMENT_NAME.match(_after_preamble(_sniff_text(body)))
    return element.group(1).rsplit(":", 1)[-1].lower() if element else ""


def _is_blank_markup(body: bytes) -> bool:
    head_is_all = len(body) <= _SNIFF_BYTES
    return head_is_all and not _after_preamble(_sniff_text(body)).strip()


def looks_like_feed(body: bytes, content_type: str | None) -> bool:
    """Cheap guess whether a fetched document is a feed rather than an HTML page."""
    if body.startswith(_GZIP_MAGIC):
        try:
            body = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16).decompress(body, 65536)
        except zlib.error:
            return False
    root = first_element_name(body)
    if root:
        return root in _FEED_ROOTS
    text = _sniff_text(body).lstrip()
    if text.startswith("{"):
        return "jsonfeed.org/version" in text
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type in _FEED_MEDIA_TYPES


_FALLBACK_SUFFIXES = ("/feed", "/rss", ".rss", ".xml", "/atom", ".atom", "atom.xml")


def _page_root(page: bytes | str) -> lxml.html.HtmlElement | None:
    # Bytes let libxml2 honour <meta charset>; a str is re-encoded with its encoding stated.
    if isinstance(page, bytes):
        raw, parser = page, None
    else:
        # A parser per call: lxml parser objects must not be shared between threads.
        raw, parser = page.encode(), lxml.html.HTMLParser(encoding="utf-8")
    if not raw.strip():
        return None
    try:
        return lxml.html.document_fromstring(raw, parser=parser)
    except (etree.ParserError, ValueError):
        return None


def _is_feed_link(attributes: Mapping[str, str]) -> bool:
    rels = attributes.get("rel", "").lower().split()
    media_type = attributes.get("type", "").split(";", 1)[0].strip().lower()
    return "alternate" in rels and media_type in _FEED_MEDIA_TYPES


def _looks_like_feed_path(url: str) -> bool:
    path = urlsplit(url).path.lower().rstrip("/")
    return path.endswith(_FALLBACK_SUFFIXES) and "sitemap" not in path


def discover_feeds(html_page: bytes | str, base_url: str) -> list[str]:
    """Feed URLs a page advertises: <link rel=alternate> first, then feed-looking <a> links."""
    root = _page_root(html_page)
    if root is None:
        return []
    base, base_seen = base_url, False
    alternates: list[str] = []
    anchors: list[str] = []
    for element in root.iter("base", "link", "a"):
        href = (element.get("href") or "").strip()
        if element.tag == "base" and not base_seen:
            base, base_seen = safe_http_url(href, base_url) or base_url, True
        elif element.tag == "link" and _is_feed_link(element.attrib):
            alternates.append(safe_http_url(href, base))
        elif element.tag == "a":
            url = safe_http_url(href, base)
            anchors.append(url if _looks_like_feed_path(url) else "")
    return list(dict.fromkeys(url for url in alternates + anchors if url))
