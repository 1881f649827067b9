import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from articles.feeds import (
    MAX_SUMMARY_HTML_CHARS,
    MAX_TITLE_CHARS,
    FeedEntry,
    FeedParseError,
    ParsedFeed,
    discover_feeds,
    looks_like_feed,
    parse_feed,
    safe_http_url,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "feeds"
FEED_URL = "https://feeds.example/gazette/rss.xml"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def by_title(feed: ParsedFeed) -> dict[str, FeedEntry]:
    return {entry.title: entry for entry in feed.entries}


def rss(items: str, *, channel_link: str = "") -> bytes:
    link = f"<link>{channel_link}</link>" if channel_link else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>T</title>{link}{items}</channel></rss>"
    ).encode()


# --- RSS 2.0 -------------------------------------------------------------------------------------


def test_it_reads_an_rss_feed() -> None:
    feed = parse_feed(fixture("rss20.xml"), url=FEED_URL)
    assert feed.version == "rss20"
    assert feed.title == "Harbour Gazette & Friends"
    assert feed.site_url == "https://gazette.example/"
    assert feed.warning.startswith("2 entries not taken")
    first = feed.entries[0]
    assert first.guid == "gazette-1001"
    assert first.author == "Ines Marlow"
    assert first.published == datetime(2024, 5, 14, 6, 30, tzinfo=UTC)


def test_it_resolves_relative_entry_links_against_the_feeds_site_link() -> None:
    entries = by_title(parse_feed(fixture("rss20.xml"), url=FEED_URL))
    assert (
        entries["Cranes return to the north quay"].link == "https://gazette.example/2024/05/cranes"
    )
    assert entries["Dredging scheduled"].link == "https://gazette.example/dredging.html"


def test_it_resolves_relative_entry_links_against_the_feed_url_without_a_site_link() -> None:
    feed = parse_feed(rss("<item><title>a</title><link>../posts/1</link></item>"), url=FEED_URL)
    assert feed.site_url == ""
    assert feed.entries[0].link == "https://feeds.example/posts/1"


def test_it_decodes_html_in_titles() -> None:
    titles = [entry.title for entry in parse_feed(fixture("rss20.xml"), url=FEED_URL).entries]
    assert "Cranes return to the north quay" in titles


def test_it_keeps_only_the_first_entry_of_a_duplicated_guid() -> None:
    feed = parse_feed(fixture("rss20.xml"), url=FEED_URL)
    same = [entry for entry in feed.entries if entry.guid == "gazette-1002"]
    assert len(same) == 1
    assert same[0].title == "Ferry timetable changes"


def rejected_by_title(feed):
    return {entry.title: entry for entry in feed.rejected}


def test_it_records_entries_without_a_link_with_a_stable_guid_and_a_reason() -> None:
    title = "Notice without a link or a date"
    entry = rejected_by_title(parse_feed(fixture("rss20.xml"), url=FEED_URL))[title]
    again = rejected_by_title(parse_feed(fixture("rss20.xml"), url=FEED_URL))[title]
    assert entry.reason == "the entry has no link"
    assert entry.guid.startswith("sha256:")
    assert entry.guid == again.guid


def test_it_uses_the_link_as_guid_when_there_is_no_id() -> None:
    entry = by_title(parse_feed(fixture("rss20.xml"), url=FEED_URL))["Dredging scheduled"]
    assert entry.guid == entry.link


def test_it_drops_dates_in_the_future_or_before_1990() -> None:
    entries = by_title(parse_feed(fixture("rss20.xml"), url=FEED_URL))
    assert entries["Dredging scheduled"].published is None


def test_it_tolerates_dates_up_to_two_days_ahead() -> None:
    now = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
    body = rss(
        "<item><title>soon</title><guid>1</guid>"
        "<pubDate>Sat, 11 May 2024 12:00:00 GMT</pubDate></item>"
        "<item><title>late</title><guid>2</guid>"
        "<pubDate>Tue, 14 May 2024 12:00:00 GMT</pubDate></item>"
    )
    entries = by_title(parse_feed(body, url=FEED_URL, now=now))
    assert entries["soon"].published == now + timedelta(days=1)
    assert entries["late"].published is None


