"""Topics, their rules, and the links between articles and topics.

A tag's rules (name, aliases, exclusions, options) are data that editors change in the admin;
`tags.matching` turns them into one matcher. Every link records why it exists.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower, Now
from django.utils import timezone
from django.utils.text import slugify

from articles.models import url_pattern
from newsdesk.jobs import ChunkedJob


class TagQuerySet(models.QuerySet["Tag"]):
    def active(self) -> TagQuerySet:
        return self.filter(is_active=True, merged_into__isnull=True)


class TaggingMode(models.TextChoices):
    RULES = "rules", "Rules only"
    RULES_AND_MODEL = "rules+model", "Rules, checked and completed by the model"
    MODEL = "model", "Model only"


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
        validators=[MinValueValidator(0.0)],
        help_text="Title hits score 3, summary and keyword hits 2, text hits 1 each.",
    )
    # Prominence: where the aliases occur decides whether a match is published (tags.matching).
    name_is_alias = models.BooleanField(
        "match the name",
        default=True,
        help_text="Also match the topic's name like an alias. Untick it when the name is a "
        'common word ("Interest") and list the phrases that mean the topic instead.',
    )
    strong_body_mentions = models.PositiveSmallIntegerField(
        "body mentions to publish",
        default=3,
        validators=[MinValueValidator(1)],
        help_text="A topic found in the title, summary, first paragraph or the article's own "
        "labels is published. Found only further down the text, it needs this many mentions; "
        "fewer make a weak match. Mentions inside company names "
        '("Kiena Gold Mines Ltd") never count.',
    )
    publish_weak = models.BooleanField(
        "publish weak matches",
        default=False,
        help_text="List and count weak matches (a single passing mention, a company name) on "
        "the topic page too. Weak matches are always recorded on the article, with why.",
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
    # The entries on the page: visible links that represent their story here (tags.folding).
    # Kept exact in the same places as article_count; equal to it when no story has two members.
    story_count = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    rules_changed_at = models.DateTimeField(default=timezone.now, editable=False)
    # How rules and the topic model combine for this topic (tags.combining).
    tagging_mode = models.CharField(
        "tagging",
        max_length=12,
        choices=TaggingMode.choices,
        default=TaggingMode.RULES,
        help_text="Rules only, rules checked by the topic model, or the model alone. A topic "
        "without a model (too few labelled articles) uses its rules whatever is chosen.",
    )
    model_publish_at = models.FloatField(
        "model publishes at",
        default=0.6,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Probability at or above which the model puts an article on the page.",
    )
    model_review_at = models.FloatField(
        "model asks for review at",
        default=0.35,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Between this and the publish level, articles go to the review queue.",
    )
    model_veto_at = models.FloatField(
        "model overrules a rule match below",
        default=0.1,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Rules + model only: a strong rule match whose model probability is below "
        "this is kept off the page (recorded as vetoed). 0: the model never overrules.",
    )
    # Moved by every write that changes what this topic's page or feed shows (tags.freshness):
    # its validators are built from it, so an edited summary never answers 304 to an old copy.
    content_changed_at = models.DateTimeField(
        default=timezone.now, db_default=Now(), editable=False
    )

    objects = TagQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        # Readers and editors call them topics; the code keeps the shorter name.
        verbose_name = "topic"
        constraints = [
            # "Magnets" and "magnets" are one topic to readers (see tags.names).
            models.UniqueConstraint(
                Lower("name"),
                name="tag_name_unique_ignoring_case",
                violation_error_message="Another topic already has this name in another case.",
            )
        ]

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
        if self.model_review_at > self.model_publish_at:
            raise ValidationError(
                {"model_review_at": "The review level must not be above the publish level."}
            )
        if self.model_veto_at > self.model_publish_at:
            raise ValidationError(
                {"model_veto_at": "The veto level must not be above the publish level."}
            )
        if not slugify(self.name) and not self.slug:
            raise ValidationError({"slug": "The name has no letters to make a URL from."})
        self._refuse_taken_name()

    def _refuse_taken_name(self) -> None:
        """Names differing only in case are one topic to readers: name the one that has it."""
        if not self.name:
            return
        other = (
            Tag.objects.filter(name__iexact=self.name.strip())
            .exclude(pk=self.pk)
            .select_related("merged_into")
            .first()
        )
        if other is not None:
            where = f" (merged into {other.merged_into.name})" if other.merged_into else ""
            raise ValidationError(
                {"name": f"The topic “{other.name}”{where} already has this name."}
            )

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
        MODEL = "model", "Topic model"
        # A strong rule match the topic model overruled (rules+model): kept, not published;
        # ``score`` holds the model's probability.
        VETOED = "vetoed", "Rule match vetoed by the topic model"

    article = models.ForeignKey(
        "articles.Article", on_delete=models.CASCADE, related_name="article_tags"
    )
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="article_tags")
    origin = models.CharField(max_length=10, choices=Origin.choices)
    score = models.FloatField(default=0)
    terms = models.JSONField(default=dict, blank=True, help_text="Matched phrase → count.")
    # False for a weak rule match: kept to explain and to learn from, listed and counted
    # (is_visible) only when its topic publishes weak matches.
    strong = models.BooleanField(default=True)
    # Where the terms were found: [[field, start, end, term, in_name], …] (tags.matching.Hit).
    hits = models.JSONField(default=list, blank=True)
    # Copied from the article so a tag page is one index range scan, newest first.
    published_at = models.DateTimeField()
    is_visible = models.BooleanField(default=True)
    # This link is its story's entry on this topic's page (tags.folding): the story's lead if
    # the lead carries the topic visibly, else the earliest visible member that does. An article
    # in no story represents itself. The page lists links that are visible and represent.
    represents = models.BooleanField(default=True, db_default=True)
    # The article's story, copied from its membership by the fold (tags.folding), so that the
    # fold finds a story's entry on a topic, and its earliest visible member there, through
    # one index (articletag_story_topic_idx) whatever the story's size. None: in no story.
    story = models.ForeignKey(
        "stories.Story",
        null=True,
        blank=True,
        editable=False,
        db_index=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "article topic"
        constraints = [models.UniqueConstraint(fields=["article", "tag"], name="articletag_unique")]
        indexes = [
            # Every visible link: the weekly chart, related articles, the newest link.
            models.Index(
                "tag",
                models.F("published_at").desc(),
                models.F("article").desc(),
                name="articletag_listing_idx",
                condition=models.Q(is_visible=True),
            ),
            # One entry per story: what a topic page and feed list.
            models.Index(
                "tag",
                models.F("published_at").desc(),
                models.F("article").desc(),
                name="articletag_story_listing_idx",
                condition=models.Q(is_visible=True, represents=True),
            ),
            # The fold: a story's entries (represents, by topic), and per topic its members'
            # links in date order.
            models.Index(
                "story",
                "represents",
                "tag",
                "published_at",
                "article",
                name="articletag_story_topic_idx",
                condition=models.Q(story__isnull=False),
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
        verbose_name = "hand decision"
        constraints = [
            models.UniqueConstraint(fields=["article", "tag"], name="tagdecision_unique")
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()}: {self.tag_id} on {self.article_id}"


class RetagJob(ChunkedJob):
    """Work over many articles after a rule change, a delete or a merge: queued, then run in
    chunks (each its own task, resumable from `last_article_id`) until done, failed, or
    superseded by a newer job over the same topic (`newsdesk.jobs`).

    The first chunk takes the job's scope once, into `RetagScope` rows (its article ids, in id
    order); every chunk walks them, so progress is done/total of a fixed set."""

    class Kind(models.TextChoices):
        RETAG = "retag", "Re-run the rules"
        DELETE = "delete", "Delete the topic"
        MERGE = "merge", "Merge the topic"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.RETAG)
    # A topic being deleted outlives its job's rows only as a name: the job keeps that.
    tag = models.ForeignKey(
        Tag, null=True, blank=True, on_delete=models.SET_NULL, related_name="retag_jobs"
    )
    tag_name = models.CharField(max_length=100, blank=True)
    target = models.ForeignKey(
        Tag, null=True, blank=True, on_delete=models.SET_NULL, related_name="merge_jobs"
    )
    # The scope: every extracted article, or only the topic's links and its aliases' matches.
    whole_archive = models.BooleanField(default=False)
    phrases = models.JSONField(default=list, blank=True)
    # The topics whose links the job may rewrite (empty: all). A topic's rule change can only
    # change its own links and its ancestors' (tags.retagging.affected_topics).
    topics = models.JSONField(default=list, blank=True)
    # Whether its first chunk has taken the scope into RetagScope rows (and set `total`).
    scope_taken = models.BooleanField(default=False)
    # What readers will see change, per topic and (the first 200) per article: tags.jobchanges.
    changes = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        scope = self.tag_name or (self.tag.name if self.tag_id else "all topics")
        verb = {"retag": "Retag", "delete": "Delete", "merge": "Merge"}[self.kind]
        return f"{verb} {scope}: {self.state} {self.done}/{self.total}"


class RetagScope(models.Model):
    """A run of a job's scope: up to a thousand article ids, in id order. Rows rather than one
    row per article: half a million ids are a few hundred small rows to write and to drop."""

    job = models.ForeignKey(RetagJob, on_delete=models.CASCADE, related_name="scope_parts")
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    ids = models.JSONField(default=list)

    class Meta:
        indexes = [models.Index(fields=["job", "last_id"], name="retagscope_job_last")]

    def __str__(self) -> str:
        return f"job {self.job_id}: {self.first_id}..{self.last_id}"


# --- Topic models: labelled examples, trained versions, training runs, the review queue ----------


class LabelledExample(models.Model):
    """An article from a labelled archive (``manage.py importlabels``), used only for training."""

    source = models.CharField(max_length=200, help_text="The file it was imported from.")
    external_id = models.CharField(max_length=100)
    title = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    date = models.DateTimeField(null=True, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="labelled_examples")
    # The archive's own codes, as written, mapped or not.
    codes = models.JSONField(default=list, blank=True)
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="labelledexample_unique_per_source"
            )
        ]

    def __str__(self) -> str:
        return self.title or self.external_id


class TopicModelVersion(models.Model):
    """One trained topic model; the current one tags articles (see tags.modelling)."""

    version = models.CharField(max_length=32, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    data = models.BinaryField(help_text="tags.learning.TopicModel.to_bytes()")
    n_examples = models.PositiveIntegerField("training-set size", default=0)
    # Where the examples came from: imported, editors' additions and removals.
    trained_on = models.JSONField(default=dict, blank=True)
    # slug -> {"positives": n, "skipped": reason | None,
    #          "cv": {mode: {"precision": p, "recall": r, "f1": f}}}
    topics = models.JSONField(default=dict, blank=True)
    cv_f1 = models.FloatField("CV micro-F1", default=0.0)
    is_current = models.BooleanField(default=False)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_current"],
                condition=models.Q(is_current=True),
                name="topicmodel_one_current",
            )
        ]

    def __str__(self) -> str:
        return f"Topic model {self.version}"


class TrainingRun(models.Model):
    """A request to train the topic models, run by a worker (or ``manage.py trainmodels``)."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    reason = models.CharField(max_length=200, blank=True)
    result = models.ForeignKey(
        TopicModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    accepted = models.BooleanField(default=False)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Training {self.pk}: {self.state}"


class ReviewItem(models.Model):
    """A borderline article for one topic: an editor accepts or rejects it."""

    article = models.ForeignKey(
        "articles.Article", on_delete=models.CASCADE, related_name="review_items"
    )
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="review_items")
    probability = models.FloatField()
    terms = models.JSONField(default=dict, blank=True, help_text="Top model terms → weight.")
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["article", "tag"], name="reviewitem_unique")]

    def __str__(self) -> str:
        return f"Review {self.tag_id} on {self.article_id} ({self.probability:.2f})"
