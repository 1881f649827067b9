"""Sources, feeds, articles and what ingestion records about them.

Models own their state and their queries; multi-step changes live in `articles.ingest`.
"""

from __future__ import annotations

import zlib
from datetime import timedelta
from functools import cache

from django.db import models
from django.db.models import F, Q
from django.urls import get_script_prefix, reverse
from django.utils import timezone

from articles.blocks import paragraph_blocks, sanitize_blocks

_SENTINEL = "9876543210"


def url_pattern(name: str) -> str:
    """A named URL with one argument as a format string, reversed once per process.

    Listing pages link dozens of articles and topics; `reverse()` for each costs more than the
    rest of a link's rendering.
    """
    return get_script_prefix() + _path_pattern(name)


@cache
def _path_pattern(name: str) -> str:
    path = reverse(name, args=[_SENTINEL]).removeprefix(get_script_prefix())
    return path.replace(_SENTINEL, "{}")


class Source(models.Model):
    """A publisher: one site, named after itself, not after the host it happens to live on.

    A source is keyed by its site's address (`url`, e.g. https://example.org/ or, for several
    publishers sharing one host, https://example.org/ledger/), so three publications behind one
    host are three sources. Its name comes from the best evidence seen so far (the host, then
    the feed's title, then the pages' own `og:site_name`) until an editor sets one by hand.
    """

    class NameOrigin(models.TextChoices):
        HOST = "host", "Host name"
        FEED = "feed", "Feed title"
        PAGE = "page", "The site's own name (og:site_name)"
        EDITOR = "editor", "Editor"

    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=253, db_index=True)
    url = models.URLField(max_length=2000, blank=True)
    # Database defaults too: bulk loaders (bench/generate.py's COPY) name only older columns.
    name_origin = models.CharField(
        max_length=10,
        choices=NameOrigin.choices,
        default=NameOrigin.HOST,
        db_default=NameOrigin.HOST,
        editable=False,
    )
    full_text_licensed = models.BooleanField(
        "full text licensed",
        default=False,
        db_default=False,
        help_text="Tick only when the publisher's licence lets us republish whole articles "
        "(e.g. CC BY). Otherwise readers get our summary and a link to the original.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["url"], condition=~Q(url=""), name="source_unique_site_url"
            )
        ]

    def __str__(self) -> str:
        return self.name or self.domain


class FeedQuerySet(models.QuerySet["Feed"]):
    def due(self, now=None) -> FeedQuerySet:
        now = now or timezone.now()
        return self.filter(is_active=True, next_poll_at__lte=now).filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
        )


