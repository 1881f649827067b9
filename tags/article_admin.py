"""The tags app's part of the article admin: topics with why each is there, hand decisions
(with Undo), the topic filter and the add/remove/re-tag actions.

`articles.admin.ArticleAdmin` shows what ingestion knows and imports nothing from tagging; this
subclass adds the rest and takes its place in the admin site (tags.admin imports this module).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.defaultfilters import pluralize
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from articles import admin as articles_admin
from articles.models import Article
from tags import linking
from tags.combining import explain_model_link
from tags.explaining import explain
from tags.models import ArticleTag, Tag, TagDecision


class TopicFilter(admin.SimpleListFilter):
    """The articles a topic lists (its visible links), by the topic's slug."""

    title = "topic"
    parameter_name = "topic"

    def lookups(self, request, model_admin):
        return list(Tag.objects.active().order_by("name").values_list("slug", "name"))

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(
                article_tags__tag__slug=self.value(), article_tags__is_visible=True
            )
        return queryset


class ArticleTagForm(forms.ModelForm):
    """A topic added by hand must be one readers can see: never a merged-away one."""

    class Meta:
        model = ArticleTag
        fields = ["tag"]

    def clean_tag(self) -> Tag:
        tag = self.cleaned_data["tag"]
        changed = self.instance.pk is None or self.instance.tag_id != tag.pk
        if changed and tag.merged_into_id is not None:
            raise forms.ValidationError(
                f"{tag.name} was merged into {tag.merged_into.name}; add {tag.merged_into.name}."
            )
        return tag


class ArticleTagInline(admin.TabularInline):
    """Tags with why each one is there; adding or deleting one here is an editor's decision."""

    model = ArticleTag
    form = ArticleTagForm
    fields = ["tag", "origin", "score", "matched_terms", "why"]
    readonly_fields = ["origin", "score", "matched_terms", "why"]
    # Chosen by name (TagAdmin's search, merged-away topics left out), not by a numeric id.
    autocomplete_fields = ["tag"]
    extra = 0

    @admin.display(description="matched terms")
    def matched_terms(self, obj: ArticleTag) -> str:
        return ", ".join(f"{term} ({n})" for term, n in sorted(obj.terms.items())) or "—"

    @admin.display(description="why")
    def why(self, obj: ArticleTag) -> str:
        if obj.pk is None:
            return "—"
        if obj.origin == ArticleTag.Origin.MODEL:
            return explain_model_link(obj.score, obj.terms)
        return explain(
            obj.origin, obj.strong, obj.terms, obj.hits, listed=obj.is_visible, score=obj.score
        )


def can_undo_decisions(request: HttpRequest) -> bool:
    """Editors take back hand decisions; operators (who only view articles) cannot."""
    user = request.user
    return user.has_perm("tags.delete_tagdecision") and user.has_perm("articles.change_article")


def hand_decisions_html(article: Article, undo: bool) -> str:
    """The article's hand decisions, who made them and when; with Undo buttons for editors.
    The buttons belong to a form outside the change form (form="undo-decision"): no nested
    forms, and Enter in a field still saves the article rather than undoing a decision."""
    decisions = (
        TagDecision.objects.filter(article=article)
        .select_related("tag", "editor")
        .order_by("-decided_at")
    )
    return render_to_string(
        "admin/articles/article/hand_decisions.html",
        {"decisions": list(decisions), "undo": undo},
    )


class TagChoiceForm(admin.helpers.ActionForm):
    tag = forms.ModelChoiceField(
        queryset=Tag.objects.active(), required=False, help_text="for the add/remove topic actions"
    )


