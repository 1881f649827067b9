"""Atom and RSS out, per topic and for everything: valid, escaped, conditional."""

from __future__ import annotations

import io

import feedparser
import pytest
from django.urls import reverse

from tests.pages_fixtures import (
    HOSTILE_SUMMARY,
    HOSTILE_TITLE,
    link,
    make_article,
    make_many,
    make_source,
    make_tag,
)

pytestmark = pytest.mark.django_db


def parse(response) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(
        io.BytesIO(response.content),
        response_headers={"content-type": response["Content-Type"]},
    )
    assert not parsed.bozo, parsed.get("bozo_exception")
    return parsed


@pytest.mark.parametrize(
    ("route", "version"), [("tag_feed_atom", "atom10"), ("tag_feed_rss", "rss20")]
)
def test_a_topic_feed_is_valid_and_lists_its_articles_newest_first(
    client, settings, route, version
):
    settings.SITE_URL = "https://news.example.org"
    tag = make_tag("Feed topic")
    other = make_tag("Second topic")
    articles = make_many(tag, 3, source=make_source("Ore Weekly", "ore.example"))
    make_article("Not on this topic", tags=[other])
    link(articles[0], other)
    parsed = parse(client.get(reverse(route, args=[tag.slug])))
    assert parsed.version == version
    assert parsed.feed.title == "Newsdesk: Feed topic"
    assert parsed.feed.link == f"https://news.example.org/tags/{tag.slug}/"
    assert [e.title for e in parsed.entries] == [a.title for a in articles]
    first = parsed.entries[0]
    assert first.link == f"https://news.example.org/articles/{articles[0].pk}/"
    assert {t.term for t in first.tags} == {"Feed topic", "Second topic"}
    assert "Read more at" in first.summary


@pytest.mark.parametrize(("route", "version"), [("feed_atom", "atom10"), ("feed_rss", "rss20")])
def test_the_site_feed_lists_the_latest_visible_articles(client, route, version):
    shown = make_article("Visible everywhere")
    make_article("Hidden away", is_hidden=True)
    parsed = parse(client.get(reverse(route)))
    assert parsed.version == version
    titles = [e.title for e in parsed.entries]
    assert shown.title in titles
    assert "Hidden away" not in titles


@pytest.mark.parametrize("route", ["feed_atom", "feed_rss"])
def test_hostile_text_stays_text_in_feeds(client, route):
    make_article(HOSTILE_TITLE, summary=HOSTILE_SUMMARY, url="javascript:window.__pwned=1")
    response = client.get(reverse(route))
    parsed = parse(response)
    entry = parsed.entries[0]
    assert "<script" not in entry.summary and "<img" not in entry.summary
    assert "&lt;img src=x" in entry.summary
    assert "Read more at" not in entry.summary
    assert b"javascript:" not in response.content


def test_a_topic_feed_404s_for_unknown_tags_and_redirects_for_merged_ones(client):
    target = make_tag("Merge target")
    merged = make_tag("Merged away", merged_into=target)
    assert client.get(reverse("tag_feed_atom", args=["nope"])).status_code == 404
    response = client.get(reverse("tag_feed_rss", args=[merged.slug]))
    assert response.status_code == 301
    assert response["Location"] == reverse("tag_feed_rss", args=[target.slug])


@pytest.mark.parametrize("route", ["tag_feed_atom", "feed_rss"])
def test_feeds_answer_304_when_nothing_changed(client, route):
    tag = make_tag("Conditional")
    make_many(tag, 2)
    url = reverse(route, args=[tag.slug]) if route.startswith("tag") else reverse(route)
    first = client.get(url)
    assert client.get(url, headers={"if-none-match": first["ETag"]}).status_code == 304
    make_article("Brand new", tags=[tag])
    assert client.get(url, headers={"if-none-match": first["ETag"]}).status_code == 200


def test_pages_advertise_their_feeds(client):
    tag = make_tag("Advertised")
    html = client.get(reverse("tag", args=[tag.slug])).content.decode()
    assert (
        '<link rel="alternate" type="application/atom+xml" title="Advertised (Atom)" '
        f'href="/tags/{tag.slug}/feed/atom/">' in html
    )
    assert 'href="/feed/rss/"' in html
