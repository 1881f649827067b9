"""Public article pages and search."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q
from django.db.models.expressions import RawSQL
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_safe

from articles import search as article_search
from articles.models import Article
from newsdesk import staff
from newsdesk.views import absolute, is_web_url, page_number
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


def _original_of(article: Article) -> Article | None:
    original = article.duplicate_of
    if original is not None and original.is_visible:
        return original
    return None


@require_safe
def article_page(request: HttpRequest, pk: int) -> HttpResponse:
    article = Article.objects.select_related("source", "duplicate_of").filter(pk=pk).first()
    if article is None:
        raise Http404("No such article.")
    if article.duplicate_of_id is not None and not article.is_hidden:
        original = _original_of(article)
        if original is not None:
            return HttpResponsePermanentRedirect(original.get_absolute_url())
    if not article.is_visible:
        raise Http404("No such article.")
    topics = tags_by_article([article.pk]).get(article.pk, [])
    # Publishers' text is theirs: readers get the headline, our summary and a link to the
    # original, and the whole text only where an editor marked the source's licence as allowing
    # it. The stored text still serves search, tagging and duplicate detection.
    full_text = article.source is not None and article.source.full_text_licensed
    context = {
        "article": article,
        "summary": article.editor_summary or article.summary,
        "full_text": full_text,
        "paragraphs": article.paragraphs if full_text else [],
        "topics": topics,
        "related": related_articles(article, [t.pk for t in topics]),
        "original_url": article.url if is_web_url(article.url) else "",
        "image_url": article.image_url if article.image_url.startswith("https://") else "",
        "canonical_url": absolute(article.get_absolute_url()),
    }
    if staff.can_edit(request, "articles.change_article"):
        context.update(staff_tools(request, article))
    # Lazy, so the URL layer may add to it (stories.views.with_story) before it renders.
    response = TemplateResponse(request, "articles/article.html", context)
    return staff.per_viewer(response, "edit_url" in context)


def staff_tools(request: HttpRequest, article: Article) -> dict[str, object]:
    """The edit link and, for editors, the hand decisions with their Undo (the admin's view
    does the undoing, then brings the editor back here)."""
    tools: dict[str, object] = {
        "edit_url": reverse("admin:articles_article_change", args=[article.pk])
    }
    if request.user.has_perm("tags.delete_tagdecision"):
        tools["decisions"] = list(
            TagDecision.objects.filter(article=article)
            .select_related("tag", "editor")
            .order_by("-decided_at")
        )
        tools["undo_url"] = reverse("admin:articles_article_undo_decision", args=[article.pk])
    return tools


@require_safe
def search_page(request: HttpRequest) -> HttpResponse:
    page = page_number(request)
    raw = request.GET.get("q", "")
    results = article_search.search(raw, page=page, size=settings.NEWSDESK_PAGE_SIZE)
    if page > 1 and not results.hits and results.terms:
        raise Http404("No such page.")
    context = {
        "results": results,
        "too_long": len(raw.strip()) > article_search.MAX_QUERY_CHARS,
        "older_url": _page_url(results.query, page + 1) if results.has_next else "",
        "newer_url": _page_url(results.query, page - 1) if page > 1 else "",
        "canonical_url": absolute(reverse("search")),
        "search_query": results.query,
    }
    response = render(request, "articles/search.html", context)
    # Result pages are not worth indexing and their URLs are endless.
    response["X-Robots-Tag"] = "noindex"
    return response


def _page_url(query: str, page: int) -> str:
    params = {"q": query} if page <= 1 else {"q": query, "page": page}
    return f"{reverse('search')}?{urlencode(params)}"
