"""Site-wide pages: home, robots.txt, error pages, and helpers the public views share."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import caches
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import TemplateDoesNotExist, loader
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import http_date, parse_http_date_safe, quote_etag
from django.views import defaults
from django.views.decorators.http import require_safe

from articles.models import Article
from newsdesk.staff import per_viewer, signed_in_staff
from stories.models import StoryMembership
from tags.queries import story_lines, tags_by_article, trending

MAX_PAGE = 100_000


def page_number(request: HttpRequest) -> int:
    """The `page` parameter as a positive integer; anything else is a page that does not exist."""
    raw = request.GET.get("page", "1")
    # ASCII digits only: str.isdigit() also accepts "²" and "٣", which int() refuses or reads.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 7 or not 1 <= int(raw) <= MAX_PAGE:
        raise Http404("No such page.")
    return int(raw)


def is_web_url(url: str) -> bool:
    """Only http(s) links to the outside: a stored `javascript:` URL must never become a link."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in {"http", "https"} and bool(parts.netloc)


def newer_url(base: str, page: int) -> str:
    """The link to the previous page; page 1 has one URL, without `?page=1`."""
    if page <= 1:
        return ""
    return base if page == 2 else f"{base}?page={page - 1}"


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def conditional(
    request: HttpRequest, etag: str, last_modified: datetime, build: Callable[[], HttpResponse]
) -> HttpResponse:
    """What `django.views.decorators.http.condition` does, with validators computed once."""
    quoted = quote_etag(etag)
    stamp = int(last_modified.timestamp())
    response = get_conditional_response(request, etag=quoted, last_modified=stamp)
    if response is None:
        response = build()
    cacheable = 200 <= response.status_code < 300 or response.status_code == 304
    if request.method in ("GET", "HEAD") and cacheable:
        # Ours, not the syndication framework's (its Last-Modified is the newest item's date,
        # which hiding an article does not move): the validators we answer 304 by are the
        # ones we send.
        response.headers["ETag"] = quoted
        response.headers["Last-Modified"] = http_date(stamp)
        # Readers always revalidate, so a hidden article disappears at the next request.
        patch_cache_control(response, no_cache=True)
    return response


# The parameters a hot page's body depends on; anything else a crawler appends is ignored by the
# views, so it must not make a cache entry of its own either.
HOT_PARAMETERS = ("page", "before", "after")


def hot_key(request: HttpRequest) -> str:
    params = "&".join(
        f"{name}={request.GET[name]}" for name in HOT_PARAMETERS if name in request.GET
    )
    digest = hashlib.sha256(f"{request.path}?{params}".encode()).hexdigest()
    return f"hot:{digest}"


def hot_cache(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Serve a whole public page from this process's memory for NEWSDESK_HOT_PAGE_SECONDS.

    Topic pages take most of the traffic and crawlers ask for the same URLs over and over; for
    those few seconds a page costs one cache read instead of a query and a render. Conditional
    requests are still answered from the stored validators.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        seconds = settings.NEWSDESK_HOT_PAGE_SECONDS
        # Staff may get a copy with edit links: never stored here, never served from here.
        if seconds <= 0 or request.method not in ("GET", "HEAD") or signed_in_staff(request):
            return view(request, *args, **kwargs)
        key = hot_key(request)
        stored = caches["hot"].get(key)
        if stored is not None:
            etag, last_modified, body = stored
            response = get_conditional_response(
                request, etag=etag, last_modified=int(last_modified)
            )
            if response is None:
                response = HttpResponse(body)
            response.headers["ETag"] = etag
            response.headers["Last-Modified"] = http_date(int(last_modified))
            patch_cache_control(response, no_cache=True)
            return per_viewer(response, editing=False)
        response = view(request, *args, **kwargs)
        if response.status_code == 200 and "ETag" in response and not response.cookies:
            last_modified = parse_http_date_safe(response.get("Last-Modified", "")) or 0
            caches["hot"].set(key, (response["ETag"], last_modified, response.content), seconds)
        return response

    return wrapper


def story_entries() -> QuerySet[Article]:
    """The visible articles that are their story's entry in a list of every topic: the lead,
    or, while the lead is not visible, the earliest visible member; and articles in no story.

    Decided per row while the articles' date index is walked from the newest: each row costs
    a lookup of its membership and story (and, only for a story whose lead is hidden, whether
    an earlier visible member exists), so a page reads about as many rows as its stories have
    articles, whatever the archive holds."""
    lead_shown = Exists(
        Article.objects.visible().filter(pk=OuterRef("story_membership__story__lead_id"))
    )
    earlier_shown = Exists(
        StoryMembership.objects.of_visible_articles()
        .filter(story_id=OuterRef("story_membership__story_id"))
        # A range of the members' listing index (story, date), then the tie on the id.
        .filter(published_at__lte=OuterRef("published_at"))
        .filter(Q(published_at__lt=OuterRef("published_at")) | Q(article_id__lt=OuterRef("pk")))
    )
    return Article.objects.visible().filter(
        Q(story_membership__isnull=True)
        | Q(story_membership__story__lead_id=F("pk"))
        | (~lead_shown & ~earlier_shown)
    )


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    page = page_number(request)
    size = settings.NEWSDESK_PAGE_SIZE
    offset = (page - 1) * size
    # One entry per story, like a topic page: the story's lead with "Also: …" under it.
    rows = list(
        story_entries()
        .select_related("source", "story_membership")
        .defer("text", "categories", "keywords")
        .order_by("-published_at", "-id")[offset : offset + size + 1]
    )
    if page > 1 and not rows:
        raise Http404("No such page.")
    articles = rows[:size]
    topics = tags_by_article(a.pk for a in articles) if articles else {}
    lines = story_lines(articles)
    context = {
        "articles": [(a, topics.get(a.pk, []), lines.get(a.pk)) for a in articles],
        "trending": trending() if page == 1 else [],
        "page": page,
        "older_url": f"?page={page + 1}" if len(rows) > size else "",
        "newer_url": newer_url(reverse("home"), page),
        "canonical_url": absolute(reverse("home") + (f"?page={page}" if page > 1 else "")),
    }
    return render(request, "home.html", context)


@require_safe
def robots_txt(request: HttpRequest) -> HttpResponse:
    lines = [
        "User-agent: *",
        "Disallow: /admin/",
        "Disallow: /search/",
        f"Sitemap: {absolute(reverse('sitemap'))}",
        "",
    ]
    return HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", {"canonical_url": ""}, status=404)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A refused admin page stays inside the admin (its header, its links, who is logged in);
    elsewhere Django's plain page."""
    from django.contrib import admin

    if request.path.startswith(reverse("admin:index")):
        context = {**admin.site.each_context(request), "title": "Permission denied"}
        return render(request, "admin/403.html", context, status=403)
    return defaults.permission_denied(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """Rendered without a context: the database may be what failed."""
    try:
        body = loader.get_template("500.html").render()
    except TemplateDoesNotExist:
        body = "<h1>Server error</h1>"
    return HttpResponseServerError(body)
