"""The extraction step: a fetched page's bytes and URL in, text and metadata out.

One lxml parse feeds both trafilatura's main-text extraction and the metadata lookups here.
Pure: no Django, no network.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from urllib.parse import urljoin, urlsplit

import charset_normalizer
import py3langid as langid
from htmldate import find_date
from lxml.etree import XPath
from lxml.html import HtmlElement
from trafilatura import bare_extraction
from trafilatura.metadata import examine_meta, extract_meta_json, extract_title
from trafilatura.settings import Document
from trafilatura.utils import load_html

from articles.blocks import LIST_TYPES, block_lines, blocks_text, body_blocks
from articles.canonical import choose_canonical
from articles.summary import make_summary

LOGGER = logging.getLogger(__name__)

# Below this many words the page is kept but flagged: a paywall, an index page or a video.
MIN_WORDS = 50
# py3langid is accurate on a few hundred characters; its cost grows with the length.
LANGID_PREFIX = 400
# A paragraph with less than this share of the article's script is in another language.
FOREIGN_SCRIPT_SHARE = 0.1
# Below this share of its letters in its main script, a page is bilingual and keeps both.
BILINGUAL_SHARE = 0.7
_CHARSET_SNIFF_BYTES = 4096

_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"\w+")
_CJK_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_HASHTAG = re.compile(r"(?<![\w&/#])#(\w*[^\W\d_]\w*)")
_HASHTAG_LINE = re.compile(r"^(?:#\w+[\s,;|·•]*)+$")
_READ_MORE_LINE = re.compile(
    r"^(?:(?:read more|read the full (?:story|article)|source|originally published|"
    r"via|more at|continue reading)(?:\s+(?:at|on|here))?\s*[:\uff1a-]?\s*)<?https?://\S+>?$",
    re.IGNORECASE,
)
# Invisible or look-alike characters that split words for search and the shingle metric;
# "rare-earth" is often written with a non-breaking hyphen (U+2011).
_CHAR_FIXES = (
    ("\u00ad", ""),  # soft hyphen
    ("\u200b", ""),  # zero-width space
    ("\u2060", ""),  # word joiner
    ("\ufeff", ""),
    ("\u2010", "-"),
    ("\u2011", "-"),  # non-breaking hyphen
    ("\u00a0", " "),
    ("\u202f", " "),
)
# WHATWG maps these labels to windows-1252, and real servers mean it.
_CHARSET_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "windows-1252": "cp1252",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc-kr": "cp949",
}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_NON_LATIN = re.compile(r"[\u0400-\u04ff\u0600-\u06ff\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_SCRIPTS = (
    ("latin", re.compile(r"[A-Za-z\u00c0-\u024f]")),
    ("cjk", _CJK_CHAR),
    ("cyrillic", re.compile(r"[\u0400-\u04ff]")),
    ("arabic", re.compile(r"[\u0600-\u06ff]")),
)
_CANONICAL_XPATH = XPath(
    '//head/link[@href][contains(concat(" ", normalize-space(@rel), " "), " canonical ")]'
)
_BYLINE_XPATH = XPath(
    '//*[@rel="author" or @itemprop="author" or contains(@class, "byline")'
    ' or contains(@class, "author-name")'
    ' or contains(concat(" ", normalize-space(@class), " "), " author ")]'
    "[not(self::link) and not(self::meta)]"
)
# WordPress and most blog engines mark category links this way.
_CATEGORY_LINKS = XPath('//a[contains(concat(" ", normalize-space(@rel), " "), " category ")]')
_PUBLISHED_META = {
    "article:published_time",
    "og:article:published_time",
    "datepublished",
    "pubdate",
    "publishdate",
    "date",
    "dc.date",
    "dc.date.issued",
    "dcterms.created",
    "sailthru.date",
    "parsely-pub-date",
}
_SECTION_META = {"article:section", "og:article:section"}
_KEYWORD_META = {"keywords", "news_keywords"}
_JSON_DATE = re.compile(r'"datePublished"\s*:\s*"([^"]{8,40})"')


@dataclass(frozen=True)
class Extracted:
    """What one page yields; ``error`` is empty on success and a sentence otherwise."""

    url: str
    title: str = ""
    author: str = ""
    published: datetime | None = None
    site_name: str = ""
    description: str = ""
    image: str = ""
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    text: str = ""
    language: str = ""
    word_count: int = 0
    content_hash: str = ""
    summary: str = ""
    summary_source: str = ""
    error: str = ""
    # The article's shape: [{"type": "h2"|"h3"|"p"|"blockquote"|"pre", "text": …} or
    # {"type": "ul"|"ol", "items": […]}]; ``text`` is the same content as plain paragraphs.
    blocks: tuple[dict, ...] = ()
    # Which trafilatura pass produced the text, and the cheap signals that chose it.
    path: str = ""
    signals: dict | None = None

    @property
    def paragraphs(self) -> list[str]:
        return [p for p in self.text.split("\n\n") if p]


def decode_html(body: bytes | str, http_charset: str | None = None) -> str:
    """Decode a page: BOM, HTTP charset, ``<meta>`` charset, detection, then lossy UTF-8."""
    if isinstance(body, str):
        return body
    # The BOM goes first, as browsers do: it is written by the tool that made the bytes.
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body.decode(encoding, errors="replace").lstrip("\ufeff")
    declared = _codec(http_charset)
    if declared:
        text = _decode_declared(body, declared)
        if text is not None:
            return text
    match = _META_CHARSET.search(body[:_CHARSET_SNIFF_BYTES])
    meta_codec = _codec(match.group(1).decode("ascii", "replace") if match else None)
    if meta_codec:
        text = _decode_declared(body, meta_codec)
        if text is not None:
            return text
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(body).best()
    if best is not None and best.encoding:
        return body.decode(best.encoding, errors="replace")
    return body.decode(meta_codec or "utf-8", errors="replace")


def _codec(label: str | None) -> str:
    if not label:
        return ""
    label = label.strip().strip("\"'").lower()
    label = _CHARSET_ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return ""


def _decode_declared(body: bytes, codec: str) -> str | None:
    """Decode with a declared codec; ``None`` when the declaration is evidently wrong."""
    if codec == "cp1252" and not body.isascii():
        # Servers label UTF-8 pages ISO-8859-1 by default; valid UTF-8 is never an accident.
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            return body.decode("cp1252", errors="replace")
    try:
        return body.decode(codec)
    except UnicodeDecodeError:
        return None if codec.startswith("utf") else body.decode(codec, errors="replace")


def extract(
    body: bytes | str,
    url: str,
    *,
    http_charset: str | None = None,
    feed_summary: str = "",
    feed_title: str = "",
    feed_published: datetime | None = None,
) -> Extracted:
    """Extract an article from a page; never raises, reports trouble in ``error``."""
    try:
        return _extract(body, url, http_charset, feed_summary, feed_title, feed_published)
    # The boundary for hostile input: lxml, trafilatura and htmldate can fail in ways none of
    # them document, and one bad page must not stop a worker.
    except Exception as error:  # noqa: BLE001
        LOGGER.warning("extraction failed for %s: %r", url, error)
        failure = f"Extraction failed: {type(error).__name__}."
        return _failed(url, failure, feed_title, feed_summary, feed_published)


def _failed(
    url: str,
    error: str,
    feed_title: str = "",
    feed_summary: str = "",
    feed_published: datetime | None = None,
) -> Extracted:
    """A page with nothing usable still gets a row: the feed's title, summary and date."""
    summary, source = make_summary(feed=feed_summary, title=feed_title)
    return Extracted(
        url=choose_canonical(url, None),
        title=_SPACE.sub(" ", feed_title).strip(),
        published=_aware(feed_published),
        summary=summary,
        summary_source=source,
        error=error,
    )


