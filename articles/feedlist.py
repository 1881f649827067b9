"""Adding feeds: one URL (a feed, or a site page that names its feed), or an OPML list."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from articles.canonical import canonical_url
from articles.feeds import FeedParseError, discover_feeds, looks_like_feed, parse_feed
from articles.fetching import policy, polite_fetch
from articles.http import BlockedAddressError, FetchError, InvalidURLError, check_url
from articles.ingest import FEED_ACCEPT
from articles.models import Feed
from articles.opml import OpmlFeed, OpmlOutline, build_opml, read_outlines
from articles.sources import source_for_feed


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
            "source": source_for_feed(site_url, feed_url, parsed.title if parsed else ""),
        },
    )
    if tags:
        feed.default_tags.add(*tags)
    return feed, created


@dataclass(frozen=True)
class OutlineResult:
    url: str  # canonical when usable, else as the file wrote it
    title: str
    outcome: str  # "added", "known" or "refused"
    detail: str = ""


@dataclass
class OpmlImport:
    results: list[OutlineResult] = field(default_factory=list)
    created: list[Feed] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for result in self.results if result.outcome == outcome)

    @property
    def known(self) -> int:
        return self.count("known")

    def summary(self) -> str:
        return (
            f"Added {self.count('added')} feeds; {self.known} were known; "
            f"{self.count('refused')} refused."
        )


def import_opml(body: bytes) -> OpmlImport:
    """Check every outline as the HTTP client would and add the new ones, one result each.

    An outline is refused for its scheme, its address class after resolution (loopback,
    private, metadata…; NEWSDESK_ALLOW_HOSTS applies) or a malformed URL; it is skipped as known
    when its canonical URL (tracking parameters removed) is a feed already. Nothing is fetched:
    the first poll fills in what the OPML file left out.
    """
    report = OpmlImport()
    known = {canonical_url(url): url for url in Feed.objects.values_list("url", flat=True)}
    for outline in read_outlines(body):
        result, feed = _import_outline(outline, known)
        report.results.append(result)
        if feed is not None:
            report.created.append(feed)
    return report


def _import_outline(
    outline: OpmlOutline, known: dict[str, str]
) -> tuple[OutlineResult, Feed | None]:
    item = outline.feed
    if item is None:
        return OutlineResult(outline.raw_url[:300], outline.label, "refused", outline.problem), None
    url = canonical_url(item.url)
    if url in known:
        detail = "already subscribed" + (f" as {known[url]}" if known[url] != url else "")
        return OutlineResult(url, item.title, "known", detail), None
    detail = ""
    try:
        check_url(url, policy())
    except (InvalidURLError, BlockedAddressError) as exc:
        return OutlineResult(url, item.title, "refused", exc.reason), None
    except FetchError as exc:
        # Not resolvable now is not a refusal: the poll will retry and record what happens.
        detail = f"note: {exc.reason}"
    feed, created = Feed.objects.get_or_create(
        url=url,
        defaults={
            "title": item.title[:500],
            "site_url": item.site_url[:2000],
            "source": source_for_feed(item.site_url, url, item.title),
        },
    )
    known[url] = url
    if not created:
        return OutlineResult(url, item.title, "known", "already subscribed"), None
    return OutlineResult(url, item.title, "added", detail), feed


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
