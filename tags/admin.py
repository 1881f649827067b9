"""Editors' admin: topics and their rules, a preview before saving, merges, retag progress."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.defaultfilters import pluralize
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from articles.models import Article

# The article admin with topics and hand decisions takes the place of ingestion's own.
from tags import (
    article_admin,  # noqa: F401
    jobchanges,
    linking,
    modelling,
    retagging,
)
from tags.combining import MODES, explain_model_link
from tags.explaining import explain
from tags.learning import MIN_POSITIVES
from tags.matching import DEFAULT_STRONG_BODY_MENTIONS, Rule
from tags.merging import MergeError, merge
from tags.models import (
    Alias,
    ArticleTag,
    Exclusion,
    RetagJob,
    ReviewItem,
    Tag,
    TagDecision,
    TaggingMode,
    TopicModelVersion,
    TrainingRun,
)
from tags.preview import ModelJudge, preview

PREVIEW_SCAN_LIMIT = 5000

# The site calls them topics; so does its admin.
admin.site.site_header = "Newsdesk administration"
admin.site.site_title = "Newsdesk admin"
admin.site.index_title = "Topics, articles and feeds"


def n_articles(n: int) -> str:
    return f"{n} article{pluralize(n)}"


def n_topics(n: int) -> str:
    return f"{n} topic{pluralize(n)}"


class PhraseForm(forms.ModelForm):
    """An alias or exclusion. No maxlength in the page: a browser silently cuts pasted text
    there, so the server refuses a phrase too long for its column and says by how much."""

    kind = "phrase"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["phrase"]
        field.widget.attrs.pop("maxlength", None)
        field.error_messages["max_length"] = (
            f"An {self.kind} can be at most %(limit_value)d characters; "
            "this one has %(show_value)d."
        )


class AliasForm(PhraseForm):
    kind = "alias"


class ExclusionForm(PhraseForm):
    kind = "exclusion"


class PhraseFormSet(forms.BaseInlineFormSet):
    """Phrases that differ only in case are one phrase to the matcher: refuse the repeat.
    Two case-sensitive spellings ("Nd", "ND") are different phrases and both stay."""

    def clean(self) -> None:
        super().clean()
        seen: dict[str, tuple[str, bool]] = {}
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            phrase = (data.get("phrase") or "").strip()
            if not phrase or data.get("DELETE"):
                continue
            exact = bool(data.get("case_sensitive"))
            first = seen.get(phrase.casefold())
            if first is not None and not (first[1] and exact and first[0] != phrase):
                form.add_error(
                    "phrase", f"“{phrase}” repeats the {form.kind} “{first[0]}” on this topic."
                )
                continue
            seen.setdefault(phrase.casefold(), (phrase, exact))


class AliasInline(admin.TabularInline):
    model = Alias
    form = AliasForm
    formset = PhraseFormSet
    extra = 1


class ExclusionInline(admin.TabularInline):
    model = Exclusion
    form = ExclusionForm
    formset = PhraseFormSet
    extra = 1


def rule_signature(tag: Tag) -> tuple:
    """Everything that decides which articles a tag matches."""
    if tag.pk is None:
        return ()
    return (
        tag.name,
        tag.is_active,
        tag.parent_id,
        tag.title_and_summary_only,
        tag.min_score,
        tag.name_is_alias,
        tag.strong_body_mentions,
        tag.publish_weak,
        tag.tagging_mode,
        tag.model_publish_at,
        tag.model_review_at,
        tag.model_veto_at,
        frozenset(tag.aliases.values_list("phrase", "case_sensitive")),
        frozenset(tag.exclusions.values_list("phrase", flat=True)),
    )


class TopicStateFilter(admin.SimpleListFilter):
    """Merged-away topics only redirect: kept out of the list unless asked for."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("live", "Live"),
            ("archived", "Archived"),
            ("merged", "Merged away"),
            ("all", "All, with merged-away"),
        ]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Live and archived",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value()
        if value == "all":
            return queryset
        if value == "merged":
            return queryset.filter(merged_into__isnull=False)
        queryset = queryset.filter(merged_into__isnull=True)
        if value == "live":
            return queryset.filter(is_active=True)
        if value == "archived":
            return queryset.filter(is_active=False)
        return queryset


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "article_count",
        "parent",
        "is_active",
        "title_and_summary_only",
        "min_score",
        "merged_into",
    ]
    list_editable = ["is_active", "min_score"]
    list_filter = [TopicStateFilter, "title_and_summary_only"]
    list_select_related = ["parent", "merged_into"]
    search_fields = ["name", "slug", "aliases__phrase"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["article_count", "merged_into", "model_figures"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "description", "parent", "is_active"]}),
        (
            "Matching",
            {
                "fields": [
                    "name_is_alias",
                    "strong_body_mentions",
                    "publish_weak",
                    "title_and_summary_only",
                    "min_score",
                ],
                "description": "Where an alias occurs matters. Found in the title, summary, "
                "first paragraph or the article's own labels, the topic is published; a "
                "passing mention further down, or one inside a company name, is a weak "
                "match: kept on the article with why, not listed here unless you publish "
                "weak matches. Preview shows what a change adds and drops before you save.",
            },
        ),
        (
            "Topic model",
            {
                "fields": [
                    "tagging_mode",
                    "model_publish_at",
                    "model_review_at",
                    "model_veto_at",
                    "model_figures",
                ],
                "description": "Rules only, rules checked and completed by the topic model, "
                "or the model alone. The table gives each mode's cross-validated precision "
                "and recall on this topic's labelled articles.",
            },
        ),
        (None, {"fields": ["article_count", "merged_into"]}),
    ]
    inlines = [AliasInline, ExclusionInline]
    actions = ["merge_into", "retag_now", "archive"]
    change_form_template = "admin/tags/tag/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tag]:
        return super().get_queryset(request).distinct()

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        # The autocomplete that picks an article's topics offers only topics readers can see.
        if request.path == reverse("admin:autocomplete"):
            queryset = queryset.filter(merged_into__isnull=True)
        return super().get_search_results(request, queryset, search_term)

    @admin.action(description="Archive: hide the topic, its page redirects", permissions=["change"])
    def archive(self, request: HttpRequest, queryset: QuerySet[Tag]) -> None:
        """Retire a topic without losing its links: its page sends readers to its parent (or
        the topics index) until an editor makes it active again."""
        tags = list(queryset.filter(is_active=True, merged_into__isnull=True))
        for tag in tags:
            tag.is_active = False
            tag.save(update_fields=["is_active"])
            tag.default_for_feeds.clear()
        if tags:
            linking.rules_changed()
        messages.success(
            request,
            f"Archived {len(tags)} topic{pluralize(len(tags))}: their pages redirect to their "
            "parent topic or the topics index; tick Active to bring one back.",
        )

    @admin.display(description="topic model")
    def model_figures(self, obj: Tag) -> str:
        """The current model and, per mode, its cross-validated figures on this topic."""
        return render_to_string("admin/tags/tag/model_figures.html", model_figures_context(obj))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "parent":
            kwargs["queryset"] = Tag.objects.active()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj: Tag, form, change: bool) -> None:
        stored = Tag.objects.filter(pk=obj.pk).first() if change else None
        request._rules_before = rule_signature(stored) if stored else ()
        # Moved under another parent: the ancestors it leaves lose the parent links it gave.
        request._ancestors_before = retagging.ancestors_of(obj.pk) if stored else []
        super().save_model(request, obj, form, change)
        if stored is not None and stored.publish_weak != obj.publish_weak:
            # Listing or unlisting the weak links needs no re-matching: do it at once.
            linking.relist_weak(obj)

    def save_related(self, request, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        tag = form.instance
        if rule_signature(tag) != getattr(request, "_rules_before", ()):
            Tag.objects.filter(pk=tag.pk).update(rules_changed_at=timezone.now())
            job = retagging.start(tag, also=getattr(request, "_ancestors_before", []))
            url = reverse("admin:tags_retagjob_change", args=[job.pk])
            # The worker counts what the change can affect; the request only queues the job.
            messages.info(
                request,
                format_html(
                    "The rules changed: re-tagging what they can affect in the background"
                    ' (<a href="{}">progress</a>).',
                    url,
                ),
            )

    @admin.action(description="Re-tag existing articles", permissions=["change"])
    def retag_now(self, request: HttpRequest, queryset: QuerySet[Tag]) -> None:
        job = retagging.start(queryset.first() if queryset.count() == 1 else None)
        url = reverse("admin:tags_retagjob_change", args=[job.pk])
        messages.info(
            request, format_html('Re-tagging in the background (<a href="{}">progress</a>).', url)
        )

    def delete_model(self, request: HttpRequest, obj: Tag) -> None:
        # A big topic has hundreds of thousands of links: they go in chunks, in the background.
        retagging.start_delete(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Tag]) -> None:
        for tag in queryset:
            retagging.start_delete(tag)

    def get_deleted_objects(self, objs, request: HttpRequest):
        # Listing every link on the confirmation page would itself time out on a big topic.
        described = [
            f"{tag}: its {tag.article_count} article link{pluralize(tag.article_count)}, "
            "removed in the background"
            for tag in objs
        ]
        perms_needed = set()
        if not self.has_delete_permission(request):
            perms_needed.add(self.opts.verbose_name)
        return described, {self.opts.verbose_name_plural: len(described)}, perms_needed, []

    @admin.action(description="Merge the selected topics into another…", permissions=["change"])
    def merge_into(self, request: HttpRequest, queryset: QuerySet[Tag]) -> HttpResponse | None:
        form = MergeForm(request.POST if "apply" in request.POST else None, exclude=queryset)
        if "apply" in request.POST and form.is_valid():
            target = form.cleaned_data["target"]
            dropped: list[str] = []
            try:
                with transaction.atomic():
                    for source in queryset:
                        dropped += merge(source, target, in_background=True).dropped_exclusions
            except MergeError as exc:
                messages.error(request, str(exc))
                return None
            if dropped:
                messages.warning(
                    request,
                    f"Not moved to {target}, because they would veto every article it matches: "
                    f"the exclusions {', '.join(repr(p) for p in dropped)}. Add any that still "
                    "hold to its rules by hand.",
                )
            messages.success(
                request,
                format_html(
                    "Merged {} into {}: old pages redirect to it now; their articles move "
                    "to it in the background, then its rules re-run with the merged aliases "
                    '(<a href="{}">progress</a>).',
                    n_topics(queryset.count()),
                    target,
                    reverse("admin:tags_retagjob_changelist"),
                ),
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Merge topics",
            "opts": self.model._meta,
            "tags": queryset,
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/tags/tag/merge.html", context)

    def get_urls(self):
        return [
            path(
                "preview/",
                self.admin_site.admin_view(self.preview_view),
                name="tags_tag_preview",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """Match the rules typed into the change form (not yet saved) against recent articles."""
        if request.method != "POST" or not self.has_change_permission(request):
            return redirect("admin:tags_tag_changelist")
        rule = rule_from_post(request.POST)
        rows = list(
            Article.objects.visible()
            .order_by("-published_at")
            .values_list("pk", "title", "summary", "text", "keywords")[:PREVIEW_SCAN_LIMIT]
        )
        tag = Tag.objects.filter(pk=request.POST.get("_tag_id") or None).first()
        current, fixed = current_links(tag, [row[0] for row in rows])
        result = preview(
            rule,
            ((i, t, s, x, k or []) for i, t, s, x, k in rows),
            current=current,
            fixed=fixed,
            judge=model_judge(request.POST, tag),
        )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Preview: {rule.name or 'unnamed topic'}",
            "opts": self.model._meta,
            "rule": rule,
            "result": result,
            "tag": tag,
            "current_count": tag.article_count if tag else 0,
            "changes": [
                ("Added", result.added_samples, "added"),
                ("Dropped", result.dropped_samples, "dropped"),
            ],
            "scan_limit": PREVIEW_SCAN_LIMIT,
        }
        return TemplateResponse(request, "admin/tags/tag/preview.html", context)


def model_judge(post, tag: Tag | None) -> ModelJudge | None:
    """The topic model as the form's mode and levels would use it, for a saved topic the
    current model knows; None where the rules decide alone."""
    mode = post.get("tagging_mode") or TaggingMode.RULES
    if tag is None or mode == TaggingMode.RULES or mode not in MODES:
        return None
    model = modelling.current_model()
    if model is None or tag.slug not in model:
        return None
    slug = tag.slug

    def probability(title: str, summary: str, text: str) -> float | None:
        scored = model.score(title=title, summary=summary, text=text, include=[slug])
        return scored.probabilities.get(slug)

    def level(name: str, default: float) -> float:
        try:
            return min(1.0, max(0.0, float(post.get(name))))
        except (TypeError, ValueError):
            return default

    return ModelJudge(
        mode,
        probability,
        publish_at=level("model_publish_at", tag.model_publish_at),
        review_at=level("model_review_at", tag.model_review_at),
        veto_at=level("model_veto_at", tag.model_veto_at),
    )


def current_links(tag: Tag | None, article_ids: list[int]) -> tuple[set[int], set[int]]:
    """Of these articles: those the topic lists today by its rules or its model, and those
    whose link neither decides (editors' decisions, feed defaults, child topics). A strong
    rule match the model vetoed (origin ``vetoed``) is decided again by the preview."""
    if tag is None:
        return set(), set()
    links = ArticleTag.objects.filter(tag=tag, article_id__in=article_ids)
    rule_made = (
        ArticleTag.Origin.RULE,
        ArticleTag.Origin.CATEGORY,
        ArticleTag.Origin.MODEL,
        ArticleTag.Origin.VETOED,
    )
    current = set(
        links.filter(origin__in=rule_made, is_visible=True).values_list("article_id", flat=True)
    )
    fixed = set(links.exclude(origin__in=rule_made).values_list("article_id", flat=True))
    fixed |= set(
        TagDecision.objects.filter(tag=tag, article_id__in=article_ids).values_list(
            "article_id", flat=True
        )
    )
    return current - fixed, fixed


def rule_from_post(post) -> Rule:
    def phrases(prefix: str, flag: str | None = None) -> tuple[str, ...]:
        total = int(post.get(f"{prefix}-TOTAL_FORMS") or 0)
        found = []
        for i in range(min(total, 1000)):
            phrase = (post.get(f"{prefix}-{i}-phrase") or "").strip()
            deleted = post.get(f"{prefix}-{i}-DELETE")
            exact = bool(post.get(f"{prefix}-{i}-case_sensitive"))
            if phrase and not deleted and (flag is None or exact == (flag == "exact")):
                found.append(phrase)
        return tuple(found)

    try:
        min_score = float(post.get("min_score") or 1.0)
    except ValueError:
        min_score = 1.0
    try:
        body_mentions = max(1, int(post.get("strong_body_mentions") or 0))
    except ValueError:
        body_mentions = DEFAULT_STRONG_BODY_MENTIONS
    return Rule(
        tag_id=0,
        name=(post.get("name") or "").strip(),
        aliases=phrases("aliases", "loose"),
        case_sensitive_aliases=phrases("aliases", "exact"),
        exclusions=phrases("exclusions"),
        title_and_summary_only=bool(post.get("title_and_summary_only")),
        min_score=min_score,
        name_is_alias=bool(post.get("name_is_alias")),
        strong_body_mentions=body_mentions,
        publish_weak=bool(post.get("publish_weak")),
    )


class MergeForm(forms.Form):
    target = forms.ModelChoiceField(
        queryset=Tag.objects.none(), help_text="The topic that keeps its name and page."
    )

    def __init__(self, *args, exclude: QuerySet[Tag], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["target"].queryset = Tag.objects.active().exclude(pk__in=exclude)


# While a job runs, its page and the job list reload themselves this often (a <meta> refresh:
# the CSP allows no inline script, and a finished job's page stays still).
JOB_REFRESH_SECONDS = 3


@admin.register(RetagJob)
class RetagJobAdmin(admin.ModelAdmin):
    class Media:
        css = {"all": ["css/admin.css"]}

    list_display = [
        "__str__",
        "kind",
        "state",
        "progress",
        "gained_lost",
        "created_at",
        "finished_at",
    ]
    list_filter = ["state", "kind"]
    list_select_related = ["tag"]
    readonly_fields = [
        "what_changed",
        "kind",
        "tag",
        "tag_name",
        "target",
        "whole_archive",
        "phrases",
        "state",
        "progress",
        "total",
        "done",
        "changed",
        "chunks",
        "last_article_id",
        "error",
        "created_at",
        "started_at",
        "heartbeat_at",
        "finished_at",
    ]
    fields = readonly_fields

    @admin.display(description="articles gained / lost")
    def gained_lost(self, obj: RetagJob) -> str:
        gained, lost = jobchanges.totals(obj.changes)
        return f"+{gained} / -{lost}"

    @admin.display(description="what changed")
    def what_changed(self, obj: RetagJob) -> str:
        changes = obj.changes or {}
        rows = changes.get("articles") or []
        titles = dict(
            Article.objects.filter(pk__in=[row[0] for row in rows]).values_list("pk", "title")
        )
        names = {int(key): entry["name"] for key, entry in (changes.get("topics") or {}).items()}
        context = {
            "job": obj,
            "topics": jobchanges.by_topic(changes),
            "articles": [
                {
                    "id": article_id,
                    "title": titles.get(article_id) or f"article {article_id}",
                    "topic": names.get(tag_id, f"topic {tag_id}"),
                    "gained": kind == jobchanges.GAINED,
                }
                for article_id, tag_id, kind in rows
            ],
            "more": changes.get("more", 0),
            "limit": jobchanges.MAX_ARTICLES,
        }
        return render_to_string("admin/tags/retagjob/changes.html", context)

    def changelist_view(self, request: HttpRequest, extra_context=None):
        running = RetagJob.objects.filter(
            state__in=[RetagJob.State.QUEUED, RetagJob.State.RUNNING]
        ).exists()
        extra_context = {
            **(extra_context or {}),
            "refresh_seconds": JOB_REFRESH_SECONDS if running else None,
        }
        return super().changelist_view(request, extra_context)

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "refresh_seconds": JOB_REFRESH_SECONDS}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description="progress")
    def progress(self, obj: RetagJob) -> str:
        if not obj.scope_taken and not obj.is_finished:
            return "finding the articles the change can affect…"
        return format_html(
            '<progress max="100" value="{}">{}%</progress> {}%',
            obj.percent,
            obj.percent,
            obj.percent,
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(ArticleTag)
class ArticleTagAdmin(admin.ModelAdmin):
    """Why each article carries each topic; changes go through the article page."""

    list_display = ["article", "tag", "origin", "strong", "why", "is_visible", "created_at"]
    list_filter = ["origin", "strong", "is_visible", "tag"]
    list_select_related = ["article", "tag"]
    search_fields = ["article__title", "tag__name"]
    raw_id_fields = ["article", "tag"]

    @admin.display(description="why")
    def why(self, obj: ArticleTag) -> str:
        return explain(
            obj.origin, obj.strong, obj.terms, obj.hits, listed=obj.is_visible, score=obj.score
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(TagDecision)
class TagDecisionAdmin(admin.ModelAdmin):
    list_display = ["article", "tag", "decision", "editor", "decided_at"]
    list_filter = ["decision"]
    list_select_related = ["article", "tag", "editor"]
    raw_id_fields = ["article"]
    autocomplete_fields = ["tag"]
    search_fields = ["article__title", "tag__name"]
    # Who decided and when are recorded by the linking verbs, not typed in.
    readonly_fields = ["editor", "decided_at"]
    fields = ["article", "tag", "decision", "editor", "decided_at"]

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)

        class DecisionForm(form):
            def clean_tag(self) -> Tag:
                tag = self.cleaned_data["tag"]
                if tag.merged_into_id is not None and self.instance.tag_id != tag.pk:
                    raise forms.ValidationError(
                        f"{tag.name} was merged into {tag.merged_into.name}; "
                        f"decide about {tag.merged_into.name}."
                    )
                return tag

        return DecisionForm

    # Every route to a decision goes through the linking verbs, so links and counts follow.
    def save_model(self, request: HttpRequest, obj: TagDecision, form, change: bool) -> None:
        decide = (
            linking.add_tag_by_hand
            if obj.decision == TagDecision.Decision.ADD
            else linking.remove_tag_by_hand
        )
        if change and "tag" in form.changed_data:
            old = TagDecision.objects.get(pk=obj.pk)
            old.delete()
            linking.tag_article(old.article)
            obj.pk = None
        decide(obj.article, obj.tag, request.user)
        saved = TagDecision.objects.get(article=obj.article, tag=obj.tag)
        obj.pk, obj.decided_at, obj.editor = saved.pk, saved.decided_at, saved.editor

    def delete_model(self, request: HttpRequest, obj: TagDecision) -> None:
        # Without the hand decision, the rules decide again.
        linking.undo_decision(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[TagDecision]) -> None:
        for decision in queryset.select_related("article"):
            self.delete_model(request, decision)


# --- Topic models: figures on the topic form, the review queue, versions and runs ----------------

MODE_LABELS = {
    "rules": "Rules only",
    "rules+model": "Rules + model",
    "model": "Model only",
}


def model_figures_context(tag: Tag) -> dict:
    current = TopicModelVersion.objects.filter(is_current=True).defer("data").first()
    info = (current.topics.get(tag.slug) if current else None) or {}
    positives = info.get("positives")
    if positives is None and tag.pk:
        positives = (
            tag.labelled_examples.count()
            + tag.decisions.filter(decision=TagDecision.Decision.ADD).count()
        )
    stays_on_rules = None
    if current is None:
        stays_on_rules = "No topic model has been trained yet (manage.py trainmodels)."
    elif info.get("skipped"):
        stays_on_rules = f"Stays on rules: {info['skipped']}."
    elif not info:
        stays_on_rules = "This topic is newer than the current model; train again."
    rows = [
        {
            "mode": mode,
            "label": MODE_LABELS[mode],
            "precision": info["cv"][mode]["precision"],
            "recall": info["cv"][mode]["recall"],
            "f1": info["cv"][mode]["f1"],
        }
        for mode in MODES
        if info.get("cv", {}).get(mode)
    ]
    return {
        "model": current,
        "positives": positives or 0,
        "min_positives": MIN_POSITIVES,
        "stays_on_rules": stays_on_rules,
        "rows": rows,
        "chosen": tag.tagging_mode,
        "suggested_publish_at": info.get("suggested_publish_at"),
        "suggested_mode": MODE_LABELS.get(info.get("suggested_mode") or ""),
        "suggested_mode_publish_at": info.get("suggested_mode_publish_at"),
        "suggested_mode_f1": info.get("suggested_mode_f1"),
        "suggested_mode_veto_at": info.get("suggested_mode_veto_at"),
    }


@admin.register(ReviewItem)
class ReviewItemAdmin(admin.ModelAdmin):
    """Borderline articles the model was unsure about; accepting or rejecting one is a hand
    decision (TagDecision), which sticks and becomes training data."""

    list_display = ["article", "tag", "probability_shown", "why", "created_at"]
    list_filter = ["tag"]
    list_select_related = ["article", "tag"]
    search_fields = ["article__title", "tag__name"]
    ordering = ["-probability"]
    actions = ["accept", "reject"]
    readonly_fields = ["article", "tag", "probability", "terms", "reason", "created_at"]

    @admin.display(description="probability", ordering="probability")
    def probability_shown(self, obj: ReviewItem) -> str:
        return f"{obj.probability:.2f}"

    @admin.display(description="why")
    def why(self, obj: ReviewItem) -> str:
        return explain_model_link(obj.probability, obj.terms)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def _decide(self, request: HttpRequest, queryset: QuerySet[ReviewItem], accept: bool) -> None:
        verb = linking.add_tag_by_hand if accept else linking.remove_tag_by_hand
        n = 0
        with transaction.atomic():
            for item in queryset.select_related("article", "tag"):
                verb(item.article, item.tag, request.user)
                item.delete()
                n += 1
        word = "accepted" if accept else "rejected"
        messages.success(request, f"{n_articles(n)} {word}; the decisions will train the model.")

    @admin.action(description="Accept: put the article on the topic", permissions=["delete"])
    def accept(self, request: HttpRequest, queryset: QuerySet[ReviewItem]) -> None:
        self._decide(request, queryset, accept=True)

    @admin.action(description="Reject: keep the article off the topic", permissions=["delete"])
    def reject(self, request: HttpRequest, queryset: QuerySet[ReviewItem]) -> None:
        self._decide(request, queryset, accept=False)


@admin.register(TopicModelVersion)
class TopicModelVersionAdmin(admin.ModelAdmin):
    list_display = ["version", "is_current", "n_examples", "cv_f1", "created_at", "note"]
    list_filter = ["is_current"]
    readonly_fields = [
        "version",
        "is_current",
        "n_examples",
        "trained_on",
        "cv_f1",
        "topics",
        "created_at",
        "note",
    ]
    fields = readonly_fields
    actions = ["train_now"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[TopicModelVersion]:
        return super().get_queryset(request).defer("data")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.action(description="Train a new version now", permissions=["view"])
    def train_now(self, request: HttpRequest, queryset) -> None:
        run = modelling.start_training("asked for in the admin")
        messages.info(request, f"Training run {run.pk} queued.")


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ["__str__", "state", "reason", "accepted", "result", "created_at"]
    list_filter = ["state"]
    readonly_fields = [
        "state",
        "reason",
        "result",
        "accepted",
        "message",
        "created_at",
        "finished_at",
    ]
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
