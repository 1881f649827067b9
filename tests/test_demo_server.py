"""The bundled demo publishers: the server's HTTP behaviour and the corpus's deliberate traps."""

from __future__ import annotations

import http.client
import io
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import feedparser
import lxml.html
import pytest
from protego import Protego

from articles.demo import (
    ARTICLE_COUNT,
    MISSING_PATHS,
    SHARED_PATHS,
    SITE_ROOT,
    STORY_PATHS,
    STUB_PATHS,
    TRACKED_PATHS,
    DemoSite,
)

ARTICLE_PAGES = sorted(
    "/" + page.relative_to(SITE_ROOT).as_posix()
    for page in SITE_ROOT.glob("*/articles/*.html")
    if "/" + page.relative_to(SITE_ROOT).as_posix() not in STUB_PATHS
)
TEXT_FILES = sorted(
    "/" + path.relative_to(SITE_ROOT).as_posix()
    for path in SITE_ROOT.rglob("*")
    if path.suffix in {".html", ".xml", ".txt", ".svg", ".css"}
)
ALL_TITLES = [
    lxml.html.parse(str(SITE_ROOT / path.lstrip("/"))).xpath(
        "//meta[@property='og:title']/@content"
    )[0]
    for path in ARTICLE_PAGES
]
ISO_WITH_ZONE = re.compile(r"^2026-(10|11)-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")
HASHTAG_LINE = re.compile(r"#[A-Z]\w+(?: #[A-Z]\w+)+")
CJK = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
# A direct opener: a proxy from the environment must never see loopback requests.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def site() -> Iterator[DemoSite]:
    with DemoSite() as running:
        yield running


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with OPENER.open(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


def raw_get(site: DemoSite, target: str, method: str = "GET") -> http.client.HTTPResponse:
    """Send ``target`` byte for byte, which urllib would normalise or reject."""
    host, port = urlsplit(site.base_url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request(method, target)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def parse_feed(site: DemoSite, url: str) -> feedparser.FeedParserDict:
    status, headers, body = fetch(url)
    assert status == 200
    return feedparser.parse(
        io.BytesIO(body),
        response_headers={"content-type": headers["Content-Type"], "content-location": url},
    )


def all_entries(site: DemoSite) -> list[feedparser.FeedParserDict]:
    return [entry for url in site.feed_urls() for entry in parse_feed(site, url).entries]


def page_tree(site: DemoSite, path: str) -> lxml.html.HtmlElement:
    status, _, body = fetch(site.base_url + path)
    assert status == 200
    return lxml.html.fromstring(body)


def meta(tree: lxml.html.HtmlElement, key: str) -> str:
    values = tree.xpath(f"//meta[@name='{key}' or @property='{key}']/@content")
    return values[0].strip() if values else ""


# ---------------------------------------------------------------- the server


def test_it_binds_a_free_loopback_port_and_lists_three_publishers(site: DemoSite) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", site.base_url)
    assert [urlsplit(url).path for url in site.feed_urls()] == [
        "/harbour-ledger/feed.xml",
        "/mineral-wire/feed.xml",
        "/pacific-desk/atom.xml",
    ]
    assert [urlsplit(url).path for url in site.home_urls()] == [
        "/harbour-ledger/",
        "/mineral-wire/",
        "/pacific-desk/",
    ]


def test_it_refuses_to_list_urls_before_it_starts() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        DemoSite().feed_urls()


def test_it_stops_listening_when_the_context_exits() -> None:
    with DemoSite() as running:
        url = running.feed_urls()[0]
        assert fetch(url)[0] == 200
    assert running.base_url == ""
    with pytest.raises(urllib.error.URLError):
        OPENER.open(url, timeout=5)


@pytest.mark.parametrize("path", TEXT_FILES)
def test_it_replaces_the_base_placeholder_in_every_text_file(site: DemoSite, path: str) -> None:
    status, _, body = fetch(site.base_url + path)
    assert status == 200
    assert b"{{BASE}}" not in body
    if b"{{BASE}}" in (SITE_ROOT / path.lstrip("/")).read_bytes():
        assert site.base_url.encode() + b"/" in body


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/harbour-ledger/feed.xml", "application/rss+xml; charset=utf-8"),
        ("/pacific-desk/atom.xml", "application/atom+xml; charset=utf-8"),
        ("/mineral-wire/articles/gallium-curbs.html", "text/html; charset=utf-8"),
        ("/robots.txt", "text/plain; charset=utf-8"),
    ],
)
def test_it_labels_each_file_with_its_type_and_charset(
    site: DemoSite, path: str, content_type: str
) -> None:
    assert fetch(site.base_url + path)[1]["Content-Type"] == content_type


