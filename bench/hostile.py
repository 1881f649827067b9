"""Hostile feed documents, generated: shared by tests/test_hostile_feeds.py and the benchmarks.

Each is the smallest document that shows one attack: entity expansion (wide and nested), control
characters and noncharacters, invalid UTF-8, over-long fields.
"""

from __future__ import annotations

from xml.sax.saxutils import escape


def _item(title: str, link: str, *, guid: str = "", description: str = "") -> str:
    guid_xml = f"<guid isPermaLink='false'>{guid}</guid>" if guid else ""
    return (
        f"<item><title>{title}</title><link>{link}</link>{guid_xml}"
        f"<description>{description}</description></item>"
    )


def _rss(items: list[str], *, prolog: str = "", title: str = "Hostile feed") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{prolog}'
        f'<rss version="2.0"><channel><title>{title}</title><link>http://hostile.test/</link>'
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def wide_entity_feed(base: str, *, entity_bytes: int = 50_000, references: int = 50_000) -> bytes:
    """One entity of `entity_bytes` referenced `references` times: 2.5 GB if expanded."""
    prolog = f'<!DOCTYPE rss [\n<!ENTITY a "{"A" * entity_bytes}">\n]>\n'
    items = [
        _item("Wide entity", f"{base}/wide/1", description="&a;" * references),
        _item("Entity in the title &a;&a;&a;", f"{base}/wide/2", description="plain"),
    ]
    return _rss(items, prolog=prolog, title="Entities &a;")


def nested_entity_feed(base: str, *, levels: int = 10, fan_out: int = 10) -> bytes:
    """The classic "billion laughs": each level references the one below `fan_out` times."""
    lines = ['<!ENTITY lol0 "lol">']
    for level in range(1, levels):
        lines.append(f'<!ENTITY lol{level} "{f"&lol{level - 1};" * fan_out}">')
    prolog = "<!DOCTYPE rss [\n" + "\n".join(lines) + "\n]>\n"
    top = f"&lol{levels - 1};"
    return _rss([_item(f"Laughs {top}", f"{base}/laughs/1", description=top)], prolog=prolog)


def control_character_feed(base: str) -> bytes:
    """NUL, ESC, U+FFFE, U+FFFF, a lone C1 control and a right-to-left override in every field."""
    nasty = "\x00\x1b[31m\ufffe\uffff\x85"
    items = [
        _item(
            f"Cobalt{nasty} price \u202eslips\u202c",
            f"{base}/ctl/1",
            guid=f"ctl-1{nasty}",
            description=f"Miners{nasty} report {escape('<b>')}lower{escape('</b>')} output.",
        ),
        _item("Nickel steady", f"{base}/ctl/2", description="No change\x00 today."),
    ]
    # Written as raw UTF-8 (NUL included): a feed parser meets them as a server sends them.
    return _rss(items, title=f"Controls{nasty}")


def invalid_utf8_feed(base: str) -> bytes:
    """UTF-8 with a few invalid bytes among real non-ASCII text."""
    good = _rss(
        [
            _item(
                "Zürich rare\u2011earth talks",
                f"{base}/utf/1",
                description="Zürich BROKEN rare\u2011earth",
            )
        ]
    )
    return good.replace(b"BROKEN", b"\xff\xfe\xc3(")


def overlong_fields_feed(base: str, *, good: int = 3) -> bytes:
    """Good entries around one with a 2,040-character link, a 1,000-character title and GUID."""
    items = [_item(f"Good story {n}", f"{base}/good/{n}") for n in range(good)]
    long_link = f"{base}/long/" + "x" * (2040 - len(base) - len("/long/"))
    items.insert(
        1, _item("T" * 1000, long_link, guid="G" * 1000, description="An entry that is too long.")
    )
    items.append(_item("Long title and GUID", f"{base}/good/long", guid="g" * 2500))
    items[-1] = items[-1].replace("Long title and GUID", "Long title " + "t" * 900)
    return _rss(items, title="Long fields")


def huge_text_feed(base: str, *, megabytes: int = 9) -> bytes:
    """One description of `megabytes` MB of escaped HTML, then a NUL so the lenient parser runs."""
    run = "&lt;b&gt;x&lt;/b&gt; " * (megabytes * 1024 * 1024 // 21)
    return _rss([_item("Huge", f"{base}/huge/1", description=run)]) + b"\x00"


def tag_flood_feed(base: str, *, tags: int = 1_000_000) -> bytes:
    """A description holding a million tiny real tags (minutes of pure-Python parsing)."""
    return _rss([_item("Flood", f"{base}/flood/1", description="<b>x</b>" * (tags // 2))])