class Feed(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "Not polled yet"
        OK = "ok", "OK"
        NOT_MODIFIED = "not_modified", "Not modified"
        ERROR = "error", "Error"
        DISABLED = "disabled", "Disabled"

    url = models.URLField(max_length=2000, unique=True)
    title = models.CharField(max_length=500, blank=True)
    site_url = models.URLField(max_length=2000, blank=True)
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="feeds"
    )
    is_active = models.BooleanField(default=True)
    default_tags = models.ManyToManyField(
        "tags.Tag",
        blank=True,
        related_name="default_for_feeds",
        help_text="Every article from this feed gets these topics.",
    )

    etag = models.CharField(max_length=500, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    poll_interval = models.PositiveIntegerField(
        default=3600, help_text="Seconds between polls; adapts to how often the feed publishes."
    )
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(default=timezone.now, db_index=True)
    # A poll claims the feed until this time; a worker that died leaves a claim that expires.
    claimed_until = models.DateTimeField(null=True, blank=True)
    # Set when the feed is claimed at enqueue time and carried by the poll message: the first
    # delivery takes it, any copy of the message finds it gone and does nothing.
    claim_token = models.CharField(max_length=32, blank=True, editable=False, db_default="")
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    last_http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    disabled_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = FeedQuerySet.as_manager()

    class Meta:
        ordering = ["title", "url"]
        indexes = [models.Index(fields=["is_active", "next_poll_at"], name="feed_due_idx")]

    def __str__(self) -> str:
        return self.title or self.url

    @property
    def state(self) -> str:
        """Where the feed's work stands: disabled, claimed (a poll is queued or running), or
        waiting for its next poll (the last one having been polled or failed)."""
        if not self.is_active:
            return "disabled"
        if self.claimed_until and self.claimed_until > timezone.now():
            return "claimed"
        return "due" if self.next_poll_at <= timezone.now() else "waiting"

    def claim(self, seconds: int) -> bool:
        """Take the feed for one poll. The row count decides which worker owns it."""
        now = timezone.now()
        claimed = (
            Feed.objects.filter(pk=self.pk, is_active=True)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .update(claimed_until=now + timedelta(seconds=seconds))
        )
        return claimed == 1


class ArticleQuerySet(models.QuerySet["Article"]):
    def visible(self) -> ArticleQuerySet:
        return self.filter(is_hidden=False, status=Article.Status.OK, duplicate_of__isnull=True)


class ExtractionPath(models.TextChoices):
    FAST = "fast", "Fast pass"
    FALLBACK = "fallback", "Full pass with fallbacks (fast pass found too little)"
    PRECISION = "precision", "Precision mode (fast pass took more than the article)"
    FULL = "full", "Full pass in precision mode (precision mode was not enough)"


class Article(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be fetched"
        FETCHED = "fetched", "Fetched, waiting to be extracted"
        OK = "ok", "Extracted"
        FAILED = "failed", "Extraction failed"
        DUPLICATE = "duplicate", "Duplicate of another article"

    class SummarySource(models.TextChoices):
        NONE = "", "None"
        EDITOR = "editor", "Editor"
        FEED = "feed", "Feed description"
        META = "meta", "Page description"
        LEAD = "lead", "Lead of the text"

    url = models.URLField("canonical URL", max_length=2000, unique=True)
    guid = models.CharField(max_length=2000, blank=True)
    source = models.ForeignKey(
        Source, null=True, blank=True, on_delete=models.SET_NULL, related_name="articles"
    )
    feeds = models.ManyToManyField(Feed, through="ArticleFeed", related_name="articles")

    title = models.CharField(max_length=500, blank=True)
    author = models.CharField(max_length=300, blank=True)
    site_name = models.CharField(max_length=200, blank=True)
    published_at = models.DateTimeField(
        help_text="The feed's date, else the page's, else when first seen."
    )
    first_seen_at = models.DateTimeField(default=timezone.now)
    summary = models.TextField(blank=True)
    summary_source = models.CharField(
        max_length=10, choices=SummarySource.choices, blank=True, default=""
    )
    editor_summary = models.TextField(
        blank=True, help_text="Written by an editor; wins over every automatic summary."
    )
    text = models.TextField(
        blank=True, help_text="Extracted text, paragraphs separated by a blank line."
    )
    # The article's shape for its page (see articles.blocks); `text` stays the plain text that
    # search, tagging and summaries read. Empty for articles extracted before blocks existed.
    blocks = models.JSONField(
        default=list, blank=True, help_text="Headings, paragraphs, lists, quotes and code."
    )
    extraction_path = models.CharField(
        max_length=10,
        choices=ExtractionPath.choices,
        blank=True,
        help_text="Which extraction pass produced the text.",
    )
    extraction_signals = models.JSONField(
        default=dict, blank=True, help_text="The measurements that chose the extraction pass."
    )
    language = models.CharField(max_length=8, blank=True)
    word_count = models.PositiveIntegerField(default=0)
    image_url = models.URLField(max_length=2000, blank=True)
    categories = models.JSONField(default=list, blank=True)
    keywords = models.JSONField(default=list, blank=True)
    content_hash = models.CharField(max_length=64, blank=True, db_index=True)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates"
    )

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    error = models.TextField(blank=True)
    fetch_attempts = models.PositiveSmallIntegerField(default=0)
    fetched_at = models.DateTimeField(null=True, blank=True)
    # When the article's next step was last handed to a worker; the sweep re-sends work whose
    # message was lost (a crash, a broker restart) once this is older than NEWSDESK_STUCK_AFTER.
    queued_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A worker fetching the article holds it until then (a conditional UPDATE takes it), so two
    # fetch messages for it never fetch it twice at once; a crashed worker's claim runs out. The
    # claim names the message (its task id): that message's own retry may take it again.
    fetch_claimed_until = models.DateTimeField(null=True, blank=True, editable=False)
    fetch_claim = models.CharField(max_length=64, blank=True, editable=False, db_default="")
    # Set by the tagger once it has placed an extracted article: extracted and not tagged is work.
    tagged_at = models.DateTimeField(null=True, blank=True, editable=False)
    # "host[:port]" of the article's URL: fetch work is dispatched round-robin over these.
    fetch_host = models.CharField(max_length=260, blank=True, editable=False, db_default="")
    is_hidden = models.BooleanField(default=False)
    # Editor-owned: once an editor has written the title, extraction never replaces it.
    title_by_editor = models.BooleanField(default=False, editable=False, db_default=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ArticleQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-id"]
        indexes = [
            models.Index(F("published_at").desc(), F("id").desc(), name="article_listing_idx"),
            # The dispatcher and the sweep read only the unfinished few, never the archive.
            models.Index(
                "fetch_host",
                "id",
                name="article_pending_host_idx",
                condition=Q(status="pending"),
            ),
            models.Index(
                "queued_at",
                name="article_unfinished_idx",
                condition=Q(status__in=["pending", "fetched"])
                | Q(status="ok", tagged_at__isnull=True),
            ),
            # The site feed's Last-Modified is the newest edit to any article: one index read.
            models.Index(fields=["updated_at"], name="article_updated_idx"),
        ]

    def __str__(self) -> str:
        return self.title or self.url

    def get_absolute_url(self) -> str:
        return url_pattern("article").format(self.pk)

    @property
    def paragraphs(self) -> list[str]:
        return [p for p in self.text.split("\n\n") if p.strip()]

    @property
    def body_blocks(self) -> list[dict]:
        """The blocks to render: the stored ones, checked again, else the text's paragraphs."""
        return sanitize_blocks(self.blocks) or paragraph_blocks(self.text)

    @property
    def is_visible(self) -> bool:
        return not self.is_hidden and self.status == self.Status.OK and self.duplicate_of_id is None


class ArticleFeed(models.Model):
    """An article as one feed announced it: the same story from two feeds is two of these."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="feed_entries")
    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="entries")
    guid = models.CharField(max_length=2000)
    entry_title = models.CharField(max_length=500, blank=True)
    entry_summary = models.TextField(blank=True)
    entry_published = models.DateTimeField(null=True, blank=True)
    categories = models.JSONField(default=list, blank=True)
    first_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["feed", "article"], name="articlefeed_unique"),
            models.UniqueConstraint(fields=["feed", "guid"], name="articlefeed_guid_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.feed_id}:{self.guid}"


class RawPage(models.Model):
    """The fetched HTML, compressed, so extraction can be re-run without fetching again."""

    article = models.OneToOneField(
        Article, primary_key=True, on_delete=models.CASCADE, related_name="raw_page"
    )
    url = models.URLField("final URL", max_length=2000)
    fetched_at = models.DateTimeField(default=timezone.now, db_index=True)
    http_status = models.PositiveSmallIntegerField()
    content_type = models.CharField(max_length=200, blank=True)
    charset = models.CharField(max_length=50, blank=True)
    size = models.PositiveIntegerField(help_text="Uncompressed bytes.")
    body = models.BinaryField(help_text="zlib-compressed page bytes.")

    def __str__(self) -> str:
        return self.url

    @staticmethod
    def compress(body: bytes) -> bytes:
        # Level 1: a fifth the CPU of level 6 for pages about 20% larger; pages expire anyway.
        return zlib.compress(body, 1)

    def html(self) -> bytes:
        return zlib.decompress(bytes(self.body))


class PollLog(models.Model):
    """One poll of one feed, for operators."""

    feed = models.ForeignKey(Feed, on_delete=models.CASCADE, related_name="polls")
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    duration_ms = models.PositiveIntegerField(default=0)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Feed.Status.choices)
    entries_seen = models.PositiveIntegerField(default=0)
    entries_new = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["feed", "-started_at"], name="polllog_feed_idx")]

    def __str__(self) -> str:
        return f"{self.feed_id} at {self.started_at:%Y-%m-%d %H:%M}: {self.outcome}"
