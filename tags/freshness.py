"""What makes a topic page's validators change: `Tag.content_changed_at`.

A topic page or feed shows the topic (name, description, count), its articles (title, summary,
source, date, their other topics) and a chart. Its ETag and Last-Modified come from the tag row
alone, so the page costs one query when a reader revalidates. These functions move that stamp
for every write that changes what is shown; the link verbs in `tags.linking` move it in the same
UPDATE that changes the count.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils import timezone

from tags.models import Tag


def touch_tags(tag_ids: Iterable[int]) -> None:
    ids = list(tag_ids)
    if ids:
        Tag.objects.filter(pk__in=ids).update(content_changed_at=timezone.now())


def touch_article(article_id: int) -> None:
    """An article's shown fields changed: every topic listing it (visible or not) is stale."""
    Tag.objects.filter(article_tags__article_id=article_id).update(
        content_changed_at=timezone.now()
    )


def touch_all() -> None:
    """A topic name or a source name changed: it may be shown on any topic's page."""
    Tag.objects.update(content_changed_at=timezone.now())
