"""The public story page, and the story line on an article page.

A story page lists every visible article of one story, newest first, with its source and time:
two queries (the story, then its members through `storymembership_listing_idx`). A story merged
into another answers 301 to the end of its merge chain.

`with_story` wraps the article page at the URL layer: `articles` renders its page as a
TemplateResponse and knows nothing of stories; this adds "Part of a story" to it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_safe

from articles.models import url_pattern
from newsdesk.views import absolute, is_web_url
from stories.models import Story, StoryMembership

# Following merges stops here: a loop made by hand must not hang a request.
MAX_MERGE_HOPS = 5
# A story page lists at most this many articles (newest first) and says how many it left out.
STORY_PAGE_LIMIT = 200
MEMBER_FIELDS = (
    "story_id",
    "published_at",
    "article__title",
    "article__url",
    "article__published_at",
    "article__site_name",
    "article__source__name",
)


def story_url(story_id: int) -> str:
    return url_pattern("story").format(story_id)


def _visible_members(story_id: int):
    return StoryMembership.objects.of_visible_articles().filter(story_id=story_id)


def merge_target(story: Story) -> Story | None:
    """The end of a merged story's chain, or None for a loop or a chain too long."""
    seen = {story.pk}
    target = story
    for _ in range(MAX_MERGE_HOPS):
        target = Story.objects.filter(pk=target.merged_into_id).first()
        if target is None or target.pk in seen:
            return None
        if target.merged_into_id is None:
            return target
        seen.add(target.pk)
    return None


@require_safe
def story_page(request: HttpRequest, pk: int) -> HttpResponse:
    story = Story.objects.filter(pk=pk).first()
    if story is None:
        raise Http404("No such story.")
    if story.merged_into_id is not None:
        target = merge_target(story)
        if target is None:
            raise Http404("No such story.")
        return HttpResponsePermanentRedirect(story_url(target.pk))
    members = list(
        _visible_members(story.pk)
        .select_related("article__source")
        .only(*MEMBER_FIELDS)
        .order_by("-published_at", "-article_id")[: STORY_PAGE_LIMIT + 1]
    )
    if not members:
        raise Http404("No such story.")
    articles = [m.article for m in members[:STORY_PAGE_LIMIT]]
    # The heading is the lead's title; a hidden lead gives way to the earliest visible member.
    lead = next((a for a in articles if a.pk == story.lead_id), None) or min(
        articles, key=lambda a: (a.published_at, a.pk)
    )
    context = {
        "story": story,
        "lead": lead,
        "entries": [(a, a.url if is_web_url(a.url) else "") for a in articles],
        "shown": len(articles),
        "more": len(members) > STORY_PAGE_LIMIT,
        "sources": len({a.source_id or a.site_name for a in articles}),
        "canonical_url": absolute(story_url(story.pk)),
    }
    return TemplateResponse(request, "stories/story.html", context)


def with_story(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Add "Part of a story: N articles" to a page rendered with an `article` in its context.

    One query (the article's membership and its story); nothing when the story has no other
    article.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if not isinstance(response, TemplateResponse) or response.is_rendered:
            return response
        article = (response.context_data or {}).get("article")
        if article is None:
            return response
        membership = (
            StoryMembership.objects.filter(article_id=article.pk)
            .select_related("story")
            .only("story__id", "story__article_count", "story__merged_into_id")
            .first()
        )
        story = membership.story if membership is not None else None
        if story is not None and story.merged_into_id is None and story.article_count > 1:
            response.context_data["story"] = story
            response.template_name = ["stories/article.html"]
        return response

    return wrapper
