"""What makes a topic page's validators change: `Tag.content_changed_at`.

A topic page or feed shows the topic (name, description, count), its articles (title, summary,
source, date, their other topics, and under a story's entry the other sources of its story,
"Also: …") and a chart. Its ETag and Last-Modified come from the tag row
alone, so the page costs one query when a reader revalidates. These functions move that stamp
for every write that changes what is shown; the link verbs in `tags.linking` move it in the same
UPDATE that changes the count.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q
from django.utils import timezone

from stories.models import StoryMembership
from tags.models import ArticleTag, Tag


def touch_tags(tag_ids: Iterable[int]) -> None:
    ids = list(tag_ids)
    if ids:
        Tag.objects.filter(pk__in=ids).update(content_changed_at=timezone.now())


def touch_article(article_id: int, story_line: bool = True) -> None:
    """An article's shown fields changed: every topic listing it (visible or not) is stale.

    With ``story_line`` (a change to what its story's "Also" line shows: whether the article is
    visible, its source), so is every topic page showing its story's entry, whichever member
    that entry is and whether or not the article is on that topic. Those topics are found
    through the story column on links and its index (story, represents, topic): one range per
    story, however many members it has. One UPDATE either way."""
    where = Q(pk__in=ArticleTag.objects.filter(article_id=article_id).values("tag_id"))
    if story_line:
        story = StoryMembership.objects.filter(article_id=article_id).values("story_id")
        shown = ArticleTag.objects.filter(story_id__in=story, represents=True, is_visible=True)
        where |= Q(pk__in=shown.values("tag_id"))
    Tag.objects.filter(where).update(content_changed_at=timezone.now())


def touch_all() -> None:
    """A topic name or a source name changed: it may be shown on any topic's page."""
    Tag.objects.update(content_changed_at=timezone.now())