def test_it_refuses_links_that_are_not_http_and_says_so() -> None:
    rejected = rejected_by_title(parse_feed(fixture("rss20.xml"), url=FEED_URL))
    assert rejected["Old archive scan"].reason == "link is not a usable http(s) URL"
    body = rss("<item><title>x</title><link>javascript:alert(1)</link></item>")
    feed = parse_feed(body, url=FEED_URL)
    assert feed.entries == ()
    assert feed.rejected[0].link == "javascript:alert(1)"
    assert "1 entries not taken (x: link is not a usable http(s) URL)" in feed.warning


def test_it_deduplicates_categories_ignoring_case() -> None:
    entry = parse_feed(fixture("rss20.xml"), url=FEED_URL).entries[0]
    assert entry.categories == ("Ports", "Logistics")


def test_it_sanitizes_hostile_summaries() -> None:
    entry = parse_feed(fixture("rss20.xml"), url=FEED_URL).entries[0]
    for hostile in ("<script", "alert", "onclick", "onerror", "javascript:", "<iframe", "<img"):
        assert hostile not in entry.summary_html
    assert (
        '<a href="https://gazette.example/2024/05/cranes#photos" rel="nofollow noopener">'
        in entry.summary_html
    )
    assert entry.summary == "Two new cranes arrived.\nPhotos"


def test_it_decodes_an_html_title_only_once() -> None:
    body = (
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><entry><id>1</id>'
        b'<title type="html">Use &amp;lt;b&amp;gt; for &lt;em&gt;bold&lt;/em&gt;</title>'
        b"</entry></feed>"
    )
    assert parse_feed(body, url=FEED_URL).entries[0].title == "Use <b> for bold"


def test_it_escapes_plain_text_summaries() -> None:
    body = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        b'<entry><id>1</id><title>x</title><summary type="text">a &lt;b&gt; tag</summary>'
        b"</entry></feed>"
    )
    entry = parse_feed(body, url=FEED_URL).entries[0]
    assert entry.summary_html == "a &lt;b&gt; tag"
    assert entry.summary == "a <b> tag"


def test_it_caps_huge_titles_and_summaries() -> None:
    body = rss(
        f"<item><guid>1</guid><title>{'word ' * 400}</title>"
        f"<description>{'<p>para</p>' * 5000}</description></item>"
    )
    entry = parse_feed(body, url=FEED_URL).entries[0]
    assert len(entry.title) == MAX_TITLE_CHARS
    assert len(entry.summary_html) <= MAX_SUMMARY_HTML_CHARS


def test_it_hashes_overlong_guids() -> None:
    entry = parse_feed(
        rss(f"<item><title>x</title><link>/x</link><guid>{'g' * 3000}</guid></item>"), url=FEED_URL
    )
    assert entry.entries[0].guid.startswith("sha256:")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../x", "https://base.example/x"),
        ("//cdn.example/y", "https://cdn.example/y"),
        ("  /a b ", "https://base.example/a%20b"),
        ("javascript:alert(1)", ""),
        ("java\nscript:alert(1)", ""),
        ("data:text/html,x", ""),
        ("mailto:a@b.example", ""),
        ("ftp://files.example/f", ""),
        ("http://[::1", ""),
        ("https://bad>host.example/", ""),
        ("https://" + "a" * 3000 + ".example/", ""),
        ("", ""),
    ],
)
def test_it_only_lets_http_urls_through(raw: str, expected: str) -> None:
    assert safe_http_url(raw, "https://base.example/dir/page") == expected


# --- Atom and RSS 1.0 ----------------------------------------------------------------------------


def test_it_reads_an_atom_feed_with_xml_base() -> None:
    feed = parse_feed(fixture("atom10.xml"), url=FEED_URL)
    assert feed.version == "atom10"
    assert feed.title == "Field Notes"
    assert feed.site_url == "https://blog.example/"
    marsh, birds = feed.entries
    assert marsh.link == "https://blog.example/notes/2024/salt-marsh"
    assert 'href="https://blog.example/notes/data.csv"' in marsh.summary_html
    assert "object" not in marsh.summary_html
    assert marsh.title == "Salt marsh & tides"
    assert marsh.author == "Tomas Reyes"
    assert marsh.categories == ("Ecology", "Coast")
    assert birds.link == "https://mirror.example/archive/birds"


