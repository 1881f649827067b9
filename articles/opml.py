"""OPML subscription lists: read (flattening folders into categories) and write."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from lxml import etree

from articles.feeds import MAX_URL_CHARS, safe_http_url
from articles.sanitize import collapse_whitespace
from articles.textclean import clean_text

CATEGORY_SEPARATOR = " / "
MAX_OPML_BYTES = 10 * 1024 * 1024

_Folders = dict[tuple[str, ...], etree._Element]


@dataclass(frozen=True)
class OpmlFeed:
    url: str
    title: str
    site_url: str
    category: str  # folder path, outermost first, joined with " / "; "" at top level


@dataclass(frozen=True)
class OpmlOutline:
    """One outline that names a feed: the feed if its URL is usable, else `problem` says why."""

    raw_url: str  # the xmlUrl as written
    label: str
    feed: OpmlFeed | None
    problem: str = ""


def _safe_parser() -> etree.XMLParser:
    # No entity expansion into text, no DTD or network fetches; libxml2's own limits (huge_tree
    # off) stop entity-amplification bombs. An external entity in an attribute is an error.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_opml(body: bytes) -> list[OpmlFeed]:
    """Feeds listed in an OPML document; ValueError with a readable message if it is not one."""
    feeds: dict[str, OpmlFeed] = {}
    for outline in read_outlines(body):
        if outline.feed and outline.feed.url not in feeds:
            feeds[outline.feed.url] = outline.feed
    return list(feeds.values())


def read_outlines(body: bytes) -> list[OpmlOutline]:
    """Every outline with an xmlUrl, in document order, usable or not (with the reason)."""
    if not body.strip():
        raise ValueError("not an OPML document: the file is empty")
    if len(body) > MAX_OPML_BYTES:
        raise ValueError(f"not an OPML document: larger than {MAX_OPML_BYTES // 2**20} MB")
    try:
        root = etree.fromstring(body, _safe_parser())
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not well-formed OPML: {exc}") from exc
    if not isinstance(root.tag, str) or etree.QName(root).localname.lower() != "opml":
        raise ValueError(f"not an OPML document: the root element is <{root.tag}>")
    return [
        _outline_from(outline, folders)
        for outline, folders in _walk(root.find("body"), ())
        if _attr(outline, "xmlUrl")
    ]


def _outline_from(outline: etree._Element, folders: tuple[str, ...]) -> OpmlOutline:
    raw_url = _attr(outline, "xmlUrl")
    feed = _feed_from(outline, folders)
    problem = "" if feed else _url_problem(raw_url)
    return OpmlOutline(raw_url=raw_url, label=_label(outline), feed=feed, problem=problem)


def _url_problem(raw_url: str) -> str:
    scheme, colon, _ = raw_url.partition(":")
    if len(raw_url) > MAX_URL_CHARS:
        return f"the URL is {len(raw_url)} characters long, over the {MAX_URL_CHARS} limit"
    if colon and scheme.isalpha() and scheme.lower() not in ("http", "https"):
        return f"the {scheme.lower()}: scheme is refused; only http and https"
    return "not a usable http(s) URL"


def _walk(
    parent: etree._Element | None, folders: tuple[str, ...]
) -> Iterator[tuple[etree._Element, tuple[str, ...]]]:
    if parent is None:
        return
    for outline in parent:
        if not isinstance(outline.tag, str) or outline.tag.lower() != "outline":
            continue
        yield outline, folders
        if not _attr(outline, "xmlUrl"):
            yield from _walk(outline, (*folders, _label(outline)) if _label(outline) else folders)


def _feed_from(outline: etree._Element, folders: tuple[str, ...]) -> OpmlFeed | None:
    raw_url = _attr(outline, "xmlUrl")
    if raw_url.lower().startswith("feed://"):
        raw_url = "http://" + raw_url[len("feed://") :]
    url = safe_http_url(raw_url)
    if not url:
        return None
    category = CATEGORY_SEPARATOR.join(folders) or _category_attribute(outline)
    label = _label(outline)
    return OpmlFeed(
        url=url,
        title="" if label == raw_url else label,
        site_url=safe_http_url(_attr(outline, "htmlUrl")),
        category=category,
    )


def _attr(outline: etree._Element, name: str) -> str:
    # Exporters disagree on case: xmlUrl, xmlurl, XMLURL all occur.
    wanted = name.lower()
    for key, value in outline.attrib.items():
        if isinstance(key, str) and key.lower() == wanted:
            return value.strip()
    return ""


def _label(outline: etree._Element) -> str:
    return collapse_whitespace(clean_text(_attr(outline, "title") or _attr(outline, "text")))[:500]


def _category_attribute(outline: etree._Element) -> str:
    # OPML 2.0 "category" is a comma-separated list of slash-delimited paths: take the first.
    first = _attr(outline, "category").split(",", 1)[0]
    parts = [collapse_whitespace(part) for part in first.split("/")]
    return CATEGORY_SEPARATOR.join(part for part in parts if part)


def build_opml(feeds: Iterable[OpmlFeed], *, title: str) -> bytes:
    """An OPML 2.0 document with one folder outline per category level."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    body = etree.SubElement(root, "body")
    folders: _Folders = {(): body}
    for feed in feeds:
        parent = _folder(folders, tuple(_split_category(feed.category)))
        attributes = {"type": "rss", "text": feed.title or feed.url}
        if feed.title:
            attributes["title"] = feed.title
        attributes["xmlUrl"] = feed.url
        if feed.site_url:
            attributes["htmlUrl"] = feed.site_url
        etree.SubElement(parent, "outline", attributes)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _split_category(category: str) -> list[str]:
    return [part.strip() for part in category.split(CATEGORY_SEPARATOR) if part.strip()]


def _folder(
    folders: dict[tuple[str, ...], etree._Element], path: tuple[str, ...]
) -> etree._Element:
    if path not in folders:
        parent = _folder(folders, path[:-1])
        folders[path] = etree.SubElement(parent, "outline", text=path[-1], title=path[-1])
    return folders[path]
