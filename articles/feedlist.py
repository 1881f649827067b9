"""Adding feeds: one URL (a feed, or a site page that names its feed), or an OPML list."""

from __future__ import annotations

from collections.abc import Iterable

from articles.feeds import FeedParseError, discover_feeds, looks_like_feed, parse_feed
from articles.fetching import polite_fetch
from articles.http import FetchError
from articles.ingest import FEED_ACCEPT
from articles.models import Feed
from articles.opml import OpmlFeed, build_opml, parse_opml
from articles.sources import source_for, source_for_site


class AddFeedError(Exception):
    """The URL is neither a feed nor a page that names one."""


def add_feed(url: str, *, title: str = "", tags=()) -> tuple[Feed, bool]:
    """Add a feed by its URL or by a site URL whose page names its feed (autodiscovery).

    Returns (feed, created). Fetches the URL once to tell which of the two it is.
    """
    existing = Feed.objects.filter(url=url).first()
    if existing is not None:
        return existing, False
    try:
        response = polite_fetch(url, accept=FEED_ACCEPT + ", text/html;q=0.8")
    except FetchError as exc:
        raise AddFeedError(f"could not fetch {url}: {exc.reason}") from exc
    feed_url, body = response.url, response.body
    if not looks_like_feed(body, response.content_type):
        found = discover_feeds(body, response.url)
        if not found:
            raise AddFeedError(f"{url} is not a feed and its page names no feed")
        feed_url = found[0]
        body = b""
    try:
        parsed = parse_feed(body, url=feed_url) if body else None
    except FeedParseError as exc:
        raise AddFeedError(f"{feed_url} is not a readable feed: {exc.reason}") from exc
    site_url = parsed.site_url if parsed else response.url
    feed, created = Feed.objects.get_or_create(
        url=feed_url,
        defaults={
            "title": (title or (parsed.title if parsed else ""))[:500],
            "site_url": (site_url or "")[:2000],
            "source": _source(site_url, feed_url, parsed.title if parsed else ""),
        },
    )
    if tags:
        feed.default_tags.add(*tags)
    return feed, created


def import_opml(body: bytes) -> tuple[list[Feed], int]:
    """Create a feed for each outline not already known. Returns (created, already known).

    Nothing is fetched: the first poll fills in what the OPML file left out.
    """
    created, known = [], 0
    for item in parse_opml(body):
        if not item.url.startswith(("http://", "https://")):
            continue
        feed, new = Feed.objects.get_or_create(
            url=item.url[:2000],
            defaults={
                "title": item.title[:500],
                "site_url": item.site_url[:2000],
                "source": _source(item.site_url, item.url, item.title),
            },
        )
        if new:
            created.append(feed)
        else:
            known += 1
    return created, known


def export_opml(feeds: Iterable[Feed]) -> bytes:
    return build_opml(
        (
            OpmlFeed(
                url=f.url,
                title=f.title,
                site_url=f.site_url,
                category=f.source.name if f.source else "",
            )
            for f in feeds
        ),
        title="Newsdesk feeds",
    )


def _source(site_url: str, feed_url: str, title: str):
    """The publisher behind a feed: its home page's site, else the feed's whole host."""
    if site_url:
        return source_for_site(site_url, title)
    return source_for(feed_url, title)