def test_it_prefers_published_over_updated_and_converts_to_utc() -> None:
    birds = parse_feed(fixture("atom10.xml"), url=FEED_URL).entries[1]
    assert birds.published == datetime(2024, 3, 20, 11, 15, tzinfo=UTC)
    assert birds.title == "Spring \u2013 migration"
    assert birds.summary == "Geese over the estuary."


def test_it_reads_an_rss_1_feed() -> None:
    feed = parse_feed(fixture("rss10.xml"), url=FEED_URL)
    assert feed.version == "rss10"
    (entry,) = feed.entries
    assert entry.link == "https://library.example/books/42"
    assert entry.published == datetime(2024, 2, 10, 9, 0, tzinfo=UTC)
    assert entry.categories == ("History",)


def test_it_decodes_with_the_charset_it_is_given() -> None:
    title = "\u041f\u0440\u0438\u0432\u0435\u0442"
    body = (
        f'<rss version="2.0"><channel><item><title>{title}</title><link>/p</link>'
        "</item></channel></rss>"
    )
    raw = body.encode("koi8-r")
    feed = parse_feed(raw, url=FEED_URL, content_type="application/rss+xml", charset="koi8-r")
    assert feed.entries[0].title == title
    assert feed.warning == ""
    guessed = parse_feed(raw, url=FEED_URL)
    assert guessed.entries[0].title != title


# --- compression, rejection, warnings ------------------------------------------------------------


def test_it_reads_gzip_served_without_content_encoding() -> None:
    feed = parse_feed(gzip.compress(fixture("rss20.xml")), url=FEED_URL)
    assert feed.entries == parse_feed(fixture("rss20.xml"), url=FEED_URL).entries
    assert "compressed" in feed.warning


def test_it_refuses_a_gzip_bomb() -> None:
    bomb = gzip.compress(b"<rss>" + b" " * (25 * 1024 * 1024))
    with pytest.raises(FeedParseError, match="inflates beyond"):
        parse_feed(bomb, url=FEED_URL)


def test_it_refuses_truncated_gzip() -> None:
    with pytest.raises(FeedParseError, match=r"truncated|corrupt"):
        parse_feed(gzip.compress(fixture("rss20.xml"))[:200], url=FEED_URL)


@pytest.mark.parametrize("body", [b"", b"   \n\t ", b"<!-- only a comment -->"])
def test_it_rejects_empty_documents(body: bytes) -> None:
    with pytest.raises(FeedParseError, match="empty document"):
        parse_feed(body, url=FEED_URL)


def test_it_rejects_an_html_page() -> None:
    with pytest.raises(FeedParseError, match="HTML page") as caught:
        parse_feed(fixture("page.html"), url=FEED_URL)
    assert caught.value.reason == "not a feed: the document is an HTML page"


def test_it_rejects_xml_that_is_not_a_feed() -> None:
    body = b'<?xml version="1.0"?><catalog><item><title>book</title></item></catalog>'
    with pytest.raises(FeedParseError, match="root element is <catalog>"):
        parse_feed(body, url=FEED_URL)


def test_it_rejects_broken_xml_without_entries_naming_the_line() -> None:
    with pytest.raises(FeedParseError, match=r"not well-formed XML at line 3"):
        parse_feed(
            b'<?xml version="1.0"?>\n<rss version="2.0">\n<channel><title>a</tit', url=FEED_URL
        )


def test_it_keeps_the_entries_of_a_broken_feed_with_a_warning() -> None:
    body = rss(
        "<item><guid>1</guid><title>kept</title></item><item><title>x &nbsp; y</title></item>"
    )
    feed = parse_feed(body, url=FEED_URL)
    assert feed.entries[0].title == "kept"
    assert feed.warning.startswith("not well-formed XML")


def test_it_warns_when_the_declared_encoding_is_wrong() -> None:
    body = rss("<item><guid>1</guid><title>na\xefve</title></item>").replace(b"utf-8", b"us-ascii")
    feed = parse_feed(body, url=FEED_URL)
    assert feed.entries[0].title == "na\xefve"
    assert feed.warning.startswith("character encoding overridden")


