"""Atom and RSS out: the latest articles overall and per topic.

Summaries are plain text, but feed readers treat <description> and Atom html summaries as HTML,
so they are escaped here once more: a summary carrying markup shows as text, never as markup.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from django.contrib.syndication.views import Feed
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseRedirectBase
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed
from django.utils.html import escape, format_html

from articles.models import Article
from newsdesk.views import absolute, conditional, is_web_url, story_entries
from tags import queries
from tags.models import Tag
from tags.views import resolve_public_tag

FEED_ITEMS = 30
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def with_topics(articles: list[Article]) -> list[Article]:
    """Attach each article's topic names for <category>, in one query for the whole feed."""
    topics = queries.tags_by_article(a.pk for a in articles) if articles else {}
    for article in articles:
        article.topic_names = [t.name for t in topics.get(article.pk, [])]
    return articles


def latest_entries():
    """The site feed's items: one per story, the same entry as on the home page and topic pages
    (the lead, or the earliest visible member while the lead is hidden), newest first.

    Not the story's newest member: a story then had one item in the feed and another on every
    page, and its item's link and guid changed with each new telling, so a reader saw the same
    story again as a "new" item. New coverage of a story shows where its entry already is."""
    return story_entries().order_by("-published_at", "-id")


class ArticleItems:
    """How one article becomes one feed entry; shared by every feed here."""

    def item_title(self, item: Article) -> str:
        return item.title or item.url

    def item_description(self, item: Article) -> str:
        summary = escape(item.editor_summary or item.summary)
        source = item.source.name if item.source else item.site_name
        if not is_web_url(item.url):
            return summary
        return format_html(
            '{}<p>Read more at <a href="{}">{}</a></p>', summary, item.url, source or item.url
        )

    def item_link(self, item: Article) -> str:
        return absolute(item.get_absolute_url())

    def item_guid(self, item: Article) -> str:
        return absolute(item.get_absolute_url())

    def item_pubdate(self, item: Article) -> datetime:
        return item.published_at

    def item_updateddate(self, item: Article) -> datetime:
        return item.updated_at

    def item_author_name(self, item: Article) -> str:
        return item.author

    def item_categories(self, item: Article) -> list[str]:
        return getattr(item, "topic_names", [])


class LatestRss(ArticleItems, Feed):
    feed_type = Rss201rev2Feed
    title = "Newsdesk: latest articles"
    description = "The newest articles on every topic."
    subtitle = description

    def link(self) -> str:
        return absolute(reverse("home"))

    def feed_url(self) -> str:
        return absolute(reverse(self.route))

    route = "feed_rss"

    def items(self) -> list[Article]:
        return with_topics(
            list(
                latest_entries()
                .select_related("source")
                .defer("text", "categories", "keywords")[:FEED_ITEMS]
            )
        )

    def __call__(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        etag, last_modified = self.validators()
        return conditional(
            request,
            etag,
            last_modified,
            lambda: super(LatestRss, self).__call__(request, *args, **kwargs),
        )

    def validators(self) -> tuple[str, datetime]:
        """From the rows the feed lists and the newest change to any article, topic or source.

        The ids say which articles are listed (hiding one lets an older one in); the newest
        `updated_at` of any article and `content_changed_at` of any topic (renamed topics and
        sources move every topic's) say whether anything shown was edited. Three index reads.
        """
        shown = list(latest_entries().values_list("id", flat=True)[:FEED_ITEMS])
        edited = Article.objects.aggregate(m=Max("updated_at"))["m"]
        renamed = Tag.objects.aggregate(m=Max("content_changed_at"))["m"]
        stamps = [s for s in (edited, renamed) if s is not None]
        fingerprint = "|".join(
            [queries.PAGE_VERSION, self.route, *map(str, shown), *(s.isoformat() for s in stamps)]
        )
        etag = hashlib.sha256(fingerprint.encode()).hexdigest()[:32]
        return etag, max(stamps, default=EPOCH)


class LatestAtom(LatestRss):
    feed_type = Atom1Feed
    route = "feed_atom"


class TagRss(ArticleItems, Feed):
    feed_type = Rss201rev2Feed
    route = "tag_feed_rss"

    def __call__(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        found = resolve_public_tag(kwargs["slug"], self.route)
        if isinstance(found, HttpResponseRedirectBase):
            return found
        # get_object() below reads this instead of asking the database twice.
        request.newsdesk_tag = found
        etag, last_modified = queries.tag_validators(found, self.route)
        return conditional(
            request,
            etag,
            last_modified,
            lambda: super(TagRss, self).__call__(request, *args, **kwargs),
        )

    def get_object(self, request: HttpRequest, slug: str) -> Tag:
        return request.newsdesk_tag

    def title(self, obj: Tag) -> str:
        return f"Newsdesk: {obj.name}"

    def description(self, obj: Tag) -> str:
        return obj.description

    def subtitle(self, obj: Tag) -> str:
        return obj.description

    def link(self, obj: Tag) -> str:
        return absolute(obj.get_absolute_url())

    def feed_url(self, obj: Tag) -> str:
        return absolute(reverse(self.route, args=[obj.slug]))

    def items(self, obj: Tag) -> list[Article]:
        return with_topics(queries.page_articles(obj, 1, FEED_ITEMS))

    def categories(self, obj: Tag) -> list[str]:
        return [obj.name]


class TagAtom(TagRss):
    feed_type = Atom1Feed
    route = "tag_feed_atom"
