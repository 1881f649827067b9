"""Every file of the shared feed corpus is either ingested sanely or rejected with a reason."""

from __future__ import annotations

import functools
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from articles.feeds import FeedParseError, ParsedFeed, parse_feed
from articles.sanitize import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, URL_SCHEMES

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "feeds"
MANIFEST = CORPUS / "MANIFEST.tsv"


def corpus_files() -> list[str]:
    if not MANIFEST.exists():
        return []
    rows = MANIFEST.read_text(encoding="utf-8").splitlines()[1:]
    return [row.split("\t", 1)[0] for row in rows if row.strip()]


FILES = corpus_files()
pytestmark = pytest.mark.skipif(not FILES, reason=f"feed corpus not found at {CORPUS}")

HOSTILE = [
    "danmactough-node-feedparser/test/feeds/notafeed.html",
    "feed-rs-feed-rs/feed-rs/fixture/xml/xml_sample_1.xml",
    "feed-rs-feed-rs/feed-rs/fixture/xml/xml_sample_2.xml",
    "feed-rs-feed-rs/feed-rs/fixture/xml/xml_iso8859.xml",
    "feed-rs-feed-rs/feed-rs/fixture/rss2/rss_2.0_invalid_1.xml",
    "kurtmckee-feedparser/tests/illformed/rss_empty_document.xml",
]
GOOD = {
    "danmactough-node-feedparser/test/feeds/rss2sample.xml": 4,
    "danmactough-node-feedparser/test/feeds/compressed.xml": 1,
    "danmactough-node-feedparser/test/feeds/invalid-characters-gzipped.xml": 1,
    "danmactough-node-feedparser/test/feeds/intertwingly.atom": 1,
    "kurtmckee-feedparser/tests/json/example.json": 2,
    "feed-rs-feed-rs/feed-rs/fixture/jsonfeed/jsonfeed_spec_1.json": 1,
}


@functools.cache
def outcome(relpath: str) -> ParsedFeed | FeedParseError:
    try:
        return parse_feed((CORPUS / relpath).read_bytes(), url=f"http://feeds.test/{relpath}")
    except FeedParseError as exc:
        return exc


class _MarkupAudit(HTMLParser):
    """Collects every tag, attribute and link target left in sanitized HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            allowed = ALLOWED_ATTRIBUTES["*"] | ALLOWED_ATTRIBUTES.get(tag, set()) | {"rel"}
            if name not in allowed:
                self.problems.append(f"attribute {name} on <{tag}>")
            if name == "href" and urlsplit(value or "").scheme not in URL_SCHEMES:
                self.problems.append(f"href {value!r}")

    handle_startendtag = handle_starttag


def audit_markup(html: str) -> list[str]:
    audit = _MarkupAudit()
    audit.feed(html)
    audit.close()
    return audit.problems


@pytest.mark.parametrize("relpath", FILES, ids=FILES)
def test_it_ingests_or_rejects_each_corpus_file(relpath: str) -> None:
    result = outcome(relpath)
    if isinstance(result, FeedParseError):
        assert result.reason.strip()
        return
    assert isinstance(result.title, str)
    assert result.site_url == "" or result.site_url.startswith(("http://", "https://"))
    for entry in result.entries:
        assert isinstance(entry.title, str)
        assert entry.guid
        assert entry.link == "" or urlsplit(entry.link).scheme in ("http", "https")
        assert entry.published is None or (
            isinstance(entry.published, datetime) and entry.published.utcoffset() is not None
        )
        assert len(entry.title) <= 500
        assert audit_markup(entry.summary_html) == []
        assert "<script" not in entry.summary_html.lower()


def test_it_summarises_the_corpus() -> None:
    results = {relpath: outcome(relpath) for relpath in FILES}
    rejected = {p: r.reason for p, r in results.items() if isinstance(r, FeedParseError)}
    ingested = {p: r for p, r in results.items() if isinstance(r, ParsedFeed)}
    entries = sum(len(feed.entries) for feed in ingested.values())
    print(f"\n{len(ingested)} ingested ({entries} entries), {len(rejected)} rejected")
    for relpath, reason in sorted(rejected.items()):
        print(f"  rejected {relpath}: {reason}")
    for relpath in HOSTILE:
        assert relpath in rejected, f"{relpath} should have been rejected"
    for relpath, at_least in GOOD.items():
        assert relpath in ingested, f"{relpath} rejected: {rejected.get(relpath)}"
        assert len(ingested[relpath].entries) >= at_least
    # Nearly all of this corpus is usable; a jump in rejections means a regression.
    assert len(ingested) >= 280
    assert rejected["danmactough-node-feedparser/test/feeds/notafeed.html"] == (
        "not a feed: the document is an HTML page"
    )
