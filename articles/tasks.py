"""Celery tasks: thin wrappers that take ids, re-read the rows and call the ingest verbs.

Every task may be delivered twice, or after its work was done: the row's state decides, and a
message that finds nothing to do does nothing.
"""

from __future__ import annotations

import logging

from celery import shared_task

from articles import dispatch, ingest
from articles.models import Article, Feed

log = logging.getLogger(__name__)


@shared_task
def enqueue_due_feeds() -> int:
    """Beat runs this every minute: due feeds are claimed here, and each message carries its
    claim, so a beat that re-sends, or a broker that delivers twice, polls a feed once."""
    claimed = dispatch.claim_due()
    for feed_id, token in claimed:
        poll_feed.delay(feed_id, token)
    return len(claimed)


def poll_now(feed_ids) -> int:
    """Claim these feeds now, due or not, and send their polls (the admin's "Poll now")."""
    claimed = dispatch.claim_due(feed_ids=feed_ids)
    for feed_id, token in claimed:
        poll_feed.delay(feed_id, token)
    return len(claimed)


@shared_task
def poll_feed(feed_id: int, token: str | None = None) -> dict[str, object]:
    if not dispatch.take_claim(feed_id, token):
        return {"feed": feed_id, "outcome": "not claimed"}
    feed = Feed.objects.filter(pk=feed_id).first()
    if feed is None:
        return {"feed": feed_id, "outcome": "gone"}
    result = ingest.poll_feed(feed, claimed=True)
    if result.new_article_ids:
        dispatch_fetches.delay()
    return {"feed": feed_id, "outcome": result.outcome, "new": len(result.new_article_ids)}


@shared_task
def dispatch_fetches() -> int:
    """Send fetch work for pending articles, fairly across hosts (see articles.dispatch)."""
    chosen = dispatch.take_pending()
    for item in chosen:
        fetch_article.apply_async((item.article_id,), countdown=item.countdown or None)
    return len(chosen)


@shared_task
def sweep() -> dict[str, int]:
    """Beat runs this: pending work is dispatched (lost messages included), and articles
    stuck after their fetch or their extraction are sent on again."""
    sent = dispatch_fetches()
    to_extract, to_announce = dispatch.take_stuck()
    for article_id in to_extract:
        fetch_article.delay(article_id)
    for article_id in to_announce:
        announce_article.delay(article_id)
    return {"fetch": sent, "extract": len(to_extract), "tag": len(to_announce)}


# Unbounded here: the article's fetch_attempts (ingest.MAX_ARTICLE_ATTEMPTS) bound the retries.
@shared_task(bind=True, max_retries=None)
def fetch_article(self, article_id: int) -> str:
    article = Article.objects.filter(pk=article_id).first()
    if article is None:
        return "gone"
    # In-process (eager) runs cannot wait in a queue: they wait for the host here, and record
    # a failure straight away. Otherwise the article's own attempt count (in the database, so
    # retries after a database outage do not use it up) decides when a failure is final.
    eager = bool(self.request.is_eager)
    try:
        # The message's id names the fetch claim: its own retry may take the claim again.
        article = ingest.fetch_article(
            article,
            max_wait=30.0 if eager else 0.0,
            final_attempt=eager,
            claim=self.request.id or "",
        )
    except ingest.HostWait as exc:
        # Politeness: not a failure and not a retry. The message waits in the queue for the
        # host's turn, keeping its retry count.
        fetch_article.apply_async((article_id,), countdown=exc.wait, retries=self.request.retries)
        return "waiting for the host"
    except ingest.ArticleFetchError as exc:
        countdown = max(exc.retry_after, 30 * 2 ** min(max(article.fetch_attempts - 1, 0), 6))
        raise self.retry(
            countdown=countdown,
            exc=exc,
        ) from exc
    return article.status


@shared_task
def announce_article(article_id: int) -> str:
    """Re-announce an extracted article whose tagging was lost (the sweep sends this)."""
    article = Article.objects.filter(pk=article_id, tagged_at__isnull=True).first()
    if article is None:
        return "done"
    ingest.announce(article)
    return "announced"


@shared_task
def reextract_article(article_id: int) -> str:
    article = Article.objects.filter(pk=article_id).first()
    if article is None:
        return "gone"
    return ingest.reextract(article).status


@shared_task
def prune() -> dict[str, int]:
    return ingest.prune()


@shared_task
def settle_new_feed(feed_id: int) -> str:
    """A feed added in the admin: discover its feed URL if it is a site, then poll it."""
    from articles.newfeeds import settle_new_feed as settle

    feed = Feed.objects.filter(pk=feed_id).first()
    if feed is None:
        return "gone"
    result = settle(feed)
    if result is not None and result.new_article_ids:
        dispatch_fetches.delay()
    return result.outcome if result else "nothing to do"
