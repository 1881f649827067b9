"""Public topic pages: the index of topics and one page per topic."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponsePermanentRedirect,
    HttpResponseRedirect,
)
from django.http.response import HttpResponseRedirectBase
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from newsdesk import staff
from newsdesk.views import absolute, conditional, hot_cache, page_number
from tags import queries
from tags.models import Tag

SORTS = {"count": "Most articles", "name": "Name"}
INDEX_CACHE_SECONDS = 600
# Topic pages are what readers and crawlers ask for most; a rendered page is kept under its
# ETag, which changes with the topic's count, newest article and rules. An edit to an article's
# own title or summary reaches a topic page within this many seconds.
TAG_PAGE_CACHE_SECONDS = 60


@require_safe
def tag_index(request: HttpRequest) -> HttpResponse:
    sort = request.GET.get("sort", "count")
    if sort not in SORTS:
        sort = "count"
    tags = list(queries.active_index(sort))
    canonical = absolute(reverse("tag_index") + ("?sort=name" if sort == "name" else ""))
    # Rendering a thousand topics' links costs more than reading them, so the page is kept per
    # exact content: any change to a name, slug or count renders it afresh.
    key = f"tags:index:{queries.PAGE_VERSION}:{sort}:{_fingerprint(canonical, tags)}"
    body = cache.get(key)
    if body is not None:
        return HttpResponse(body)
    context = {"tags": tags, "sort": sort, "sorts": SORTS, "canonical_url": canonical}
    response = render(request, "tags/index.html", context)
    cache.set(key, response.content, INDEX_CACHE_SECONDS)
    return response


def _fingerprint(canonical: str, tags: list[Tag]) -> str:
    rows = (f"{t.pk}\x1e{t.name}\x1e{t.slug}\x1e{t.article_count}" for t in tags)
    return hashlib.sha256("\x1f".join([canonical, *rows]).encode()).hexdigest()[:32]


def resolve_public_tag(slug: str, route: str) -> Tag | HttpResponseRedirectBase:
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
        return _retired(tag, route)
    return tag


def _retired(tag: Tag, route: str) -> HttpResponseRedirect:
    """An archived topic's page sends readers to its parent, or to the topics index. Not a
    permanent redirect: an editor may bring the topic back."""
    parent = tag.parent
    if parent is not None and parent.is_active and parent.merged_into_id is None:
        return HttpResponseRedirect(reverse(route, args=[parent.slug]))
    if route == "tag":
        return HttpResponseRedirect(reverse("tag_index"))
    raise Http404("No such topic.")


@dataclass(frozen=True)
class Listing:
    """What one topic page shows, and where its older and newer links point."""

    keys: list[queries.Cursor]
    page: int
    has_older: bool


def _cursor(request: HttpRequest, name: str) -> queries.Cursor | None:
    raw = request.GET.get(name)
    if raw is None:
        return None
    cursor = queries.Cursor.parse(raw)
    if cursor is None:
        raise Http404("No such page.")
    return cursor


def _listing(
    tag: Tag,
    page: int,
    pages: int,
    size: int,
    before: queries.Cursor | None,
    after: queries.Cursor | None,
) -> Listing:
    if before is not None:
        keys = queries.keys_before(tag, before, size + 1)
        return Listing(keys[:size], max(2, page), len(keys) > size)
    if after is not None:
        keys = queries.keys_after(tag, after, size)
        if len(keys) == size and page > 1:
            return Listing(keys, page, True)
        # Fewer than a page above the cursor: this is the top now.
        return Listing(queries.page_keys(tag, 1, size), 1, pages > 1)
    return Listing(queries.page_keys(tag, page, size), page, page < pages)


def _page_url(base: str, page: int, size: int, direction: str, cursor: queries.Cursor) -> str:
    """Shallow pages keep their plain URL; deeper ones carry the cursor that makes them cheap."""
    if page <= 1:
        return base
    if (page - 1) * size < queries.ANCHOR_ROWS:
        return f"{base}?page={page}"
    return f"{base}?page={page}&{direction}={cursor.token()}"


@require_safe
@hot_cache
def tag_page(request: HttpRequest, slug: str) -> HttpResponse:
    found = resolve_public_tag(slug, "tag")
    if isinstance(found, HttpResponseRedirectBase):
        if request.GET.get("page"):
            found["Location"] += f"?page={page_number(request)}"
        return found
    tag = found
    page = page_number(request)
    before, after = _cursor(request, "before"), _cursor(request, "after")
    size = settings.NEWSDESK_PAGE_SIZE
    # One entry per story: the pages are counted in stories.
    pages = queries.page_count(tag.story_count, size)
    if page > pages and before is None and after is None:
        raise Http404("No such page.")
    cursor = (before and before.token(), after and after.token())
    etag, last_modified = queries.tag_validators(tag, "page", page, size, *cursor)
    # Staff with the permission get an "Edit" link: their copy has validators of its own.
    editing = staff.can_edit(request, "tags.change_tag")
    if editing:
        etag = staff.staff_etag(etag)

    def build() -> HttpResponse:
        key = f"tags:page:{etag}"
        body = cache.get(key)
        if body is not None:
            return HttpResponse(body)
        listing = _listing(tag, page, pages, size, before, after)
        response = _render_tag_page(request, tag, listing, pages, size, etag)
        cache.set(key, response.content, TAG_PAGE_CACHE_SECONDS)
        return response

    return staff.per_viewer(conditional(request, etag, last_modified, build), editing)


def _render_tag_page(
    request: HttpRequest, tag: Tag, listing: Listing, pages: int, size: int, etag: str
) -> HttpResponse:
    if not listing.keys and listing.page > 1:
        raise Http404("No such page.")
    articles = queries.articles_for(listing.keys)
    others = queries.tags_by_article((a.pk for a in articles), exclude=tag) if articles else {}
    lines = queries.story_lines(articles)
    base = reverse("tag", args=[tag.slug])
    page = listing.page
    older = listing.keys and listing.has_older
    context = {
        "tag": tag,
        "articles": [(a, others.get(a.pk, []), lines.get(a.pk)) for a in articles],
        "page": page,
        "pages": max(pages, page),
        "older_url": _page_url(base, page + 1, size, "before", listing.keys[-1]) if older else "",
        "newer_url": _page_url(base, page - 1, size, "after", listing.keys[0]) if page > 1 else "",
        "chart": queries.cached_chart(tag, etag) if page == 1 else None,
        "canonical_url": absolute(base + (f"?page={page}" if page > 1 else "")),
        "feed_atom": reverse("tag_feed_atom", args=[tag.slug]),
        "feed_rss": reverse("tag_feed_rss", args=[tag.slug]),
    }
    return render(request, "tags/tag.html", context)
