"""Small builders for feeds, pages and rows used across the tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape

from django.contrib.auth.models import Group, User

from articles.models import Article, Feed
from stories.models import Story, StoryMembership
from stories.signals import story_changed
from tags.models import Alias, Exclusion, Tag

_counter = itertools.count(1)

FILLER = (
    "Officials said the measures would be reviewed at the end of the quarter. Analysts noted "
    "that shipments had already slowed in recent weeks, and several manufacturers were looking "
    "for other suppliers. Prices for the affected materials rose sharply on the news, while "
    "traders waited for details on how licences would be granted."
)


def article_html(
    title: str,
    paragraphs: list[str],
    *,
    description: str = "",
    canonical: str = "",
    published: str = "2026-11-02T09:00:00+00:00",
) -> str:
    body = "\n".join(f"<p>{escape(p)}</p>" for p in [*paragraphs, FILLER, FILLER])
    canonical_link = f'<link rel="canonical" href="{escape(canonical)}">' if canonical else ""
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{escape(title)} | Test Gazette</title>
<meta name="description" content="{escape(description)}">
<meta property="article:published_time" content="{published}">
<meta name="author" content="Ada Reporter">
{canonical_link}
</head><body>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>
<li><a href="/business">Business</a></li></ul></nav></header>
<main><article><h1>{escape(title)}</h1>{body}</article></main>
<footer><p>Copyright Test Gazette</p></footer></body></html>"""


def rss(
    items: list[dict], *, title: str = "Test Gazette", link: str = "http://example.test/"
) -> str:
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    rendered = []
    for i, item in enumerate(items):
        published = item.get("published", now - timedelta(hours=i))
        parts = [f"<title>{escape(item['title'])}</title>"]
        if item.get("link"):
            parts.append(f"<link>{escape(item['link'])}</link>")
        guid = item.get("guid", item.get("link", item["title"]))
        parts.append(f'<guid isPermaLink="false">{escape(guid)}</guid>')
        if published is not None:
            parts.append(f"<pubDate>{format_datetime(published)}</pubDate>")
        if item.get("description"):
            parts.append(f"<description>{escape(item['description'])}</description>")
        parts.extend(f"<category>{escape(c)}</category>" for c in item.get("categories", []))
        rendered.append("<item>" + "".join(parts) + "</item>")
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{escape(title)}</title><link>{escape(link)}</link>
<description>Test feed</description>{"".join(rendered)}</channel></rss>"""


def make_tag(name: str, aliases=(), exclusions=(), **fields) -> Tag:
    tag = Tag.objects.create(name=name, **fields)
    for phrase in aliases:
        Alias.objects.create(tag=tag, phrase=phrase)
    for phrase in exclusions:
        Exclusion.objects.create(tag=tag, phrase=phrase)
    return tag


def make_article(title: str = "", text: str = "", **fields) -> Article:
    n = next(_counter)
    defaults = {
        "url": f"https://news.example.org/story-{n}",
        "title": title or f"Story {n}",
        "text": text,
        "status": Article.Status.OK,
        "published_at": datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=n),
    }
    defaults.update(fields)
    return Article.objects.create(**defaults)


def make_feed(url: str, **fields) -> Feed:
    return Feed.objects.create(url=url, **fields)


def staff(username: str, group: str) -> User:
    """A staff user in one of the project's groups (Editors, Operators)."""
    user = User.objects.create_user(username, password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def make_story(*articles: Article, lead: Article | None = None, announce: bool = True) -> Story:
    """A story of these articles, written the way assignment writes one, then announced.

    The lead is the earliest member unless given. `story_changed` is sent as assignment sends
    it after its commit (tests run inside one transaction, so it is sent at once).
    """
    first = min(articles, key=lambda a: (a.published_at, a.pk))
    story = Story.objects.create(lead=lead or first)
    for article in articles:
        StoryMembership.objects.create(
            article=article,
            story=story,
            published_at=article.published_at,
            source_id=article.source_id,
        )
    _recount(story)
    if announce:
        story_changed.send(
            sender=Story,
            story_ids=[story.pk],
            moved=[a.pk for a in articles],
            leads=[story.lead_id],
        )
    return story


def move_to_story(article: Article, story: Story, announce: bool = True) -> None:
    """Move (or add) an article into `story`, as assignment or an editor's split does."""
    old = StoryMembership.objects.filter(article=article).values_list("story_id", flat=True)
    before = list(old)
    stories = Story.objects.filter(pk__in=[story.pk, *before])
    leads = set(stories.values_list("lead_id", flat=True))
    StoryMembership.objects.update_or_create(
        article=article,
        defaults={
            "story": story,
            "published_at": article.published_at,
            "source_id": article.source_id,
        },
    )
    for changed in stories:
        _recount(changed)
    leads ^= set(stories.values_list("lead_id", flat=True))
    if announce:
        story_changed.send(
            sender=Story,
            story_ids=[story.pk, *before],
            moved=[article.pk],
            leads=sorted(lead for lead in leads if lead is not None),
        )


def _recount(story: Story) -> None:
    members = Article.objects.filter(story_membership__story=story)
    dates = sorted(a.published_at for a in members)
    Story.objects.filter(pk=story.pk).update(
        article_count=len(dates),
        source_count=len({a.source_id or a.site_name for a in members}),
        first_published_at=dates[0] if dates else None,
        last_published_at=dates[-1] if dates else None,
    )
    story.refresh_from_db()