def _main_body(tree: HtmlElement, url: str, *, fast: bool, precision: bool = False) -> list[dict]:
    """One trafilatura pass as blocks. trafilatura copies a tree it is given, so every pass
    starts from the same parse."""
    document = bare_extraction(
        tree,
        url=url,
        fast=fast,
        favor_precision=precision,
        with_metadata=False,
        include_comments=False,
        output_format="python",
    )
    if not isinstance(document, Document) or document.body is None:
        return []
    return body_blocks(document.body)


def _extract(
    body: bytes | str,
    url: str,
    http_charset: str | None,
    feed_summary: str,
    feed_title: str,
    feed_published: datetime | None,
) -> Extracted:
    markup = decode_html(body or b"", http_charset)
    if not markup.strip():
        return _failed(url, "The page was empty.", feed_title, feed_summary, feed_published)
    tree = load_html(markup)
    if tree is None:
        return _failed(url, "The page is not HTML.", feed_title, feed_summary, feed_published)
    meta = _metadata(tree)
    description = _SPACE.sub(" ", meta.description or "").strip()
    page = page_signals(tree, description)
    raw_blocks, path, signals = choose_pass(tree, url, page)
    title = _SPACE.sub(" ", feed_title or meta.title or "").strip()
    blocks, hashtags = clean_blocks(raw_blocks, meta.title or title)
    text = blocks_text(blocks)
    # Headings, lists and code read badly run into a summary's sentences: the lead is prose.
    prose = blocks_text([block for block in blocks if block["type"] == "p"]) or text
    summary, summary_source = make_summary(
        feed=feed_summary, description=description, text=prose, title=title
    )
    words = count_words(text)
    return Extracted(
        url=choose_canonical(url, _declared_canonical(tree)),
        title=title,
        author=_SPACE.sub(" ", meta.author or "").strip(),
        published=_aware(feed_published) or _page_published(tree, url),
        site_name=_SPACE.sub(" ", meta.sitename or "").strip(),
        description=description,
        image=_absolute(url, meta.image),
        categories=_unique(meta.categories or []),
        keywords=_unique([*(meta.tags or []), *hashtags]),
        text=text,
        language=detect_language(text) or _html_lang(tree),
        word_count=words,
        content_hash=content_hash(text),
        summary=summary,
        summary_source=summary_source,
        error=_quality_error(words),
        blocks=tuple(blocks),
        path=path,
        signals=signals,
    )


