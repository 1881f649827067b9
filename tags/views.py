"""Public topic pages: the index of topics and one page per topic."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from newsdesk.views import absolute, conditional, newer_url, page_number
from tags import queries
from tags.models import Tag

SORTS = {"count": "Most articles", "name": "Name"}


@require_safe
def tag_index(request: HttpRequest) -> HttpResponse:
    sort = request.GET.get("sort", "count")
    if sort not in SORTS:
        sort = "count"
    context = {
        "tags": list(queries.active_index(sort)),
        "sort": sort,
        "sorts": SORTS,
        "canonical_url": absolute(reverse("tag_index") + ("?sort=name" if sort == "name" else "")),
    }
    return render(request, "tags/index.html", context)


def resolve_public_tag(slug: str, route: str) -> Tag | HttpResponsePermanentRedirect:
    """The tag to show, a redirect for a merged one, or 404 for anything not public."""
    tag = queries.public_tag(slug)
    if tag is None:
        raise Http404("No such topic.")
    if tag.merged_into_id is not None:
        target = queries.merge_target(tag)
        if target is None:
            raise Http404("No such topic.")
        return HttpResponsePermanentRedirect(reverse(route, args=[target.slug]))
    if not tag.is_active:
        raise Http404("No such topic.")
    return tag


@require_safe
def tag_page(request: HttpRequest, slug: str) -> HttpResponse:
    found = resolve_public_tag(slug, "tag")
    if isinstance(found, HttpResponsePermanentRedirect):
        if request.GET.get("page"):
            found["Location"] += f"?page={page_number(request)}"
        return found
    tag = found
    page = page_number(request)
    size = settings.NEWSDESK_PAGE_SIZE
    pages = queries.page_count(tag.article_count, size)
    if page > pages:
        raise Http404("No such page.")
    etag, last_modified = queries.tag_validators(tag, "page", page, size)
    return conditional(
        request,
        etag,
        last_modified,
        lambda: _render_tag_page(request, tag, page, pages, size, etag),
    )


def _render_tag_page(
    request: HttpRequest, tag: Tag, page: int, pages: int, size: int, etag: str
) -> HttpResponse:
    articles = queries.page_articles(tag, page, size)
    others = queries.tags_by_article((a.pk for a in articles), exclude=tag) if articles else {}
    base = reverse("tag", args=[tag.slug])
    context = {
        "tag": tag,
        "articles": [(a, others.get(a.pk, [])) for a in articles],
        "page": page,
        "pages": pages,
        "older_url": f"{base}?page={page + 1}" if page < pages else "",
        "newer_url": newer_url(base, page),
        "chart": queries.cached_chart(tag, etag) if page == 1 else None,
        "canonical_url": absolute(base + (f"?page={page}" if page > 1 else "")),
        "feed_atom": reverse("tag_feed_atom", args=[tag.slug]),
        "feed_rss": reverse("tag_feed_rss", args=[tag.slug]),
    }
    return render(request, "tags/tag.html", context)
