"""Operators' admin: feeds and their health, sources, poll history, articles and their errors."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import Count, Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.defaultfilters import pluralize
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import Truncator

from articles import tasks
from articles.feedlist import export_opml, import_opml
from articles.models import Article, ArticleFeed, Feed, PollLog, RawPage, Source
from tags import linking
from tags.combining import explain_model_link
from tags.explaining import explain
from tags.models import ArticleTag, Tag, TagDecision


class HttpsUrlsMixin:
    # Django 6 assumes https for scheme-less URLs typed into forms; say so now.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


def is_operator(request: HttpRequest) -> bool:
    return request.user.has_perm("articles.change_feed")


@admin.register(Source)
class SourceAdmin(HttpsUrlsMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "name_origin",
        "url",
        "full_text_licensed",
        "feed_count",
        "article_count",
    ]
    list_filter = ["full_text_licensed", "name_origin"]
    search_fields = ["name", "domain", "url"]
    readonly_fields = ["name_origin"]

    def save_model(self, request: HttpRequest, obj: Source, form, change: bool) -> None:
        # A name an editor typed is never replaced by a feed title or og:site_name.
        if "name" in form.changed_data:
            obj.name_origin = Source.NameOrigin.EDITOR
        super().save_model(request, obj, form, change)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Source]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_feeds=Count("feeds", distinct=True), n_articles=Count("articles", distinct=True)
            )
        )

    @admin.display(ordering="n_feeds", description="feeds")
    def feed_count(self, obj: Source) -> int:
        return obj.n_feeds

    @admin.display(ordering="n_articles", description="articles")
    def article_count(self, obj: Source) -> int:
        return obj.n_articles


class PollLogInline(admin.TabularInline):
    model = PollLog
    fields = [
        "started_at",
        "outcome",
        "http_status",
        "entries_seen",
        "entries_new",
        "duration_ms",
        "error",
    ]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ["-started_at"]
    # Pruned after NEWSDESK_POLL_LOG_RETENTION_DAYS, so the list stays short.
    verbose_name_plural = "poll history (newest first)"


class AddFeedForm(forms.ModelForm):
    """Accepts a feed URL or a site URL; a site's page is searched for its feed."""

    class Meta:
        model = Feed
        fields = ["url", "title", "is_active", "poll_interval", "default_tags"]

    url = forms.URLField(max_length=2000, assume_scheme="https", label="URL")

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        if Feed.objects.filter(url=url).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("That feed is already here.")
        return url


