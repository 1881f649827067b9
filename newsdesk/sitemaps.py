"""sitemap.xml: every public topic, the most recent articles and the most recent stories told by
more than one article, on the canonical SITE_URL."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.db.models import Exists, OuterRef, QuerySet

from articles.models import Article, url_pattern
from stories.models import Story, StoryMembership
from tags.models import Tag

RECENT_ARTICLES = 5000
RECENT_STORIES = 5000


class CanonicalSitemap(Sitemap):
    """Links use SITE_URL, not whichever host name the request came in on."""

    def get_domain(self, site=None) -> str:
        return urlsplit(settings.SITE_URL).netloc

    def get_protocol(self, protocol: str | None = None) -> str:
        return urlsplit(settings.SITE_URL).scheme or "https"


class TagSitemap(CanonicalSitemap):
    changefreq = "hourly"
    priority = 0.8

    def items(self) -> QuerySet[Tag]:
        return Tag.objects.active().filter(article_count__gt=0).order_by("slug").only("slug")


class ArticleSitemap(CanonicalSitemap):
    changefreq = "weekly"
    priority = 0.5
    limit = RECENT_ARTICLES

    def items(self) -> list[Article]:
        return list(
            Article.objects.visible()
            .order_by("-published_at", "-id")
            .only("id", "published_at", "updated_at")[:RECENT_ARTICLES]
        )

    def lastmod(self, item: Article) -> datetime:
        return item.updated_at


class StorySitemap(CanonicalSitemap):
    """Story pages: the most recently active stories of two or more articles (a story of one
    says what its article page says), that are not merged away and that a reader can open
    (a story page needs a visible member)."""

    changefreq = "hourly"
    priority = 0.6
    limit = RECENT_STORIES

    def items(self) -> list[Story]:
        shown = StoryMembership.objects.of_visible_articles().filter(story_id=OuterRef("pk"))
        return list(
            Story.objects.filter(merged_into__isnull=True, article_count__gt=1)
            .filter(Exists(shown))
            .order_by("-last_published_at", "-id")
            .only("id", "updated_at")[:RECENT_STORIES]
        )

    def location(self, item: Story) -> str:
        return url_pattern("story").format(item.pk)

    def lastmod(self, item: Story) -> datetime:
        return item.updated_at


SITEMAPS = {"tags": TagSitemap, "stories": StorySitemap, "articles": ArticleSitemap}
