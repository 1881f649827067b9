"""The tags app's part of the public article page: the article's topics, related articles by
shared topics, and for editors the hand decisions with Undo.

`articles.views.article_page` knows nothing of topics; the URL layer wraps it with
`with_topics`, which adds to its lazy response before it renders (as stories.views.with_story
adds the story line).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.db import connection
from django.db.models import Count, Q
from django.db.models.expressions import RawSQL
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from articles.models import Article
from tags.models import ArticleTag, TagDecision
from tags.queries import tags_by_article

RELATED_LIMIT = 5
# Candidates per topic and direction: each is a short range scan of the topic's listing index
# next to the article, so a topic with 200,000 articles costs what a small one does.
RELATED_NEIGHBOURS = 20
RELATED_MAX_TOPICS = 6
_NEIGHBOURS_SQL = (
    "SELECT article_id FROM (SELECT article_id FROM {table} WHERE tag_id = %s AND is_visible"
    " AND published_at {op} %s AND article_id <> %s ORDER BY published_at {order},"
    " article_id {order} LIMIT %s) AS {alias}"
)


def _candidates_sql(article: Article, tag_ids: list[int]) -> tuple[str, list[object]]:
    """Each topic's nearest links on either side of the article, as one UNION ALL."""
    when = connection.ops.adapt_datetimefield_value(article.published_at)
    parts, params = [], []
    for i, tag_id in enumerate(tag_ids):
        for side, (op, order) in enumerate((("<=", "DESC"), (">", "ASC"))):
            parts.append(
                _NEIGHBOURS_SQL.format(
                    table=ArticleTag._meta.db_table, op=op, order=order, alias=f"n{i}_{side}"
                )
            )
            params += [tag_id, when, article.pk, RELATED_NEIGHBOURS]
    return " UNION ALL ".join(parts), params


def related_articles(article: Article, tag_ids: list[int]) -> list[Article]:
    """Visible articles near in time that share the most topics with this one.

    Candidates are each topic's nearest links before and after the article (bounded index
    range scans); they are ranked by how many of the article's topics they share, then newest
    first. One query.
    """
    tag_ids = tag_ids[:RELATED_MAX_TOPICS]
    if not tag_ids:
        return []
    candidates, params = _candidates_sql(article, tag_ids)
    shared = Count(
        "article_tags",
        filter=Q(article_tags__tag_id__in=tag_ids, article_tags__is_visible=True),
    )
    return list(
        Article.objects.visible()
        .filter(pk__in=RawSQL(candidates, params))  # noqa: S611 - fixed SQL, values as params
        .annotate(shared=shared)
        .select_related("source")
        .only("id", "title", "url", "published_at", "source__name", "site_name")
        .order_by("-shared", "-published_at", "-id")[:RELATED_LIMIT]
    )


def with_topics(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Add the article's topics and related articles to a page rendered with an `article` in
    its context, and the hand decisions with their Undo when the page shows staff its edit
    link and the viewer may undo decisions."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if not isinstance(response, TemplateResponse) or response.is_rendered:
            return response
        context = response.context_data or {}
        article = context.get("article")
        if article is None:
            return response
        topics = tags_by_article([article.pk]).get(article.pk, [])
        context["topics"] = topics
        context["related"] = related_articles(article, [t.pk for t in topics])
        if "edit_url" in context and request.user.has_perm("tags.delete_tagdecision"):
            context["decisions"] = list(
                TagDecision.objects.filter(article=article)
                .select_related("tag", "editor")
                .order_by("-decided_at")
            )
            context["undo_url"] = reverse("admin:articles_article_undo_decision", args=[article.pk])
        response.context_data = context
        return response

    return wrapper
