from django.contrib import admin
from django.contrib.sitemaps.views import sitemap
from django.urls import include, path

from articles.views import article_page, search_page
from newsdesk.health import healthz
from newsdesk.metrics import metrics_view
from newsdesk.operations_view import operations
from newsdesk.sitemaps import SITEMAPS
from newsdesk.views import home, robots_txt
from stories.views import with_story
from tags.article_page import with_topics
from tags.feeds import LatestAtom, LatestRss, TagAtom, TagRss
from tags.views import tag_index, tag_page

urlpatterns = [
    path("admin/operations/", admin.site.admin_view(operations), name="admin_operations"),
    path("admin/", admin.site.urls),
    path("metrics", metrics_view, name="metrics"),
    path("healthz", healthz, name="healthz"),
    path("", home, name="home"),
    path("tags/", tag_index, name="tag_index"),
    path("tags/<slug:slug>/", tag_page, name="tag"),
    path("tags/<slug:slug>/feed/atom/", TagAtom(), name="tag_feed_atom"),
    path("tags/<slug:slug>/feed/rss/", TagRss(), name="tag_feed_rss"),
    # The article page gains its topics and its story line here: articles itself knows
    # nothing of tags or stories.
    path("articles/<int:pk>/", with_story(with_topics(article_page)), name="article"),
    path("", include("stories.urls")),
    path("search/", search_page, name="search"),
    path("feed/atom/", LatestAtom(), name="feed_atom"),
    path("feed/rss/", LatestRss(), name="feed_rss"),
    path("sitemap.xml", sitemap, {"sitemaps": SITEMAPS}, name="sitemap"),
    path("robots.txt", robots_txt, name="robots_txt"),
]

handler403 = "newsdesk.views.permission_denied"
handler404 = "newsdesk.views.page_not_found"
handler500 = "newsdesk.views.server_error"
