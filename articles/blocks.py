"""An article's shape as a small block list: headings, paragraphs, lists, quotes and code.

Blocks are plain JSON (``{"type": "p", "text": …}``, ``{"type": "ul", "items": […]}``) holding
text only, never markup: the templates escape them like any other text, so a page cannot put
HTML on ours through them. Pure: no Django.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from lxml.etree import _Element

TEXT_TYPES = frozenset({"h2", "h3", "p", "blockquote", "pre"})
LIST_TYPES = frozenset({"ul", "ol"})
HEADING_TYPES = frozenset({"h2", "h3"})
# Bounds for what is stored and rendered; a real article is far below both.
MAX_BLOCKS = 2000
MAX_ITEMS = 500

_SPACE = re.compile(r"\s+")
_TRAILING_SPACE = re.compile(r"[ \t\r\f\v]+\n")


def _flat(element: _Element) -> str:
    return _SPACE.sub(" ", "".join(element.itertext())).strip()


def _heading_type(element: _Element) -> str:
    # The page's h1 is the headline, stored apart; an h1 inside the body is a section heading.
    level = (element.get("rend") or "h2").lower()
    return "h2" if level in ("h1", "h2") else "h3"


def body_blocks(body: _Element) -> list[dict]:
    """trafilatura's body element (head/p/list/quote/code/table) as blocks."""
    blocks: list[dict] = []
    for element in body:
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag == "head":
            blocks.append({"type": _heading_type(element), "text": _flat(element)})
        elif tag == "list":
            items = [_flat(item) for item in element.iter("item")]
            rend = (element.get("rend") or "ul").lower()
            blocks.append({"type": "ol" if rend == "ol" else "ul", "items": items})
        elif tag == "quote":
            parts = [_flat(child) for child in element] or [_flat(element)]
            blocks.append({"type": "blockquote", "text": " ".join(p for p in parts if p)})
        elif tag == "code":
            code = _TRAILING_SPACE.sub("\n", "".join(element.itertext())).strip("\n")
            blocks.append({"type": "pre", "text": code})
        elif tag == "table":
            for row in element.iter("row"):
                cells = [_flat(cell) for cell in row.iter("cell")]
                blocks.append({"type": "p", "text": " | ".join(c for c in cells if c)})
        elif tag:
            blocks.append({"type": "p", "text": _flat(element)})
        tail = _SPACE.sub(" ", element.tail or "").strip()
        if tail:
            blocks.append({"type": "p", "text": tail})
    return sanitize_blocks(blocks)


def sanitize_blocks(value: object) -> list[dict]:
    """Only well-formed blocks of known types with non-empty string content survive."""
    if not isinstance(value, list):
        return []
    clean: list[dict] = []
    for block in value[:MAX_BLOCKS]:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind in TEXT_TYPES:
            text = block.get("text")
            if isinstance(text, str) and text.strip():
                clean.append({"type": kind, "text": text if kind == "pre" else text.strip()})
        elif kind in LIST_TYPES:
            items = block.get("items")
            if isinstance(items, list):
                kept = [i.strip() for i in items[:MAX_ITEMS] if isinstance(i, str) and i.strip()]
                if kept:
                    clean.append({"type": kind, "items": kept})
    return clean


def block_lines(block: dict) -> list[str]:
    """A block's text as one-line paragraphs: list items each, code on one line."""
    if block["type"] in LIST_TYPES:
        return block["items"]
    if block["type"] == "pre":
        return [_SPACE.sub(" ", block["text"]).strip()]
    return [block["text"]]  # whitespace already collapsed by body_blocks and clean_blocks


def blocks_text(blocks: Iterable[dict]) -> str:
    """Plain text for search, tagging and summaries: one paragraph a line, blank-line separated."""
    return "\n\n".join(line for block in blocks for line in block_lines(block) if line)


def paragraph_blocks(text: str) -> list[dict]:
    """Blocks for an article stored before blocks existed: its paragraphs."""
    return [{"type": "p", "text": p.strip()} for p in text.split("\n\n") if p.strip()]