def _quality_error(words: int) -> str:
    if words == 0:
        return "No article text could be found on the page."
    if words < MIN_WORDS:
        return (
            f"Only {words} words of article text were found; the page may be a teaser or paywall."
        )
    return ""


def _metadata(tree: HtmlElement) -> Document:
    """trafilatura's cheap metadata sources (meta tags, JSON-LD, title) without its slow scans."""
    meta = examine_meta(tree)
    if meta.author and " " not in meta.author:
        meta.author = None  # a lone handle ("admin", "staff") is not a byline
    try:
        meta = extract_meta_json(tree, meta)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as error:
        LOGGER.debug("unusable JSON-LD: %r", error)
    if not meta.title:
        meta.title = extract_title(tree)
    if not meta.author:
        meta.author = _byline(tree)
    if not meta.categories:
        meta.categories = _meta_values(tree, _SECTION_META) or [
            link.text_content() for link in _CATEGORY_LINKS(tree)
        ]
    tags = [*(meta.tags or []), *_meta_values(tree, _KEYWORD_META)]
    meta.tags = [part for tag in tags for part in re.split(r"[,;]", tag)]
    return meta


def _byline(tree: HtmlElement) -> str | None:
    for element in _BYLINE_XPATH(tree):
        value = _SPACE.sub(" ", element.text_content()).strip()
        value = re.sub(r"^(?:by|von|par|por)\s+", "", value, flags=re.IGNORECASE)
        if 2 < len(value) < 80:
            return value
    return None


def _meta_values(tree: HtmlElement, names: set[str]) -> list[str]:
    values = []
    for element in tree.iterfind(".//head/meta[@content]"):
        key = (element.get("property") or element.get("name") or "").strip().lower()
        content = (element.get("content") or "").strip()
        if key in names and content:
            values.append(content)
    return values


def _declared_canonical(tree: HtmlElement) -> str | None:
    found = _CANONICAL_XPATH(tree)
    return found[0].get("href") if found else None


def _page_published(tree: HtmlElement, url: str) -> datetime | None:
    """Publication time from meta tags or JSON-LD (with time and zone), else htmldate's day."""
    candidates = _meta_values(tree, _PUBLISHED_META)
    for script in tree.iterfind('.//script[@type="application/ld+json"]'):
        candidates.extend(_JSON_DATE.findall(script.text or ""))
    for candidate in candidates:
        parsed = _parse_datetime(candidate)
        if parsed is not None:
            return parsed
    day = find_date(tree, url=url, extensive_search=False, original_date=True)
    return _parse_datetime(day) if day else None


