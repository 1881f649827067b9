"""robots.txt rules: pure parsing, plus loading through the safe client from a loopback server."""

from __future__ import annotations

from functools import partial

import pytest
from pytest_httpserver import HTTPServer

from articles.http import FetchPolicy, FetchTimeoutError, Response, fetch, parse_allowed_hosts
from articles.robots import (
    ROBOTS_MAX_BYTES,
    RobotsRules,
    crawl_delay,
    is_allowed,
    load_robots,
    robots_url,
)

UA = "Newsdesk/0.1 (news aggregator)"

ROBOTS = b"""\
# Everyone else stays out of the archive.
User-agent: *
Disallow: /archive/
Crawl-delay: 10

User-agent: newsdesk
Disallow: /drafts/
Allow: /drafts/published/
Crawl-delay: 2.5

Sitemap: https://paper.example/sitemap.xml
"""


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://paper.example/world/story?id=3#top", "https://paper.example/robots.txt"),
        ("http://Paper.Example:8080/a", "http://paper.example:8080/robots.txt"),
        ("https://paper.example:443/a", "https://paper.example/robots.txt"),
        ("http://editor:secret@paper.example/a", "http://paper.example/robots.txt"),
        ("http://[2001:db8::1]:81/a", "http://[2001:db8::1]:81/robots.txt"),
    ],
)
def test_it_finds_the_robots_url_for_a_page(url: str, expected: str) -> None:
    assert robots_url(url) == expected


def test_it_has_no_robots_url_for_other_schemes() -> None:
    with pytest.raises(ValueError, match="not an http or https URL"):
        robots_url("ftp://paper.example/feed.xml")


def test_it_applies_the_group_naming_our_product_token() -> None:
    assert is_allowed(ROBOTS, "https://paper.example/archive/2019/", UA)
    assert not is_allowed(ROBOTS, "https://paper.example/drafts/next", UA)
    assert is_allowed(ROBOTS, "https://paper.example/drafts/published/one", UA)
    assert is_allowed(ROBOTS, "https://paper.example/world/", UA)


def test_it_falls_back_to_the_star_group_for_other_agents() -> None:
    assert not is_allowed(ROBOTS, "https://paper.example/archive/2019/", "OtherBot/1.0")
    assert is_allowed(ROBOTS, "https://paper.example/drafts/next", "OtherBot/1.0")


def test_it_allows_everything_without_a_robots_file() -> None:
    assert is_allowed(None, "https://paper.example/anything", UA)
    assert is_allowed(b"", "https://paper.example/anything", UA)
    assert crawl_delay(None, UA) is None


def test_it_always_allows_robots_txt_itself() -> None:
    assert is_allowed(b"User-agent: *\nDisallow: /\n", "https://paper.example/robots.txt", UA)


def test_it_survives_a_body_that_is_not_text() -> None:
    garbage = bytes(range(256)) * 50
    assert is_allowed(garbage, "https://paper.example/a", UA)
    assert crawl_delay(garbage, UA) is None


def test_it_reads_a_utf8_file_with_a_byte_order_mark() -> None:
    body = "\ufeffUser-agent: *\nDisallow: /privé/\n".encode()
    assert not is_allowed(body, "https://paper.example/priv%C3%A9/x", UA)


def test_it_ignores_rules_past_the_size_it_reads() -> None:
    padding = b"# " + b"x" * ROBOTS_MAX_BYTES + b"\n"
    assert is_allowed(padding + b"User-agent: *\nDisallow: /\n", "https://paper.example/a", UA)


def test_it_reads_the_crawl_delay_for_our_agent_and_others() -> None:
    assert crawl_delay(ROBOTS, UA) == 2.5
    assert crawl_delay(ROBOTS, "OtherBot/1.0") == 10.0
    assert crawl_delay(b"User-agent: *\nDisallow: /x\n", UA) is None


def test_it_turns_a_request_rate_into_a_delay() -> None:
    assert crawl_delay(b"User-agent: *\nRequest-rate: 1/5\n", UA) == 5.0


@pytest.mark.parametrize("value", ["-3", "soon", "inf", "nan"])
def test_it_ignores_a_crawl_delay_that_is_not_a_usable_number(value: str) -> None:
    assert crawl_delay(f"User-agent: *\nCrawl-delay: {value}\n".encode(), UA) is None


def test_unreachable_rules_disallow_everything() -> None:
    rules = RobotsRules(unreachable=True)
    assert not rules.allows("https://paper.example/world/", UA)
    assert rules.crawl_delay(UA) is None
    assert RobotsRules().allows("https://paper.example/world/", UA)


# Loading through the real client from a loopback server.


@pytest.fixture
def fetcher(httpserver_ipv4: HTTPServer) -> partial[Response]:
    allowed = parse_allowed_hosts([f"127.0.0.1:{httpserver_ipv4.port}"])
    policy = FetchPolicy(allow_hosts=allowed, connect_timeout=2, read_timeout=2, total_timeout=10)
    return partial(fetch, policy=policy)


def test_it_loads_and_applies_a_robots_file(
    httpserver_ipv4: HTTPServer, fetcher: partial[Response]
) -> None:
    httpserver_ipv4.expect_request("/robots.txt").respond_with_data(
        ROBOTS, content_type="text/plain"
    )
    rules = load_robots(httpserver_ipv4.url_for("/drafts/next"), fetcher)
    assert rules == RobotsRules(body=ROBOTS)
    assert not rules.allows(httpserver_ipv4.url_for("/drafts/next"), UA)
    assert rules.crawl_delay(UA) == 2.5


def test_it_follows_a_redirected_robots_file(
    httpserver_ipv4: HTTPServer, fetcher: partial[Response]
) -> None:
    httpserver_ipv4.expect_request("/robots.txt").respond_with_data(
        b"", status=301, headers={"Location": "/static/robots.txt"}
    )
    httpserver_ipv4.expect_request("/static/robots.txt").respond_with_data(
        b"User-agent: *\nDisallow: /\n"
    )
    rules = load_robots(httpserver_ipv4.url_for("/a"), fetcher)
    assert not rules.allows(httpserver_ipv4.url_for("/a"), UA)


@pytest.mark.parametrize("status", [404, 410, 403])
def test_it_allows_everything_when_robots_is_missing(
    httpserver_ipv4: HTTPServer, fetcher: partial[Response], status: int
) -> None:
    httpserver_ipv4.expect_request("/robots.txt").respond_with_data(b"gone", status=status)
    rules = load_robots(httpserver_ipv4.url_for("/a"), fetcher)
    assert rules == RobotsRules()
    assert rules.allows(httpserver_ipv4.url_for("/a"), UA)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_it_disallows_everything_when_robots_is_unreachable(
    httpserver_ipv4: HTTPServer, fetcher: partial[Response], status: int
) -> None:
    httpserver_ipv4.expect_request("/robots.txt").respond_with_data(b"oops", status=status)
    rules = load_robots(httpserver_ipv4.url_for("/a"), fetcher)
    assert rules == RobotsRules(unreachable=True)
    assert not rules.allows(httpserver_ipv4.url_for("/a"), UA)


def test_it_treats_a_timeout_as_unreachable() -> None:
    def timing_out(url: str) -> Response:
        raise FetchTimeoutError(url, "gave up")

    assert load_robots("https://paper.example/a", timing_out) == RobotsRules(unreachable=True)