def test_it_answers_304_when_the_etag_still_matches(site: DemoSite) -> None:
    url = site.feed_urls()[0]
    status, headers, body = fetch(url)
    etag = headers["ETag"]
    assert status == 200
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)

    status, again, empty = fetch(url, {"If-None-Match": etag})
    assert (status, empty, again["ETag"]) == (304, b"", etag)
    assert fetch(url, {"If-None-Match": f'"other", W/{etag}'})[0] == 304
    status, _, full = fetch(url, {"If-None-Match": '"other"'})
    assert (status, full) == (200, body)


def test_it_answers_304_when_nothing_changed_since_the_last_modified_date(site: DemoSite) -> None:
    url = site.feed_urls()[1]
    last_modified = fetch(url)[1]["Last-Modified"]
    assert last_modified.endswith(" GMT")
    assert fetch(url, {"If-Modified-Since": last_modified})[0] == 304
    assert fetch(url, {"If-Modified-Since": "Mon, 01 Jan 1990 00:00:00 GMT"})[0] == 200
    assert fetch(url, {"If-Modified-Since": "not a date"})[0] == 200


def test_it_lets_a_mismatched_etag_win_over_a_matching_date(site: DemoSite) -> None:
    url = site.feed_urls()[2]
    last_modified = fetch(url)[1]["Last-Modified"]
    headers = {"If-None-Match": '"stale"', "If-Modified-Since": last_modified}
    assert fetch(url, headers)[0] == 200


def test_it_serves_a_different_etag_to_a_server_on_another_port(site: DemoSite) -> None:
    # The ETag hashes the served bytes, and those carry the port.
    with DemoSite() as other:
        assert fetch(other.feed_urls()[0])[1]["ETag"] != fetch(site.feed_urls()[0])[1]["ETag"]


def test_it_answers_404_for_a_missing_file(site: DemoSite) -> None:
    status, headers, body = fetch(site.base_url + "/mineral-wire/articles/no-such-story.html")
    assert status == 404
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert b"Page not found" in body


def test_it_answers_head_with_the_get_headers_and_no_body(site: DemoSite) -> None:
    path = "/mineral-wire/articles/gallium-curbs.html"
    response = raw_get(site, path, method="HEAD")
    _, headers, body = fetch(site.base_url + path)
    assert response.status == 200
    assert response.getheader("Content-Length") == str(len(body))
    assert response.getheader("ETag") == headers["ETag"]


def test_it_redirects_a_directory_to_its_trailing_slash(site: DemoSite) -> None:
    response = raw_get(site, "/pacific-desk?ref=x")
    assert response.status == 301
    assert response.getheader("Location") == f"{site.base_url}/pacific-desk/?ref=x"


@pytest.mark.parametrize(
    "target",
    [
        "/../pyproject.toml",
        "/mineral-wire/../../server.py",
        "/%2e%2e/%2e%2e/pyproject.toml",
        "/mineral-wire/%2E%2E/%2E%2E/__init__.py",
        "/mineral-wire/..%2f..%2fserver.py",
        "/mineral-wire/articles/..\\..\\..\\server.py",
        "/.git/config",
    ],
)
def test_it_refuses_paths_that_climb_out_of_the_site(site: DemoSite, target: str) -> None:
    assert raw_get(site, target).status == 403


@pytest.mark.parametrize("target", ["//etc/passwd", "/%2Fetc%2Fpasswd", "http://evil/etc/passwd"])
def test_it_keeps_absolute_paths_inside_the_site(site: DemoSite, target: str) -> None:
    assert raw_get(site, target).status == 404


