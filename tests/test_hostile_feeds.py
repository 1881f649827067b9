"""Hostile feed documents at the parsing boundary: entity expansion, controls, broken UTF-8."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from articles.feeds import (
    MAX_URL_CHARS,
    FeedParseError,
    clip_long_texts,
    parse_feed,
    strip_internal_dtd,
)
from articles.textclean import clean_text, repair_utf8
from bench.hostile import (
    control_character_feed,
    invalid_utf8_feed,
    overlong_fields_feed,
    tag_flood_feed,
    wide_entity_feed,
)

ROOT = Path(__file__).resolve().parents[1]
BASE = "http://hostile.test"
PARSE_LIMIT_MB = 150  # well under the worker's 400 MB: the parse must not grow with expansions

_MEASURE = """
import json, re, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from bench import hostile
from articles.feeds import parse_feed
body = getattr(hostile, sys.argv[2])("http://hostile.test")
feed = parse_feed(body, url="http://hostile.test/feed.xml")
print(json.dumps({
    # VmHWM, not ru_maxrss: the latter keeps the forking pytest process's peak across exec.
    "peak_mb": int(re.search(r"VmHWM:\\s+(\\d+)", Path("/proc/self/status").read_text())[1]) / 1024,
    "titles": [e.title for e in feed.entries],
    "longest_summary": max((len(e.summary) for e in feed.entries), default=0),
    "warning": feed.warning,
}))
"""


@pytest.mark.parametrize("maker", ["wide_entity_feed", "nested_entity_feed", "huge_text_feed"])
def test_hostile_feeds_parse_in_bounded_memory(maker: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(ROOT), maker],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout)
    assert result["peak_mb"] < PARSE_LIMIT_MB, result["peak_mb"]
    if "entity" in maker:
        assert "entity declarations ignored (entities left unexpanded)" in result["warning"]
    else:
        assert "1 over-long text runs clipped to 256 KB" in result["warning"]
    assert result["titles"]  # a sane result: the entries are there, their entities literal
    assert result["longest_summary"] <= 20_000


def test_entities_stay_literal_text() -> None:
    feed = parse_feed(wide_entity_feed(BASE, entity_bytes=100, references=3), url=BASE)
    assert feed.title == "Entities &a;"
    assert "A" * 100 not in feed.entries[0].summary


def test_the_doctype_keeps_its_name_and_loses_its_internal_subset() -> None:
    body = b'<?xml version="1.0"?>\n<!DOCTYPE rss SYSTEM "x.dtd" [<!ENTITY b "]>">]><rss/>'
    stripped, warning = strip_internal_dtd(body)
    assert stripped == b'<?xml version="1.0"?>\n<!DOCTYPE rss SYSTEM "x.dtd"><rss/>'
    assert warning == "1 entity declarations ignored (entities left unexpanded)"
    assert strip_internal_dtd(b"<rss/>") == (b"<rss/>", "")


def test_an_unterminated_doctype_is_refused() -> None:
    with pytest.raises(FeedParseError, match="DOCTYPE declaration never ends"):
        parse_feed(b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "x">', url=BASE)


def test_entities_in_a_utf16_document_are_refused() -> None:
    body = '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE rss [<!ENTITY a "x">]><rss/>'
    with pytest.raises(FeedParseError, match="declares XML entities"):
        parse_feed(body.encode("utf-16"), url=BASE)


def test_control_characters_and_noncharacters_never_leave_the_parser() -> None:
    feed = parse_feed(control_character_feed(BASE), url=f"{BASE}/feed.xml")
    texts = [feed.title]
    for entry in feed.entries:
        texts += [entry.title, entry.summary, entry.summary_html, entry.guid, entry.author]
    for text in texts:
        assert clean_text(text) == text, repr(text)
        assert "\x00" not in text and "\x1b" not in text and "\ufffe" not in text
    assert feed.entries[0].title == "Cobalt[31m\u2026 price slips"
    assert feed.entries[1].summary == "No change today."


def test_bidi_overrides_are_removed_from_titles() -> None:
    assert clean_text("evil\u202etxt.exe\u2066x\u2069") == "eviltxt.exex"


def test_invalid_utf8_is_repaired_in_place_not_redecoded() -> None:
    feed = parse_feed(invalid_utf8_feed(BASE), url=f"{BASE}/feed.xml")
    entry = feed.entries[0]
    assert entry.title == "Zürich rare\u2011earth talks"
    assert entry.summary.startswith("Zürich \ufffd")
    assert entry.summary.endswith("rare\u2011earth")
    assert "Ã" not in entry.summary
    assert "invalid UTF-8 sequences replaced with U+FFFD" in feed.warning


def test_repair_leaves_other_declared_encodings_alone() -> None:
    latin = "Zürich".encode("cp1252")
    assert repair_utf8(latin, "windows-1252") == (latin, 0)
    assert repair_utf8(b"Z\xc3\xbcrich \xff", "utf-8") == ("Zürich \ufffd".encode(), 1)
    assert repair_utf8(b"Z\xfcrich", None) == (b"Z\xfcrich", 0)  # nothing valid: not UTF-8


def test_overlong_links_are_recorded_with_their_reason() -> None:
    feed = parse_feed(overlong_fields_feed(BASE), url=f"{BASE}/feed.xml")
    assert [e.title for e in feed.entries][:3] == ["Good story 0", "Good story 1", "Good story 2"]
    assert len(feed.rejected) == 1
    assert feed.rejected[0].reason == (
        f"link is 2040 characters long, over the {MAX_URL_CHARS} limit"
    )
    long_one = feed.entries[-1]
    assert len(long_one.title) == 500
    assert long_one.guid.startswith("sha256:")


def test_a_second_doctype_loses_its_entities_too() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE rss><!DOCTYPE rss [<!ENTITY a "AAAA">]>'
        b"<rss version='2.0'><channel><item><title>&a;</title><link>http://h.test/1</link>"
        b"</item></channel></rss>"
    )
    stripped, warning = strip_internal_dtd(body)
    assert b"ENTITY" not in stripped
    assert warning == "1 entity declarations ignored (entities left unexpanded)"
    assert "AAAA" not in parse_feed(body, url=BASE).entries[0].title


def test_a_flood_of_tags_is_refused_before_parsing() -> None:
    with pytest.raises(FeedParseError, match="tags, over the 400000 limit"):
        parse_feed(tag_flood_feed(BASE), url=BASE)


def test_long_text_runs_are_clipped_on_character_and_entity_boundaries() -> None:
    run = "é" * 200_000 + "&amp;" * 30_000
    body = f"<rss><x>{run}</x><y><![CDATA[{'<p>' * 100_000}]]></y></rss>".encode()
    clipped, count = clip_long_texts(body)
    assert count == 2
    clipped.decode("utf-8")  # no half character
    assert b"&amp</x>" not in clipped and b"&am</x>" not in clipped
    assert clipped.endswith(b"]]></y></rss>")
    assert len(clipped) < 2 * 256 * 1024 + 100