def _parse_datetime(value: str) -> datetime | None:
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(value[:10]), time())
        except ValueError:
            return None
    if not 1990 <= parsed.year <= datetime.now(UTC).year + 1:
        return None
    return _aware(parsed)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _absolute(base: str, link: str | None) -> str:
    if not link or not link.strip():
        return ""
    try:
        resolved = urljoin(base, link.strip())
        scheme = urlsplit(resolved).scheme
    except ValueError:
        return ""
    return resolved if scheme in ("http", "https") else ""


def _html_lang(tree: HtmlElement) -> str:
    lang = (tree.get("lang") or tree.get("xml:lang") or "").strip().lower()
    primary = lang.split("-")[0].split("_")[0]
    return primary if len(primary) == 2 and primary.isalpha() else ""


def _unique(values: list[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for value in values:
        value = _SPACE.sub(" ", value).strip().lstrip("#")
        if value and value.casefold() not in seen:
            seen[value.casefold()] = value
    return tuple(seen.values())


# --- Choosing the pass: the over- and under-extraction guard -------------------------------------

# The fast pass is trusted unless a cheap signal says it took more than the article: more words
# than the page's own article body (JSON-LD ``articleBody``, or its one ``<article>`` /
# ``itemprop=articleBody`` block) by this factor plus slack, or mostly lines that are link texts.
OVER_FACTOR = 1.5
OVER_SLACK = 50
LINK_LINE_SHARE = 0.3
TITLE_LINE_SHARE = 0.6
MIN_LINES = 8
# A line this short without a sentence ending reads like a headline in a list.
TITLE_LINE_WORDS = 12
_SENTENCE_END = (".", "!", "?", ":", ";", "\u201d", '"', "\u3002", "\uff01", "\uff1f", ")")
_MAIN_BLOCK_XPATH = XPath('//*[@itemprop="articleBody"]')
_LD_BODY = re.compile(r'"articleBody"\s*:\s*"((?:[^"\\]|\\.){1,200000})"')


@dataclass(frozen=True)
class PageSignals:
    """What the page says about its own article, read before trafilatura prunes the tree."""

    main_words: int
    ld_words: int
    description_words: int
    link_texts: frozenset[str]


def page_signals(tree: HtmlElement, description: str = "") -> PageSignals:
    main = _MAIN_BLOCK_XPATH(tree)
    if len(main) != 1:
        articles = tree.xpath("//article")
        main = articles if len(articles) == 1 else []
    main_words = count_words(main[0].text_content()) if main else 0
    ld_words = 0
    for script in tree.iterfind('.//script[@type="application/ld+json"]'):
        for match in _LD_BODY.finditer(script.text or ""):
            ld_words = max(ld_words, count_words(match.group(1)))
    links = frozenset(
        key for a in tree.iter("a") if (key := " ".join(a.text_content().split()).casefold())
    )
    return PageSignals(main_words, ld_words, count_words(description), links)


def text_signals(blocks: list[dict], page: PageSignals) -> dict:
    """The signals of one pass's output against the page's own."""
    lines = [line for block in blocks for line in block_lines(block) if line]
    linked = sum(1 for line in lines if line.casefold() in page.link_texts)
    titles = sum(
        1
        for line in lines
        if len(line.split()) <= TITLE_LINE_WORDS and not line.endswith(_SENTENCE_END)
    )
    share = (lambda n: round(n / len(lines), 3)) if lines else (lambda n: 0.0)
    return {
        "words": sum(count_words(line) for line in lines),
        "lines": len(lines),
        "link_lines": share(linked),
        "title_lines": share(titles),
    }


def over_extraction(signals: dict, page: PageSignals) -> list[str]:
    """Why a pass's text looks like more than the article (empty when it does not)."""
    reasons = []
    words = signals["words"]
    for name, expected in (("ld_words", page.ld_words), ("main_words", page.main_words)):
        if expected >= MIN_WORDS and words > OVER_FACTOR * expected + OVER_SLACK:
            reasons.append(f"{words} words against the page's {expected} ({name})")
    if signals["lines"] >= MIN_LINES:
        if signals["link_lines"] >= LINK_LINE_SHARE:
            reasons.append(f"{signals['link_lines']:.0%} of lines are link texts")
        if signals["title_lines"] >= TITLE_LINE_SHARE and signals["link_lines"] >= 0.1:
            reasons.append(f"{signals['title_lines']:.0%} of lines are short and title-like")
    return reasons


def _expected_words(page: PageSignals) -> int:
    return page.ld_words if page.ld_words >= MIN_WORDS else page.main_words


def choose_pass(tree: HtmlElement, url: str, page: PageSignals) -> tuple[list[dict], str, dict]:
    """Run the fast pass; run another only when the signals say it found too little or too much.

    Returns (blocks, path, signals). Paths: ``fast`` (trusted), ``fallback`` (too little: the
    full pass with readability/jusText), ``precision`` (too much: trafilatura's precision mode),
    ``full`` (precision mode still too much or too little: the full pass in precision mode).
    """
    blocks = _main_body(tree, url, fast=True)
    fast = text_signals(blocks, page)
    signals: dict = {
        "fast": fast,
        "main_words": page.main_words,
        "ld_words": page.ld_words,
        "description_words": page.description_words,
    }
    if fast["words"] < MIN_WORDS or fast["words"] < page.description_words:
        # trafilatura's own algorithm found too little: let its fallbacks try too.
        fallback = _main_body(tree, url, fast=False)
        signals["fallback"] = text_signals(fallback, page)
        signals["reasons"] = [
            f"only {fast['words']} words"
            if fast["words"] < MIN_WORDS
            else f"{fast['words']} words, fewer than the page's description"
        ]
        if signals["fallback"]["words"] > fast["words"]:
            return fallback, "fallback", signals
        return blocks, "fast", signals
    reasons = over_extraction(fast, page)
    if not reasons:
        return blocks, "fast", signals
    signals["reasons"] = reasons
    floor = max(MIN_WORDS // 2, _expected_words(page) // 2)
    precise = _main_body(tree, url, fast=True, precision=True)
    signals["precision"] = text_signals(precise, page)
    if floor <= signals["precision"]["words"] < fast["words"] and not over_extraction(
        signals["precision"], page
    ):
        return precise, "precision", signals
    full = _main_body(tree, url, fast=False, precision=True)
    signals["full"] = text_signals(full, page)
    candidates = [
        (blocks, "fast", fast),
        (precise, "precision", signals["precision"]),
        (full, "full", signals["full"]),
    ]
    # The least suspicious pass that still found the article; ties go to the longer text.
    usable = [c for c in candidates if c[2]["words"] >= floor] or candidates[:1]
    chosen = min(usable, key=lambda c: (len(over_extraction(c[2], page)), -c[2]["words"]))
    return chosen[0], chosen[1], signals


# --- Cleaning ------------------------------------------------------------------------------------


def clean_text(raw: str, title: str = "") -> tuple[str, list[str]]:
    """Tidy plain text (one paragraph a line) as :func:`clean_blocks` does; (text, hashtags)."""
    blocks = [{"type": "p", "text": line} for line in raw.split("\n")]
    kept, hashtags = clean_blocks(blocks, title)
    return blocks_text(kept), hashtags


def clean_blocks(blocks: list[dict], title: str = "") -> tuple[list[dict], list[str]]:
    """Tidy trafilatura's blocks and drop leftover boilerplate; returns (blocks, hashtags).

    Dropped: hashtag-only lines, "Read more at: URL" lines, copies of the headline (stored
    apart), a line equal to the one before it (related-story lists print each title twice),
    and other-script blocks at the edges of the text (disclaimers, ads). Lines repeated further
    apart stay: meal plans, interview questions and table labels recur on purpose.
    """
    title_key = " ".join(_fix_chars(title).split()).casefold()
    hashtags: list[str] = []
    kept: list[dict] = []
    previous = ""
    for block in blocks:
        if block["type"] in LIST_TYPES:
            items = [_tidy(item) for item in block["items"]]
            items = [item for item in items if item]
            if items:
                kept.append({"type": block["type"], "items": items})
                previous = ""
            continue
        if block["type"] == "pre":
            code = unicodedata.normalize("NFC", _fix_chars(block["text"]))
            if code.strip():
                kept.append({"type": "pre", "text": code})
            continue
        line = _tidy(block["text"])
        key = line.casefold()
        if not line or key in (previous, title_key):
            continue
        previous = key
        if "#" in line:
            hashtags.extend(_HASHTAG.findall(line))
            if _HASHTAG_LINE.match(line):
                continue
        if "://" in line and _READ_MORE_LINE.match(line):
            continue
        kept.append({"type": block["type"], "text": line})
    if any(_NON_LATIN.search(line) for block in kept for line in block_lines(block)):
        kept = _drop_foreign_edges(kept)
    return _drop_trailing_related(kept), hashtags


def _tidy(line: str) -> str:
    return " ".join(unicodedata.normalize("NFC", _fix_chars(line)).split())


_RELATED_HEADING = re.compile(
    r"^(related|more|recommended|you may also like|also read|read next|see also)\b[\w ]{0,30}:?$",
    re.IGNORECASE,
)
_MAX_RELATED_LINES = 12


def _drop_trailing_related(blocks: list[dict]) -> list[dict]:
    """Cut a "Related coverage" list left at the end: a heading, then only title-like lines.

    A title-like line has no sentence ending; real closing paragraphs do, so they stay.
    """
    tail = blocks[-(_MAX_RELATED_LINES + 1) :]
    sentence_after = [False] * (len(tail) + 1)
    for offset in range(len(tail) - 1, -1, -1):
        ends = (line.endswith((".", "!", "?", "\u201d", '"')) for line in block_lines(tail[offset]))
        sentence_after[offset] = sentence_after[offset + 1] or any(ends)
    for offset, block in enumerate(tail):
        if (
            block["type"] not in ("pre", *LIST_TYPES)
            and not sentence_after[offset + 1]
            and _RELATED_HEADING.match(block["text"])
        ):
            return blocks[: len(blocks) - len(tail) + offset]
    return blocks


def _fix_chars(text: str) -> str:
    if text.isascii():
        return text
    for char, replacement in _CHAR_FIXES:
        if char in text:
            text = text.replace(char, replacement)
    return text


def _drop_foreign_edges(blocks: list[dict]) -> list[dict]:
    """Drop blocks in another script than the article's at its start or end only.

    A disclaimer or an ad in another language sits before or after the article; quotations,
    code and names in another script sit inside it, between the article's own paragraphs, and
    stay. Quotes and code blocks stay wherever they are.
    """
    if len(blocks) < 3:
        return blocks
    counts = [_script_counts(" ".join(block_lines(block))) for block in blocks]
    # Code is written in Latin letters whatever the article's language: it does not vote.
    prose = [c for c, block in zip(counts, blocks, strict=True) if block["type"] != "pre"]
    totals = {name: sum(c[name] for c in prose) for name, _ in _SCRIPTS}
    main = max(totals, key=lambda name: totals[name])
    if totals[main] < BILINGUAL_SHARE * sum(totals.values()):
        return blocks  # a genuinely bilingual page: keep everything

    def furniture(index: int) -> bool:
        count = counts[index]
        foreign = count[main] < FOREIGN_SCRIPT_SHARE * sum(count.values())
        return foreign and blocks[index]["type"] not in ("blockquote", "pre")

    start, end = 0, len(blocks)
    while start < end and furniture(start):
        start += 1
    while end > start and furniture(end - 1):
        end -= 1
    return blocks[start:end]


def _script_counts(paragraph: str) -> dict[str, int]:
    return {name: len(pattern.findall(paragraph)) for name, pattern in _SCRIPTS}


def count_words(text: str) -> int:
    """Words in ``text``; each CJK character counts as one, as their writers count."""
    cjk = 0 if text.isascii() else len(_CJK_CHAR.findall(text))
    if cjk:
        text = _CJK_CHAR.sub(" ", text)
    return len(text.split()) + cjk


def content_hash(text: str) -> str:
    """SHA-256 of the whitespace-collapsed, casefolded text, for exact-duplicate detection."""
    normalized = " ".join(text.split()).casefold()
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest() if normalized else ""


def detect_language(text: str) -> str:
    """ISO 639-1 code of ``text`` from a prefix, or "" when there is too little to tell."""
    sample = text[:LANGID_PREFIX]
    if len(_WORD.findall(sample)) < 5:
        return ""
    language, _score = langid.classify(sample)
    return str(language)
