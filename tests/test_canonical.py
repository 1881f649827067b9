"""Canonical URLs: one spelling per story."""

import pytest

from articles.canonical import canonical_url, choose_canonical


def test_it_strips_tracking_parameters_and_sorts_the_rest() -> None:
    url = (
        "https://example.com/story?utm_source=rss&b=2&fbclid=x&gclid=y&dclid=z&msclkid=m"
        "&mc_cid=1&mc_eid=2&igshid=3&_ga=4&ref_src=twsrc&a=1"
    )
    assert canonical_url(url) == "https://example.com/story?a=1&b=2"


def test_it_drops_the_fragment_and_default_ports() -> None:
    assert canonical_url("http://example.com:80/a#top") == "http://example.com/a"
    assert canonical_url("https://example.com:443/a#x") == "https://example.com/a"
    assert canonical_url("https://example.com:8443/a") == "https://example.com:8443/a"


def test_it_lowercases_scheme_and_host_but_keeps_path_case() -> None:
    assert canonical_url("HTTPS://News.Example.COM/World/Story-A") == (
        "https://news.example.com/World/Story-A"
    )


def test_it_keeps_the_trailing_slash_as_given() -> None:
    assert canonical_url("https://example.com/a/") == "https://example.com/a/"
    assert canonical_url("https://example.com/a") == "https://example.com/a"


def test_it_encodes_international_hosts_as_idna() -> None:
    assert canonical_url("https://bücher.example/Seite") == "https://xn--bcher-kva.example/Seite"


def test_it_returns_a_malformed_url_unchanged_instead_of_raising() -> None:
    assert canonical_url("http://[::1") == "http://[::1"


def test_it_is_idempotent() -> None:
    once = canonical_url("HTTP://Example.com:80/x/?z=1&utm_medium=a&a=2#f")
    assert canonical_url(once) == once


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ("https://www.example.com/news/story-1", "https://www.example.com/news/story-1"),
        ("https://example.com/news/story-1?utm_source=x", "https://example.com/news/story-1"),
        ("https://m.example.com/news/story-1", "https://m.example.com/news/story-1"),
        ("/news/story-1", "https://www.example.com/news/story-1"),
    ],
)
def test_it_honours_a_same_site_canonical(declared: str, expected: str) -> None:
    page = "https://www.example.com/news/story-1?page=2&utm_source=feed"
    assert choose_canonical(page, declared) == expected


@pytest.mark.parametrize(
    "declared",
    [
        None,
        "",
        "https://other.example.org/news/story-1",
        "ftp://www.example.com/news/story-1",
        "javascript:alert(1)",
        "https://www.example.com/",
        "http://[::1",
    ],
)
def test_it_ignores_a_foreign_or_useless_canonical(declared: str | None) -> None:
    page = "https://www.example.com/news/story-1?utm_source=feed"
    assert choose_canonical(page, declared) == "https://www.example.com/news/story-1"
