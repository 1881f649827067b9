"""Editors' view of stories: the list, each story's members, and the hand decisions (split an
article out, merge stories, choose the lead), each of which sticks through re-assignment."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from articles.models import Source
from stories import assignment, editing, failures
from stories.models import PlacementFailure, RestoryJob, Story, StoryMembership


def n_stories(n: int) -> str:
    return f"{n} stor{'y' if n == 1 else 'ies'}"


class MergeForm(forms.Form):
    target = forms.ModelChoiceField(
        queryset=Story.objects.none(), label="Merge into", empty_label=None
    )


@admin.register(Story)
class StoryAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "lead_title",
        "article_count",
        "source_count",
        "sources",
        "first_published_at",
        "last_published_at",
        "merged_into",
    )
    list_display_links = ("id", "lead_title")
    list_select_related = ("lead", "merged_into")
    search_fields = ("lead__title",)
    ordering = ("-last_published_at", "-id")
    list_per_page = 50
    actions = ["merge_stories"]
    change_form_template = "admin/stories/story/change_form.html"
    readonly_fields = (
        "lead",
        "lead_chosen_by",
        "article_count",
        "source_count",
        "first_published_at",
        "last_published_at",
        "merged_into",
        "created_at",
        "updated_at",
    )
    fields = readonly_fields

    @admin.display(description="lead article", ordering="lead__title")
    def lead_title(self, story: Story) -> str:
        return story.lead.title if story.lead_id else "(no lead)"

    @admin.display(description="sources")
    def sources(self, story: Story) -> str:
        names = list(
            Source.objects.filter(articles__story_membership__story=story)
            .distinct()
            .order_by("name")
            .values_list("name", flat=True)[:4]
        )
        extra = story.source_count - 3
        return " · ".join(names[:3]) + (f" · +{extra} more" if extra > 0 else "")

    def has_add_permission(self, request) -> bool:
        return False  # stories come from assignment, or from an editor's split

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # a story goes by merging it into another

    # --- Merge (list action) ---------------------------------------------------------------

    @admin.action(description="Merge selected stories into one", permissions=["change"])
    def merge_stories(self, request: HttpRequest, queryset):
        stories = list(queryset.filter(merged_into__isnull=True).order_by("-article_count", "pk"))
        if len(stories) < 2:
            messages.error(request, "Choose at least two stories that were not merged away.")
            return None
        form = MergeForm(request.POST if "apply" in request.POST else None)
        form.fields["target"].queryset = queryset.filter(merged_into__isnull=True)
        form.fields["target"].label_from_instance = lambda s: (
            f"{s.pk}: {s.lead.title if s.lead_id else '(no lead)'} ({s.article_count})"
        )
        if "apply" in request.POST and form.is_valid():
            target = form.cleaned_data["target"]
            try:
                editing.merge([s.pk for s in stories], target.pk, request.user)
            except editing.StoryEditError as exc:
                messages.error(request, str(exc))
                return None
            messages.success(
                request,
                f"Merged {n_stories(len(stories) - 1)} into story {target.pk}; their articles "
                "are pinned there and stay together when stories are re-assigned.",
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Merge stories",
            "opts": self.model._meta,
            "stories": stories,
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/stories/story/merge.html", context)

    # --- Members: split out, choose the lead -----------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        story = get_object_or_404(Story, pk=object_id)
        members = (
            StoryMembership.objects.filter(story=story)
            .select_related("article__source", "pinned_by", "near_duplicate_of")
            .order_by("-published_at", "-article_id")
        )
        extra = {
            **(extra_context or {}),
            "members": members,
            "story": story,
            "can_edit": self.has_change_permission(request, story),
            # Nothing on the form is edited by hand: the actions below are the edits.
            "show_save": False,
            "show_save_and_continue": False,
        }
        return super().change_view(request, object_id, form_url, extra)

    def get_urls(self):
        return [
            path(
                "<int:story_id>/split/<int:article_id>/",
                self.admin_site.admin_view(require_POST(self.split_view)),
                name="stories_story_split",
            ),
            path(
                "<int:story_id>/lead/<int:article_id>/",
                self.admin_site.admin_view(require_POST(self.lead_view)),
                name="stories_story_lead",
            ),
            *super().get_urls(),
        ]

    def _edit(self, request, story_id: int, do) -> HttpResponseRedirect:
        if not self.has_change_permission(request):
            raise PermissionDenied
        try:
            done = do()
        except editing.StoryEditError as exc:
            messages.error(request, str(exc))
            done = story_id
        return HttpResponseRedirect(reverse("admin:stories_story_change", args=[done]))

    def split_view(self, request, story_id: int, article_id: int):
        def do():
            new = editing.split(article_id, request.user)
            messages.success(
                request,
                format_html(
                    "Split the article out into story {}; it stays there when stories are "
                    're-assigned. <a href="{}">Back to story {}</a>.',
                    new.pk,
                    reverse("admin:stories_story_change", args=[story_id]),
                    story_id,
                ),
            )
            return new.pk

        return self._edit(request, story_id, do)

    def lead_view(self, request, story_id: int, article_id: int):
        def do():
            editing.choose_lead(story_id, article_id, request.user)
            messages.success(request, "Lead chosen: the story is shown by this article now.")
            return story_id

        return self._edit(request, story_id, do)


@admin.register(RestoryJob)
class RestoryJobAdmin(admin.ModelAdmin):
    list_display = ("id", "since", "state", "progress", "changed", "created_at", "finished_at")
    readonly_fields = [f.name for f in RestoryJob._meta.fields]

    @admin.display(description="progress")
    def progress(self, job: RestoryJob) -> str:
        return f"{job.done}/{job.total} ({job.percent}%)"

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False

    actions = None


@admin.register(PlacementFailure)
class PlacementFailureAdmin(admin.ModelAdmin):
    """Operators' list of articles story assignment could not place, with the error; "try
    again now" places the chosen ones at once and says how it went."""

    list_display = ("article_link", "attempts", "state", "short_error", "failed_at")
    list_filter = (("retry_after", admin.EmptyFieldListFilter),)
    list_select_related = ("article",)
    ordering = ("-failed_at",)
    readonly_fields = [f.name for f in PlacementFailure._meta.fields]
    actions = ["try_again"]

    @admin.display(description="article")
    def article_link(self, failure: PlacementFailure) -> str:
        url = reverse("admin:articles_article_change", args=[failure.article_id])
        return format_html('<a href="{}">{}</a>', url, failure.article.title or failure.article)

    @admin.display(description="state")
    def state(self, failure: PlacementFailure) -> str:
        if failure.set_aside:
            return "set aside"
        return f"next try after {failure.retry_after:%Y-%m-%d %H:%M}"

    @admin.display(description="error")
    def short_error(self, failure: PlacementFailure) -> str:
        return failure.error[:160]

    @admin.action(
        description="Try placing the selected articles in stories again now",
        permissions=["retry"],
    )
    def try_again(self, request: HttpRequest, queryset) -> None:
        ids = list(queryset.values_list("article_id", flat=True))
        outcome = failures.try_again(ids, assignment.assign)
        if outcome.placed:
            messages.success(request, f"{outcome.placed} placed in a story.")
        if outcome.failed:
            messages.error(
                request,
                f"{outcome.failed} failed again: see the error on each; the sweep tries them"
                " again after a pause, or sets them aside.",
            )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a record of what happened; the action is the way to act on it

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("stories.change_placementfailure")
