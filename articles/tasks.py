"""Celery tasks: thin wrappers that take ids, re-read the rows and call the ingest verbs."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from articles import ingest
from articles.models import Article, Feed

log = logging.getLogger(__name__)


@shared_task
def enqueue_due_feeds() -> int:
    """Beat runs this every minute; the poll task's claim stops double polling."""
    due = list(Feed.objects.due(timezone.now()).values_list("pk", flat=True)[:1000])
    for feed_id in due:
        poll_feed.delay(feed_id)
    return len(due)


@shared_task
def poll_feed(feed_id: int) -> dict[str, object]:
    feed = Feed.objects.filter(pk=feed_id).first()
    if feed is None or not feed.is_active:
        return {"feed": feed_id, "outcome": "gone"}
    result = ingest.poll_feed(feed)
    for article_id in result.new_article_ids:
        fetch_article.delay(article_id)
    return {"feed": feed_id, "outcome": result.outcome, "new": len(result.new_article_ids)}


@shared_task(bind=True, max_retries=ingest.MAX_ARTICLE_ATTEMPTS)
def fetch_article(self, article_id: int) -> str:
    article = Article.objects.filter(pk=article_id).first()
    if article is None:
        return "gone"
    # In-process (eager) runs cannot wait for a retry: they record the failure straight away.
    final = self.request.is_eager or self.request.retries >= self.max_retries
    try:
        article = ingest.fetch_article(article, max_wait=10.0, final_attempt=final)
    except ingest.ArticleFetchError as exc:
        countdown = max(exc.retry_after, 30 * 2**self.request.retries)
        raise self.retry(countdown=countdown, exc=exc) from exc
    return article.status


@shared_task
def reextract_article(article_id: int) -> str:
    article = Article.objects.filter(pk=article_id).first()
    if article is None:
        return "gone"
    return ingest.reextract(article).status


@shared_task
def prune() -> dict[str, int]:
    return ingest.prune()