def test_it_never_fetches_a_url_given_as_the_body(httpserver) -> None:
    httpserver.expect_request("/feed").respond_with_data(fixture("rss20.xml").decode())
    with pytest.raises(FeedParseError):
        parse_feed(httpserver.url_for("/feed").encode(), url=FEED_URL)
    assert httpserver.log == []


def test_it_never_reads_a_path_given_as_the_body() -> None:
    with pytest.raises(FeedParseError):
        parse_feed(str(FIXTURES / "rss20.xml").encode(), url=FEED_URL)


# --- JSON Feed -----------------------------------------------------------------------------------


def json_feed(**overrides: object) -> bytes:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Dock &amp; Yard",
        "home_page_url": "https://dock.example/",
        "items": [
            {
                "id": "7",
                "url": "/posts/7",
                "title": "Night shift",
                "content_html": "<p>Hi<script>x()</script></p>",
                "date_published": "2024-01-02T03:04:05+01:00",
                "authors": [{"name": "Ada"}],
                "tags": ["Shifts", "shifts"],
            }
        ],
    }
    document.update(overrides)
    return json.dumps(document).encode()


def test_it_reads_a_json_feed() -> None:
    feed = parse_feed(json_feed(), url=FEED_URL)
    assert (feed.version, feed.title, feed.site_url) == (
        "json11",
        "Dock & Yard",
        "https://dock.example/",
    )
    (entry,) = feed.entries
    assert entry.guid == "7"
    assert entry.link == "https://dock.example/posts/7"
    assert entry.summary_html == "<p>Hi</p>"
    assert entry.published == datetime(2024, 1, 2, 2, 4, 5, tzinfo=UTC)
    assert entry.author == "Ada"
    assert entry.categories == ("Shifts",)


def test_it_rejects_json_that_is_not_a_json_feed() -> None:
    with pytest.raises(FeedParseError, match="not a JSON Feed"):
        parse_feed(json_feed(version="2"), url=FEED_URL)
    with pytest.raises(FeedParseError, match="invalid JSON"):
        parse_feed(b'{"version": ', url=FEED_URL)
    with pytest.raises(FeedParseError, match="invalid JSON"):
        parse_feed(b"{" + b'"a":[' * 100_000, url=FEED_URL)


# --- discovery and sniffing ----------------------------------------------------------------------


def test_it_discovers_feeds_in_page_order_then_feed_looking_anchors() -> None:
    found = discover_feeds(fixture("page.html"), "https://gazette.example/news/")
    assert found == [
        "https://gazette.example/feed.xml",
        "https://gazette.example/atom",
        "https://gazette.example/news/feed.json",
        "https://gazette.example/comments/feed/",
        "https://gazette.example/podcast.rss",
    ]


def test_it_honours_the_base_element_when_discovering() -> None:
    page = (
        '<html><head><base href="https://cdn.example/site/">'
        '<link rel="alternate feed" type="application/atom+xml; charset=utf-8" href="atom.xml">'
        "</head></html>"
    )
    assert discover_feeds(page, "https://www.example/") == ["https://cdn.example/site/atom.xml"]


def test_it_discovers_nothing_on_a_page_without_feeds() -> None:
    assert (
        discover_feeds(b"<html><body><a href='/about'>x</a></body></html>", "https://a.example/")
        == []
    )


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (fixture("rss20.xml"), "text/xml", True),
        (fixture("atom10.xml"), None, True),
        (fixture("rss10.xml"), "application/rdf+xml", True),
        (gzip.compress(fixture("rss20.xml")), None, True),
        (fixture("rss20.xml").decode().encode("utf-16"), None, True),
        (b'{"version": "https://jsonfeed.org/version/1", "items": []}', "application/json", True),
        (fixture("page.html"), "text/html", False),
        (fixture("page.html"), "application/rss+xml", False),
        (b"<?xml version='1.0'?><catalog/>", "text/xml", False),
        (b'{"hello": "world"}', "application/json", False),
        (b"", "application/rss+xml", True),
        (b"garbage", "text/plain", False),
    ],
)
def test_it_sniffs_feeds_from_pages(body: bytes, content_type: str | None, expected: bool) -> None:
    assert looks_like_feed(body, content_type) is expected