@admin.register(Feed)
class FeedAdmin(HttpsUrlsMixin, admin.ModelAdmin):
    class Media:
        css = {"all": ["css/admin.css"]}

    list_display = [
        "__str__",
        "source",
        "health",
        "work_state",
        "is_active",
        "last_polled_at",
        "next_poll_at",
        "consecutive_failures",
        "short_error",
    ]
    list_filter = ["is_active", "last_status", "source"]
    list_select_related = ["source"]
    search_fields = ["url", "title", "site_url"]
    filter_horizontal = ["default_tags"]
    readonly_fields = [
        "source",
        "last_status",
        "last_http_status",
        "last_polled_at",
        "last_success_at",
        "next_poll_at",
        "claimed_until",
        "consecutive_failures",
        "last_error",
        "disabled_reason",
        "etag",
        "last_modified",
        "created_at",
    ]
    fieldsets = [
        (None, {"fields": ["url", "title", "site_url", "is_active", "default_tags"]}),
        (
            "Schedule",
            {
                "fields": [
                    "poll_interval",
                    "next_poll_at",
                    "last_polled_at",
                    "last_success_at",
                    "claimed_until",
                ]
            },
        ),
        (
            "Health",
            {
                "fields": [
                    "last_status",
                    "last_http_status",
                    "consecutive_failures",
                    "last_error",
                    "disabled_reason",
                ]
            },
        ),
        ("Conditional GET", {"classes": ["collapse"], "fields": ["etag", "last_modified"]}),
        (None, {"fields": ["source", "created_at"]}),
    ]
    inlines = [PollLogInline]
    actions = ["poll_now", "enable", "disable", "export_selected_as_opml"]
    change_list_template = "admin/articles/feed/change_list.html"

    def get_inlines(self, request, obj=None):
        return self.inlines if obj is not None else []

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = AddFeedForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [
                (
                    None,
                    {
                        "fields": ["url", "title", "is_active", "poll_interval", "default_tags"],
                        "description": "A feed URL, or a site's address: its page is "
                        "searched for a feed link.",
                    },
                )
            ]
        return super().get_fieldsets(request, obj)

    def save_model(self, request, obj: Feed, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change:
            return
        # No network in the request: a worker finds out whether the address is a feed or a
        # site naming one, then polls it. The list shows the feed's state meanwhile.
        transaction.on_commit(lambda: tasks.settle_new_feed.delay(obj.pk))
        messages.info(
            request,
            "The feed is queued: its first poll (and feed discovery) runs in the background.",
        )

    @admin.display(description="health", ordering="last_status")
    def health(self, obj: Feed) -> str:
        # A class, not a style attribute: the CSP (style-src 'self') covers the admin too.
        return format_html(
            '<strong class="feed-health feed-health-{}">{}</strong>',
            obj.last_status,
            obj.get_last_status_display(),
        )

    @admin.display(description="work")
    def work_state(self, obj: Feed) -> str:
        # A feed just added shows "claimed" while its first poll is queued or running.
        return obj.state

    @admin.display(description="last error")
    def short_error(self, obj: Feed) -> str:
        return Truncator(obj.disabled_reason or obj.last_error).chars(80)

    @admin.action(description="Poll now", permissions=["change"])
    def poll_now(self, request: HttpRequest, queryset: QuerySet[Feed]) -> None:
        n = tasks.poll_now(list(queryset.values_list("pk", flat=True)))
        messages.success(request, f"Asked for a poll of {n} feeds (those not already polling).")

    @admin.action(description="Enable (and clear failures)", permissions=["change"])
    def enable(self, request: HttpRequest, queryset: QuerySet[Feed]) -> None:
        n = queryset.update(
            is_active=True, consecutive_failures=0, disabled_reason="", next_poll_at=timezone.now()
        )
        messages.success(request, f"Enabled {n} feeds.")

    @admin.action(description="Disable", permissions=["change"])
    def disable(self, request: HttpRequest, queryset: QuerySet[Feed]) -> None:
        n = queryset.update(
            is_active=False,
            last_status=Feed.Status.DISABLED,
            disabled_reason=f"disabled by {request.user} on {timezone.now():%Y-%m-%d}",
        )
        messages.success(request, f"Disabled {n} feeds.")

    @admin.action(description="Export as OPML", permissions=["view"])
    def export_selected_as_opml(
        self, request: HttpRequest, queryset: QuerySet[Feed]
    ) -> HttpResponse:
        return opml_response(queryset)

    def get_urls(self):
        return [
            path(
                "import-opml/",
                self.admin_site.admin_view(self.import_opml_view),
                name="articles_feed_import_opml",
            ),
            path(
                "export-opml/",
                self.admin_site.admin_view(self.export_opml_view),
                name="articles_feed_export_opml",
            ),
            *super().get_urls(),
        ]

    def import_opml_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            return redirect("admin:index")
        form = OpmlImportForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            # The page lists every outline with what became of it (added, known, refused).
            report = form.cleaned_data["feeds"]
            messages.success(request, report.summary())
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "report": report,
            "title": "Import feeds from OPML",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/articles/feed/import_opml.html", context)

    def export_opml_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            return redirect("admin:index")
        return opml_response(Feed.objects.all())


def opml_response(feeds: QuerySet[Feed]) -> HttpResponse:
    body = export_opml(feeds.select_related("source").order_by("pk"))
    response = HttpResponse(body, content_type="text/x-opml; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="newsdesk-feeds.opml"'
    return response


class OpmlImportForm(forms.Form):
    file = forms.FileField(help_text="An OPML file exported from a feed reader.")

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("file")
        if upload is None:
            return cleaned
        if upload.size > 5 * 1024 * 1024:
            raise forms.ValidationError("That file is over 5 MB; no feed list is that long.")
        try:
            cleaned["feeds"] = import_opml(upload.read())
        except ValueError as exc:
            raise forms.ValidationError(f"That is not a readable OPML file: {exc}") from exc
        return cleaned


@admin.register(PollLog)
class PollLogAdmin(admin.ModelAdmin):
    list_display = [
        "started_at",
        "feed",
        "outcome",
        "http_status",
        "entries_seen",
        "entries_new",
        "duration_ms",
        "error",
    ]
    list_filter = ["outcome"]
    list_select_related = ["feed"]
    raw_id_fields = ["feed"]
    date_hierarchy = "started_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class HasErrorFilter(admin.SimpleListFilter):
    title = "extraction"
    parameter_name = "problem"

    def lookups(self, request, model_admin):
        return [
            ("error", "Failed or too short"),
            ("pending", "Not fetched yet"),
            ("duplicate", "Duplicates"),
        ]

    def queryset(self, request, queryset):
        statuses = {
            "error": Article.Status.FAILED,
            "pending": Article.Status.PENDING,
            "duplicate": Article.Status.DUPLICATE,
        }
        if self.value() in statuses:
            return queryset.filter(status=statuses[self.value()])
        return queryset


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


class ArticleFeedInline(admin.TabularInline):
    model = ArticleFeed
    fields = ["feed", "guid", "entry_title", "entry_published", "first_seen_at"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False


class TagChoiceForm(admin.helpers.ActionForm):
    tag = forms.ModelChoiceField(
        queryset=Tag.objects.active(), required=False, help_text="for the add/remove topic actions"
    )


# What ingestion recorded about an article: shown to editors, changed only by re-extraction.
EXTRACTION_FIELDS = [
    "status",
    "error",
    "language",
    "word_count",
    "site_name",
    "image_url",
    "categories",
    "keywords",
    "content_hash",
    "duplicate_of",
    "fetch_attempts",
    "fetched_at",
    "first_seen_at",
]


EXTRACTION_PATH_FIELDS = ["extraction_path", "extraction_reasons", "extraction_signals_table"]
_PASS_LABELS = {
    "fast": "fast pass",
    "fallback": "full pass, fallbacks",
    "precision": "precision mode",
    "full": "full pass, precision",
}
_PAGE_SIGNALS = {
    "ld_words": "words in the page's JSON-LD articleBody",
    "main_words": "words in the page's article element",
    "description_words": "words in the page's description",
}


def signal_reasons(signals: object) -> str:
    if not isinstance(signals, dict):
        return "-"
    reasons = signals.get("reasons")
    if isinstance(reasons, list) and reasons:
        return "; ".join(str(reason) for reason in reasons)
    return "none: the fast pass looked like one article" if signals else "-"


def signal_table(signals: object) -> str:
    """The page's own signals, then each pass run with its words, lines and line shares."""
    if not isinstance(signals, dict) or not signals:
        return "-"
    rows = [
        format_html("<tr><th>{}</th><td colspan=4>{}</td></tr>", label, signals[key])
        for key, label in _PAGE_SIGNALS.items()
        if key in signals
    ]
    rows.append(
        format_html(
            "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            "pass",
            "words",
            "lines",
            "link-text lines",
            "title-like lines",
        )
    )
    for key, label in _PASS_LABELS.items():
        measured = signals.get(key)
        if isinstance(measured, dict):
            rows.append(
                format_html(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    label,
                    measured.get("words", ""),
                    measured.get("lines", ""),
                    measured.get("link_lines", ""),
                    measured.get("title_lines", ""),
                )
            )
    return format_html("<table>{}</table>", format_html_join("", "{}", ((row,) for row in rows)))


@admin.register(Article)
class ArticleAdmin(HttpsUrlsMixin, admin.ModelAdmin):
    list_display = [
        "__str__",
        "source",
        "published_at",
        "status",
        "is_hidden",
        "word_count",
        "language",
        "short_error",
        "topics",
    ]
    list_filter = [HasErrorFilter, TopicFilter, "is_hidden", "language", "summary_source"]
    list_select_related = ["source"]
    search_fields = ["title", "url"]
    date_hierarchy = "published_at"
    raw_id_fields = ["source", "duplicate_of"]
    action_form = TagChoiceForm
    actions = ["hide", "unhide", "add_topic", "remove_topic", "retag", "reextract", "refetch"]
    inlines = [ArticleTagInline, ArticleFeedInline]
    change_form_template = "admin/articles/article/change_form.html"
    fieldsets = [
        (None, {"fields": ["title", "url_link", "source", "author", "published_at", "is_hidden"]}),
        ("Summary", {"fields": ["summary", "summary_source", "editor_summary"]}),
        ("Extraction", {"fields": EXTRACTION_FIELDS}),
        ("Extraction path", {"fields": EXTRACTION_PATH_FIELDS}),
        ("Text", {"classes": ["collapse"], "fields": ["text"]}),
    ]
    readonly_fields = [
        "hand_decisions",
        "hand_decisions_with_undo",
        "url_link",
        "source",
        "author",
        "published_at",
        "summary",
        "summary_source",
        *EXTRACTION_FIELDS,
        *EXTRACTION_PATH_FIELDS,
        "text",
    ]

    @admin.display(description="why this pass")
    def extraction_reasons(self, obj: Article) -> str:
        return signal_reasons(obj.extraction_signals)

    @admin.display(description="signals")
    def extraction_signals_table(self, obj: Article) -> str:
        return signal_table(obj.extraction_signals)

    @admin.display(description="URL")
    def url_link(self, obj: Article) -> str:
        return format_html(
            '<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>', obj.url, obj.url
        )

    @admin.display(description="error")
    def short_error(self, obj: Article) -> str:
        return Truncator(obj.error).chars(60)

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

    def save_model(self, request, obj: Article, form, change: bool) -> None:
        if change:
            self._save_editor_fields(obj, form)
        else:
            super().save_model(request, obj, form, change)
        if "is_hidden" in form.changed_data:
            linking.sync_visibility(obj)
        cleared_summary = "editor_summary" in form.changed_data and not obj.editor_summary.strip()
        if cleared_summary and RawPage.objects.filter(article=obj).exists():
            # Without the editor's words, the automatic summary comes back from the stored page.
            tasks.reextract_article.delay(obj.pk)

    @staticmethod
    def _save_editor_fields(obj: Article, form) -> None:
        """Write only what the editor changed: a fetch finishing meanwhile keeps its fields,
        and a title the editor wrote is theirs from then on."""
        fields = {name for name in form.changed_data if not obj._meta.get_field(name).many_to_many}
        if "title" in fields:
            obj.title_by_editor = True
            fields.add("title_by_editor")
        if "editor_summary" in fields:
            if obj.editor_summary.strip():
                obj.summary, obj.summary_source = (
                    obj.editor_summary.strip(),
                    Article.SummarySource.EDITOR,
                )
            else:
                obj.summary_source = ""
            fields |= {"summary", "summary_source"}
        if fields:
            obj.save(update_fields=[*sorted(fields), "updated_at"])

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

    @admin.action(description="Hide from readers", permissions=["change"])
    def hide(self, request, queryset):
        n = linking.set_hidden(queryset, True)
        messages.success(request, f"Hid {n} article{pluralize(n)}.")

    @admin.action(description="Show to readers again", permissions=["change"])
    def unhide(self, request, queryset):
        n = linking.set_hidden(queryset, False)
        messages.success(request, f"Unhid {n} article{pluralize(n)}.")

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

    @admin.action(description="Re-run extraction from the stored page", permissions=["operate"])
    def reextract(self, request, queryset):
        ids = list(queryset.filter(raw_page__isnull=False).values_list("pk", flat=True))
        for article_id in ids:
            tasks.reextract_article.delay(article_id)
        n = len(ids)
        messages.success(
            request, f"Re-extracting {n} article{pluralize(n)} (those with a stored page)."
        )

    @admin.action(description="Fetch again", permissions=["operate"])
    def refetch(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        Article.objects.filter(pk__in=ids).update(
            status=Article.Status.PENDING, fetch_attempts=0, queued_at=None
        )
        tasks.dispatch_fetches.delay()
        messages.success(request, f"Fetching {len(ids)} article{pluralize(len(ids))} again.")

    def has_operate_permission(self, request) -> bool:
        return is_operator(request)

    def view_on_site(self, obj: Article) -> str:
        return reverse("article", args=[obj.pk])