def test_it_refuses_a_symlink_that_points_outside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "site"
    root.mkdir()
    (root / "inside.txt").write_text("inside", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("secret", encoding="utf-8")
    (root / "leak.txt").symlink_to(tmp_path / "secret.txt")
    (root / "alias.txt").symlink_to(root / "inside.txt")
    with DemoSite(root=root) as running:
        assert raw_get(running, "/leak.txt").status == 403
        assert fetch(running.base_url + "/alias.txt")[2] == b"inside"


def test_it_logs_requests_through_logging_rather_than_stderr(
    site: DemoSite, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    with caplog.at_level(logging.DEBUG, logger="articles.demo.server"):
        fetch(site.base_url + "/robots.txt")
    assert any("GET /robots.txt" in record.getMessage() for record in caplog.records)
    assert "GET /robots.txt" not in capfd.readouterr().err


# ---------------------------------------------------------------- feeds and home pages


def test_every_home_page_advertises_its_feed_for_autodiscovery(site: DemoSite) -> None:
    hrefs = []
    for home in site.home_urls():
        tree = page_tree(site, urlsplit(home).path)
        links = tree.xpath(
            "//head/link[@rel='alternate']"
            "[@type='application/rss+xml' or @type='application/atom+xml']/@href"
        )
        assert len(links) == 1
        hrefs.append(links[0])
        assert urljoin(home, links[0]) in site.feed_urls()
    # One publisher uses a relative href, so discovery must resolve against the page URL.
    assert any(not href.startswith("http") for href in hrefs)


@pytest.mark.parametrize(
    ("index", "version"), [(0, "rss20"), (1, "rss20"), (2, "atom10")], ids=["hl", "mw", "pd"]
)
def test_every_feed_is_well_formed_for_feedparser(site: DemoSite, index: int, version: str) -> None:
    parsed = parse_feed(site, site.feed_urls()[index])
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == version
    assert len(parsed.entries) >= 4
    for entry in parsed.entries:
        assert entry.title
        assert entry.link.startswith(site.base_url + "/")
        assert entry.id
        assert entry.published_parsed[:2] in {(2026, 10), (2026, 11)}
        assert entry.tags


def test_the_feeds_describe_their_items_in_every_awkward_way(site: DemoSite) -> None:
    summaries = [entry.get("summary") for entry in all_entries(site)]
    assert None in summaries
    assert "Read more\u2026" in summaries
    real = [summary for summary in summaries if summary and summary != "Read more\u2026"]
    assert any(summary.endswith("\u2026") for summary in real)
    assert any("<p>" in summary and re.search(r"&\w+;|&#\d+;", summary) for summary in real)
    assert sum(not summary.endswith("\u2026") and "<" not in summary for summary in real) >= 5


def test_the_feeds_carry_the_deliberate_duplicate_tracking_and_error_links(
    site: DemoSite,
) -> None:
    links = [entry.link for entry in all_entries(site)]
    paths = [urlsplit(link).path for link in links]
    for path in SHARED_PATHS:
        assert paths.count(path) == 2
    for path in TRACKED_PATHS:
        [tracked] = [link for link in links if urlsplit(link).path == path]
        assert "utm_source=" in tracked
        assert "utm_medium=" in tracked
    for path in (*MISSING_PATHS, *STUB_PATHS):
        assert paths.count(path) == 1
    assert sorted(set(paths) - set(MISSING_PATHS) - set(STUB_PATHS)) == ARTICLE_PAGES


def test_every_feed_link_reaches_a_page_or_a_deliberate_trap(site: DemoSite) -> None:
    for entry in all_entries(site):
        status, headers, body = fetch(entry.link)
        path = urlsplit(entry.link).path
        if path in MISSING_PATHS:
            assert status == 404, path
        elif path in STUB_PATHS:
            assert status == 200
            text = lxml.html.fromstring(body).text_content()
            assert "This page has moved" in text
            assert len(text.split()) < 30
        else:
            assert status == 200, path
            assert headers["Content-Type"].startswith("text/html")


def test_robots_txt_allows_everything_but_the_private_folders(site: DemoSite) -> None:
    robots = Protego.parse(fetch(site.base_url + "/robots.txt")[2].decode())
    assert robots.can_fetch(site.base_url + ARTICLE_PAGES[0], "NewsdeskBot")
    assert not robots.can_fetch(site.base_url + "/mineral-wire/private/embargoed-draft.html", "*")


# ---------------------------------------------------------------- article pages


def test_the_corpus_holds_the_advertised_number_of_articles() -> None:
    assert len(ARTICLE_PAGES) == ARTICLE_COUNT
    assert {path.split("/")[1] for path in ARTICLE_PAGES} == {
        "harbour-ledger",
        "mineral-wire",
        "pacific-desk",
    }


@pytest.mark.parametrize("path", ARTICLE_PAGES)
def test_every_article_page_carries_full_metadata(site: DemoSite, path: str) -> None:
    tree = page_tree(site, path)
    assert tree.xpath("//link[@rel='canonical']/@href") == [site.base_url + path]
    assert tree.findtext(".//title").strip()
    for key in ("description", "keywords", "author", "og:title", "og:description", "og:image"):
        assert meta(tree, key), key
    assert ISO_WITH_ZONE.match(meta(tree, "article:published_time"))


@pytest.mark.parametrize("path", ARTICLE_PAGES)
def test_every_article_body_is_a_full_length_story(site: DemoSite, path: str) -> None:
    [body] = page_tree(site, path).xpath("//*[@itemprop='articleBody']")
    story = [
        paragraph.text_content()
        for paragraph in body.xpath("./p[not(@lang)]")
        if not paragraph.text_content().startswith(("#", "Read more at"))
    ]
    assert 350 <= sum(len(text.split()) for text in story) <= 900


@pytest.mark.parametrize("path", ARTICLE_PAGES)
def test_every_article_page_keeps_the_boilerplate_extraction_must_remove(
    site: DemoSite, path: str
) -> None:
    tree = page_tree(site, path)
    text = tree.text_content()
    [headline] = tree.xpath("//h1")
    assert len(headline.xpath("preceding::a")) >= 10, "navigation menu"
    for label in ("Share on X", "Share on Facebook", "Share on LinkedIn"):
        assert label in text
    assert tree.xpath("//a[starts-with(@href, 'mailto:')]"), "share by email"
    assert tree.xpath("//form[.//input[@type='email']]"), "newsletter sign-up"
    assert "cookies" in text.lower()
    assert tree.xpath("//footer")
    assert HASHTAG_LINE.search(text)
    assert f"Read more at: {site.base_url}/" in text
    assert "\u2011" in text
    assert "\u2019" in text
    disclaimers = tree.xpath("//*[starts-with(@lang, 'zh') or starts-with(@lang, 'ja')]")
    assert disclaimers
    assert CJK.search(disclaimers[0].text_content())
    assert_related_titles_are_printed_twice(tree)


def assert_related_titles_are_printed_twice(tree: lxml.html.HtmlElement) -> None:
    [heading] = tree.xpath("//*[self::h2 or self::h3][starts-with(normalize-space(.), 'Related')]")
    block = heading.getparent().text_content()
    titles = [title for title in ALL_TITLES if title in block]
    assert len(titles) >= 2
    assert all(block.count(title) == 2 for title in titles)


# ---------------------------------------------------------------- one event, two publishers


def test_two_publishers_retell_one_event_and_the_clusterer_groups_only_them() -> None:
    """The demo's multi-source story: the pure clusterer (the code assignment runs) puts the two
    tellings together and every other demo article in a story of its own."""
    from datetime import datetime

    from stories.clustering import StoryItem, cluster

    items = []
    for path in ARTICLE_PAGES:
        tree = lxml.html.parse(str(SITE_ROOT / path.lstrip("/")))
        body = tree.xpath("//*[@itemprop='articleBody']//p")
        items.append(
            StoryItem(
                key=path,
                title=meta(tree, "og:title"),
                summary=meta(tree, "description"),
                text="\n\n".join(p.text_content() for p in body),
                source=path.split("/")[1],
                published=datetime.fromisoformat(meta(tree, "article:published_time")),
            )
        )
    items.sort(key=lambda item: item.published)
    labels = dict(zip((item.key for item in items), cluster(items), strict=True))
    told = {labels[path] for path in STORY_PATHS}
    assert len(told) == 1
    assert {path.split("/")[1] for path in STORY_PATHS} == {"mineral-wire", "pacific-desk"}
    others = [label for path, label in labels.items() if path not in STORY_PATHS]
    assert len(set(others)) == len(others) and not told & set(others)
