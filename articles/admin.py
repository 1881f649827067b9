"""Operators' admin: feeds and their health, sources, poll history, articles and their errors."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import models, transaction
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.defaultfilters import pluralize
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from articles import signals, tasks
from articles.feedlist import export_opml, import_opml
from articles.models import Article, ArticleFeed, Feed, PollLog, RawPage, Source


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


class ArticleFeedInline(admin.TabularInline):
    model = ArticleFeed
    fields = ["feed", "guid", "entry_title", "entry_published", "first_seen_at"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False


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


def set_hidden(articles: QuerySet[Article], hidden: bool) -> int:
    """Hide or show articles, each announced so that its listings follow (tags.signals)."""
    changed = 0
    for article in articles:
        if article.is_hidden != hidden:
            article.is_hidden = hidden
            article.save(update_fields=["is_hidden", "updated_at"])
            signals.article_visibility_changed.send(sender=Article, article=article)
            changed += 1
    return changed


@admin.register(Article)
class ArticleAdmin(HttpsUrlsMixin, admin.ModelAdmin):
    """What ingestion knows about an article. Topics, hand decisions and their actions are
    added by the tags app (tags.article_admin), which registers its subclass in this one's
    place: ingestion imports nothing from tagging."""

    list_display = [
        "__str__",
        "source",
        "published_at",
        "status",
        "is_hidden",
        "word_count",
        "language",
        "short_error",
    ]
    list_filter = [HasErrorFilter, "is_hidden", "language", "summary_source"]
    list_select_related = ["source"]
    search_fields = ["title", "url"]
    date_hierarchy = "published_at"
    raw_id_fields = ["source", "duplicate_of"]
    actions = ["hide", "unhide", "reextract", "refetch"]
    inlines = [ArticleFeedInline]
    fieldsets = [
        (None, {"fields": ["title", "url_link", "source", "author", "published_at", "is_hidden"]}),
        ("Summary", {"fields": ["summary", "summary_source", "editor_summary"]}),
        ("Extraction", {"fields": EXTRACTION_FIELDS}),
        ("Extraction path", {"fields": EXTRACTION_PATH_FIELDS}),
        ("Text", {"classes": ["collapse"], "fields": ["text"]}),
    ]
    readonly_fields = [
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

    def save_model(self, request, obj: Article, form, change: bool) -> None:
        if change:
            self._save_editor_fields(obj, form)
        else:
            super().save_model(request, obj, form, change)
        if "is_hidden" in form.changed_data:
            signals.article_visibility_changed.send(sender=Article, article=obj)
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

    @admin.action(description="Hide from readers", permissions=["change"])
    def hide(self, request, queryset):
        n = set_hidden(queryset, True)
        messages.success(request, f"Hid {n} article{pluralize(n)}.")

    @admin.action(description="Show to readers again", permissions=["change"])
    def unhide(self, request, queryset):
        n = set_hidden(queryset, False)
        messages.success(request, f"Unhid {n} article{pluralize(n)}.")

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
