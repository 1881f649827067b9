"""sitemap.xml: every public topic and the most recent articles, on the canonical SITE_URL."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.db.models import QuerySet

from articles.models import Article
from tags.models import Tag

RECENT_ARTICLES = 5000


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


SITEMAPS = {"tags": TagSitemap, "articles": ArticleSitemap}
