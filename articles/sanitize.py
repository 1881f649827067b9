"""Sanitising and flattening of untrusted HTML from feeds and pages."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import nh3

# Conservative on purpose: text structure and links only. No images (tracking pixels, mixed
# content), no tables, no classes or styles, no ids that could clash with our own page.
ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "cite", "code", "dd", "del", "dl", "dt", "em",
        "h2", "h3", "h4", "h5", "h6", "hr", "i", "ins", "li", "ol", "p", "pre", "q", "s",
        "small", "strong", "sub", "sup", "u", "ul",
    }
)  # fmt: skip
# "*": allowed on every tag. lang keeps quotes in other languages readable by screen readers.
ALLOWED_ATTRIBUTES = {"*": {"lang", "title"}, "a": {"href"}}
# Dropped together with everything inside them, not just unwrapped.
DROPPED_WITH_CONTENT = frozenset(
    {
        "script", "style", "template", "noscript", "iframe", "object", "embed", "applet",
        "frame", "frameset", "svg", "math", "head", "title", "textarea", "select", "button",
    }
)  # fmt: skip
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener"


def sanitize_html(html: str, *, base_url: str | None = None) -> str:
    """Keep only the allow-listed markup; relative links resolve against `base_url` or go."""
    if not html:
        return ""
    try:
        return _clean(html, _relative_policy(base_url))
    except ValueError:
        # nh3 refuses a base it cannot parse (a broken host name, say): drop relative links.
        return _clean(html, "deny")


def _clean(html: str, url_relative: str | tuple[str, str]) -> str:
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
        url_relative=url_relative,
    )


def _relative_policy(base_url: str | None) -> str | tuple[str, str]:
    # A relative href left as is would point into our own site once rendered.
    if base_url and urlsplit(base_url).scheme in ("http", "https") and urlsplit(base_url).netloc:
        return ("rewrite_with_base", base_url)
    return "deny"


_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
        "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main",
        "nav", "ol", "p", "pre", "section", "table", "tr", "ul",
    }
)  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})
_ANY_SPACE = re.compile(r"\s+")
_SPACES = re.compile(r"[^\S\n]+")
_NEWLINES = re.compile(r"\s*\n\s*")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._mark_boundary(tag)

    def handle_endtag(self, tag: str) -> None:
        self._mark_boundary(tag)

    handle_startendtag = handle_starttag

    def handle_data(self, data: str) -> None:
        # Source line breaks are mere whitespace in HTML; only block boundaries break lines.
        self.parts.append(_ANY_SPACE.sub(" ", data))

    def _mark_boundary(self, tag: str) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")
        elif tag in _CELL_TAGS:
            self.parts.append(" ")


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: one line per block, spaces collapsed, entities decoded."""
    if not html:
        return ""
    # nh3 first: it drops invisible content and re-serialises hostile markup into plain tags,
    # which the stdlib parser then reads safely (on raw "<![CDA" it raises AssertionError).
    skeleton = nh3.clean(
        html,
        tags=set(_BLOCK_TAGS | _CELL_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={},
        link_rel=None,
    )
    collector = _TextCollector()
    collector.feed(skeleton)
    collector.close()
    text = _SPACES.sub(" ", "".join(collector.parts))
    return _NEWLINES.sub("\n", text).strip()


def collapse_whitespace(text: str) -> str:
    """One line, single spaces: for titles, names and terms."""
    return " ".join(text.split())
