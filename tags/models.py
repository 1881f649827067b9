"""Topics, their rules, and the links between articles and topics.

A tag's rules (name, aliases, exclusions, options) are data that editors change in the admin;
`tags.matching` turns them into one matcher. Every link records why it exists.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.text import slugify

from articles.models import url_pattern


class TagQuerySet(models.QuerySet["Tag"]):
    def active(self) -> TagQuerySet:
        return self.filter(is_active=True, merged_into__isnull=True)


class Tag(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True, allow_unicode=False)
    description = models.CharField(
        max_length=300,
        blank=True,
        help_text='One line shown under the heading, e.g. "Latest news and articles about …".',
    )
    is_active = models.BooleanField(default=True)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="children",
        help_text="Articles in this topic also list under the parent.",
    )
    title_and_summary_only = models.BooleanField(
        default=False, help_text="Match only in the title, summary and keywords, not the text."
    )
    min_score = models.FloatField(
        default=1.0,
        help_text="Title hits score 3, summary and keyword hits 2, text hits 1 each.",
    )
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_from",
        help_text="Set by a merge: this tag's page redirects to that one.",
    )
    # Denormalised: every tag page and the index show it. Kept exact by tags.linking.
    article_count = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    rules_changed_at = models.DateTimeField(default=timezone.now, editable=False)
    # Moved by every write that changes what this topic's page or feed shows (tags.freshness):
    # its validators are built from it, so an edited summary never answers 304 to an old copy.
    content_changed_at = models.DateTimeField(
        default=timezone.now, db_default=Now(), editable=False
    )

    objects = TagQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if not self.slug:
            self.slug = slugify(self.name)[:100]
        if not self.description:
            self.description = f"Latest news and articles about {self.name}"
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return url_pattern("tag").format(self.slug)

    def clean(self) -> None:
        if self.parent_id and self.parent_id == self.pk:
            raise ValidationError({"parent": "A topic cannot be its own parent."})
        ancestor, seen = self.parent, set()
        while ancestor is not None:
            if ancestor.pk == self.pk or ancestor.pk in seen:
                raise ValidationError({"parent": "That parent would make a loop of topics."})
            seen.add(ancestor.pk)
            ancestor = ancestor.parent
        if not slugify(self.name) and not self.slug:
            raise ValidationError({"slug": "The name has no letters to make a URL from."})

    def ancestor_ids(self) -> list[int]:
        ids, node, seen = [], self.parent, {self.pk}
        while node is not None and node.pk not in seen:
            ids.append(node.pk)
            seen.add(node.pk)
            node = node.parent
        return ids


class Alias(models.Model):
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="aliases")
    phrase = models.CharField(
        max_length=200, help_text="Matched as whole words; plurals and hyphenation are automatic."
    )
    case_sensitive = models.BooleanField(
        default=False,
        help_text='Match this exact spelling only, e.g. "US" but not "us"; no plurals.',
    )

    class Meta:
        verbose_name_plural = "aliases"
        constraints = [
            models.UniqueConstraint(fields=["tag", "phrase"], name="alias_unique_per_tag")
        ]

    def __str__(self) -> str:
        return self.phrase


class Exclusion(models.Model):
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="exclusions")
    phrase = models.CharField(
        max_length=200, help_text="If this phrase occurs in an article, the topic is not applied."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tag", "phrase"], name="exclusion_unique_per_tag")
        ]

    def __str__(self) -> str:
        return self.phrase


class ArticleTag(models.Model):
    class Origin(models.TextChoices):
        RULE = "rule", "Matched rule"
        FEED = "feed", "Feed default"
        CATEGORY = "category", "Article's own categories or hashtags"
        PARENT = "parent", "Child topic"
        EDITOR = "editor", "Editor"

    article = models.ForeignKey(
        "articles.Article", on_delete=models.CASCADE, related_name="article_tags"
    )
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="article_tags")
    origin = models.CharField(max_length=10, choices=Origin.choices)
    score = models.FloatField(default=0)
    terms = models.JSONField(default=dict, blank=True, help_text="Matched phrase → count.")
    # Copied from the article so a tag page is one index range scan, newest first.
    published_at = models.DateTimeField()
    is_visible = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["article", "tag"], name="articletag_unique")]
        indexes = [
            models.Index(
                "tag",
                models.F("published_at").desc(),
                models.F("article").desc(),
                name="articletag_listing_idx",
                condition=models.Q(is_visible=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.article_id} → {self.tag_id} ({self.origin})"


class TagDecision(models.Model):
    """An editor's hand decision about one article and one tag; re-running rules respects it."""

    class Decision(models.TextChoices):
        ADD = "add", "Added by hand"
        REMOVE = "remove", "Removed by hand"

    article = models.ForeignKey(
        "articles.Article", on_delete=models.CASCADE, related_name="tag_decisions"
    )
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="decisions")
    decision = models.CharField(max_length=6, choices=Decision.choices)
    editor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["article", "tag"], name="tagdecision_unique")
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()}: {self.tag_id} on {self.article_id}"


class RetagJob(models.Model):
    """Re-running the rules over existing articles, in batches, with visible progress."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    tag = models.ForeignKey(
        Tag, null=True, blank=True, on_delete=models.CASCADE, related_name="retag_jobs"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    last_article_id = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        scope = self.tag.name if self.tag_id else "all topics"
        return f"Retag {scope}: {self.state} {self.done}/{self.total}"

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, round(100 * self.done / self.total))
