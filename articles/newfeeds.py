"""A feed an operator just added, settled by a worker: is the address a feed, or a site whose
page names one? The admin request only stores the address; this runs in the background."""

from __future__ import annotations

from django.db import transaction

from articles.feeds import discover_feeds, looks_like_feed
from articles.fetching import polite_fetch
from articles.http import FetchError
from articles.ingest import FEED_ACCEPT, PollResult, poll_feed
from articles.models import Feed
from articles.sources import source_for_feed


def settle_new_feed(feed: Feed) -> PollResult | None:
    """Resolve a site address to its feed (autodiscovery), then poll the feed once.

    A feed already polled is left alone (a second delivery does nothing). What goes wrong is
    recorded on the feed like any failed poll, so the operator sees it in the list.
    """
    if feed.last_status != Feed.Status.NEW or not feed.claim(300):
        return None
    try:
        response = polite_fetch(feed.url, accept=FEED_ACCEPT + ", text/html;q=0.8")
    except FetchError:
        response = None  # the poll below fails the same way and records why
    if response is not None and not looks_like_feed(response.body, response.content_type):
        found = [url for url in discover_feeds(response.body, response.url) if url != feed.url]
        if found:
            with transaction.atomic():
                if Feed.objects.filter(url=found[0]).exists():
                    # The site's feed is subscribed already: this row was only its address.
                    Feed.objects.filter(pk=feed.pk).delete()
                    return None
                Feed.objects.filter(pk=feed.pk).update(
                    url=found[0], site_url=feed.site_url or response.url
                )
                feed.url = found[0]
    if feed.source_id is None:
        feed.source = source_for_feed(feed.site_url, feed.url, feed.title)
        Feed.objects.filter(pk=feed.pk).update(source=feed.source)
    return poll_feed(feed, claimed=True)
