"""Small factories for the public-page tests: sources, topics and tagged articles.

Links are created directly, and each topic's denormalised count is kept by hand, because the
linking code is not what these tests are about.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import F
from django.utils import timezone

from articles.models import Article, Source
from tags.models import ArticleTag, Tag

_serial = itertools.count(1)

HOSTILE_TITLE = "<script>window.__pwned=1</script>Hostile & proud"
HOSTILE_SUMMARY = '<img src=x onerror="window.__pwned=1"> summary with <b>markup</b>'
HOSTILE_TEXT = (
    "<script>window.__pwned=1</script> first paragraph\n\n"
    '<img src=x onerror="window.__pwned=1"> second paragraph'
)


def make_source(name: str = "The Daily Ore", domain: str | None = None) -> Source:
    domain = domain or f"source{next(_serial)}.example"
    return Source.objects.get_or_create(domain=domain, defaults={"name": name})[0]


def make_tag(name: str, **fields: object) -> Tag:
    return Tag.objects.create(name=name, **fields)


def make_article(
    title: str | None = None,
    *,
    tags: Iterable[Tag] = (),
    published_at: datetime | None = None,
    source: Source | None = None,
    **fields: object,
) -> Article:
    """An extracted, visible article (unless fields say otherwise), linked to `tags`."""
    n = next(_serial)
    values: dict[str, object] = {
        "url": f"https://news.example/story-{n}",
        "title": title if title is not None else f"Story number {n}",
        "summary": f"A short summary of story {n}. It has two sentences.",
        "text": f"First paragraph of story {n}.\n\nSecond paragraph of story {n}.",
        "published_at": published_at or timezone.now() - timedelta(minutes=n),
        "status": Article.Status.OK,
        "source": source,
    }
    values.update(fields)
    article = Article.objects.create(**values)
    for tag in tags:
        link(article, tag)
    return article


def link(article: Article, tag: Tag, visible: bool | None = None) -> ArticleTag:
    visible = article.is_visible if visible is None else visible
    row = ArticleTag.objects.create(
        article=article,
        tag=tag,
        origin=ArticleTag.Origin.RULE,
        score=3.0,
        published_at=article.published_at,
        is_visible=visible,
    )
    if visible:
        # A new link represents its article until a story folds it (tests/factories.py).
        Tag.objects.filter(pk=tag.pk).update(
            article_count=F("article_count") + 1, story_count=F("story_count") + 1
        )
        tag.article_count += 1
        tag.story_count += 1
    return row


def make_many(
    tag: Tag, count: int, start: datetime | None = None, **fields: object
) -> list[Article]:
    """`count` articles on `tag`, one hour apart, newest first."""
    start = start or timezone.now()
    return [
        make_article(
            f"{tag.name} story {i + 1}",
            tags=[tag],
            published_at=start - timedelta(hours=i),
            **fields,
        )
        for i in range(count)
    ]