class ArticleAdmin(articles_admin.ArticleAdmin):
    list_display = [*articles_admin.ArticleAdmin.list_display, "topics"]
    list_filter = [
        articles_admin.HasErrorFilter,
        TopicFilter,
        "is_hidden",
        "language",
        "summary_source",
    ]
    action_form = TagChoiceForm
    actions = ["hide", "unhide", "add_topic", "remove_topic", "retag", "reextract", "refetch"]
    inlines = [ArticleTagInline, *articles_admin.ArticleAdmin.inlines]
    change_form_template = "admin/articles/article/change_form.html"
    readonly_fields = [
        "hand_decisions",
        "hand_decisions_with_undo",
        *articles_admin.ArticleAdmin.readonly_fields,
    ]

    @admin.display(description="topics")
    def topics(self, obj: Article) -> str:
        # The listed topics only: weak matches and hidden links explain, they do not list.
        names = sorted(link.tag.name for link in obj.article_tags.all() if link.is_visible)
        return ", ".join(names) or "—"

    @admin.display(description="decisions")
    def hand_decisions(self, obj: Article) -> str:
        return hand_decisions_html(obj, undo=False)

    @admin.display(description="decisions")
    def hand_decisions_with_undo(self, obj: Article) -> str:
        return hand_decisions_html(obj, undo=True)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or not request.user.has_perm("tags.view_tagdecision"):
            return fieldsets
        field = "hand_decisions_with_undo" if can_undo_decisions(request) else "hand_decisions"
        section = (
            "Hand decisions",
            {
                "fields": [field],
                "description": "Topics added or removed by hand outrank the rules and the "
                "topic model. Undo takes one back: the rules decide that topic again.",
            },
        )
        return [fieldsets[0], section, *fieldsets[1:]]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_undo_decisions": can_undo_decisions(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path(
                "<path:object_id>/undo-decision/",
                self.admin_site.admin_view(self.undo_decision_view),
                name="articles_article_undo_decision",
            ),
            *super().get_urls(),
        ]

    def undo_decision_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Take back one hand decision (POST, CSRF-checked by the admin): the rules and the
        topic model decide that topic for this article again."""
        change_url = reverse("admin:articles_article_change", args=[object_id])
        if request.method != "POST":
            return redirect(change_url)
        if not can_undo_decisions(request):
            raise PermissionDenied
        article = self.get_object(request, object_id)
        if article is None:
            raise Http404("No such article.")
        back = request.POST.get("next") or ""
        if not url_has_allowed_host_and_scheme(
            back, {request.get_host()}, require_https=request.is_secure()
        ):
            back = change_url
        raw = request.POST.get("decision") or ""
        decision = (
            TagDecision.objects.filter(article=article, pk=raw).select_related("tag").first()
            if raw.isdigit()
            else None
        )
        if decision is None:
            messages.warning(request, "That decision was already taken back.")
            return redirect(back)
        linking.undo_decision(decision)
        now_listed = ArticleTag.objects.filter(
            article=article, tag=decision.tag, is_visible=True
        ).exists()
        messages.success(
            request,
            f"Took back “{decision.get_decision_display()}” for {decision.tag}: by the rules "
            f"the article is {'on' if now_listed else 'off'} that topic now.",
        )
        return redirect(back)

    def get_queryset(self, request):
        links = ArticleTag.objects.select_related("tag").only(
            "article_id", "is_visible", "tag__name"
        )
        return super().get_queryset(request).prefetch_related(Prefetch("article_tags", links))

    def save_formset(self, request, form, formset, change: bool) -> None:
        if formset.model is not ArticleTag:
            super().save_formset(request, form, formset, change)
            return
        article = form.instance
        formset.save(commit=False)
        for link in formset.deleted_objects:
            linking.remove_tag_by_hand(article, link.tag, request.user)
        for link in formset.new_objects:
            linking.add_tag_by_hand(article, link.tag, request.user)
        for link, changed in formset.changed_objects:
            if "tag" in changed:
                old_tag = Tag.objects.get(pk=ArticleTag.objects.get(pk=link.pk).tag_id)
                linking.remove_tag_by_hand(article, old_tag, request.user)
                linking.add_tag_by_hand(article, link.tag, request.user)

    def _chosen_tag(self, request) -> Tag | None:
        tag_id = request.POST.get("tag") or ""
        tag = Tag.objects.active().filter(pk=tag_id).first() if tag_id.isdigit() else None
        if tag is None:
            messages.error(request, "Choose a topic in the list beside the action first.")
        return tag

    @admin.action(description="Add the chosen topic by hand", permissions=["change"])
    def add_topic(self, request, queryset):
        self._decide_topic(request, queryset, linking.add_tag_by_hand, "Added {tag} to")

    @admin.action(description="Remove the chosen topic by hand", permissions=["change"])
    def remove_topic(self, request, queryset):
        self._decide_topic(request, queryset, linking.remove_tag_by_hand, "Removed {tag} from")

    def _decide_topic(self, request, queryset, decide, done: str) -> None:
        tag = self._chosen_tag(request)
        if tag is None:
            return
        n = 0
        for article in queryset:
            decide(article, tag, request.user)
            n += 1
        messages.success(request, f"{done.format(tag=tag)} {n} article{pluralize(n)}.")

    @admin.action(description="Re-run the topic rules", permissions=["change"])
    def retag(self, request, queryset):
        n = queryset.count()
        changed = sum(linking.tag_article(article) for article in queryset)
        messages.success(request, f"Re-tagged {n} article{pluralize(n)}; {changed} changed.")


admin.site.unregister(Article)
admin.site.register(Article, ArticleAdmin)
