"""Public article pages and search."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_safe

from articles import search as article_search
from articles.models import Article
from newsdesk import staff
from newsdesk.views import absolute, is_web_url, page_number


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
    # Publishers' text is theirs: readers get the headline, our summary and a link to the
    # original, and the whole text only where an editor marked the source's licence as allowing
    # it. The stored text still serves search, tagging and duplicate detection.
    full_text = article.source is not None and article.source.full_text_licensed
    context = {
        "article": article,
        "summary": article.editor_summary or article.summary,
        "full_text": full_text,
        "paragraphs": article.paragraphs if full_text else [],
        "original_url": article.url if is_web_url(article.url) else "",
        "image_url": article.image_url if article.image_url.startswith("https://") else "",
        "canonical_url": absolute(article.get_absolute_url()),
    }
    if staff.can_edit(request, "articles.change_article"):
        context.update(staff_tools(request, article))
    # Lazy, so the URL layer may add to it before it renders: its topics, related articles
    # and hand decisions (tags.views.with_topics), its story (stories.views.with_story).
    response = TemplateResponse(request, "articles/article.html", context)
    return staff.per_viewer(response, "edit_url" in context)


def staff_tools(request: HttpRequest, article: Article) -> dict[str, object]:
    """The edit link (tags.views.with_topics adds the hand decisions with their Undo)."""
    return {"edit_url": reverse("admin:articles_article_change", args=[article.pk])}


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
