"""Stories: the articles that tell one event, from any number of publishers.

An article belongs to at most one story (``StoryMembership``); every article that has been
through story assignment has one, even when it is the story's only member. The pure clustering
lives in ``stories.clustering``; these tables are its state in the database.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from articles.models import Article
from newsdesk.jobs import ChunkedJob


class Story(models.Model):
    # The article the story is shown by: the earliest full member, unless an editor chose one.
    lead = models.ForeignKey(
        "articles.Article", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    lead_chosen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Denormalised from the members, kept by the one place that changes membership.
    article_count = models.PositiveIntegerField(default=0)
    source_count = models.PositiveIntegerField(default=0)
    first_published_at = models.DateTimeField(null=True, blank=True)
    last_published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # A story merged into another (by the merge pass or an editor) keeps its id for redirects.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "stories"

    def __str__(self) -> str:
        return f"Story {self.pk} ({self.article_count} articles)"


class MembershipQuerySet(models.QuerySet):
    def of_visible_articles(self) -> "MembershipQuerySet":
        """Memberships whose article a reader sees (`Article.objects.visible()`, as joins)."""
        return self.filter(
            article__is_hidden=False,
            article__status=Article.Status.OK,
            article__duplicate_of__isnull=True,
        )


class StoryMembership(models.Model):
    article = models.OneToOneField(
        "articles.Article",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="story_membership",
    )
    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="memberships")
    # Similarity to the story when it joined; 1.0 for a near-duplicate, 0.0 for a new story.
    score = models.FloatField(default=0)
    near_duplicate_of = models.ForeignKey(
        "articles.Article", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # An editor placed the article here (split out or moved): re-assignment leaves it alone.
    pinned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Copied from the article so the story page is one index range scan, newest first.
    published_at = models.DateTimeField()
    # Copied from the article when it joins, so whether its publisher is new to the story (the
    # story's source count) is one probe of storymembership_source_idx, whatever its size.
    source = models.ForeignKey(
        "articles.Source",
        null=True,
        blank=True,
        db_index=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    joined_at = models.DateTimeField(default=timezone.now)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(
                "story",
                models.F("published_at").desc(),
                models.F("article").desc(),
                name="storymembership_listing_idx",
            ),
            models.Index("story", "source", name="storymembership_source_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.article_id} in story {self.story_id}"


# --- The clusterer's state in the database (stories.dbstore) --------------------------------------
# Only stories inside the assignment window are kept here: `stories.maintenance.prune` drops the
# rest, so these tables stay the size of a few days of news whatever the archive holds.


class StoryState(models.Model):
    """A live story as the clusterer sees it: how many members it took, its centroid's norm
    (under the IDF of its last change) and when its newest member was published."""

    story = models.OneToOneField(
        Story, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    size = models.PositiveIntegerField(default=0)
    norm = models.FloatField(default=1.0)
    last_seen = models.DateTimeField(null=True, blank=True, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"state of story {self.story_id}"


class StoryTerm(models.Model):
    """The inverted index: a live story under each of its rarest terms (``index_terms``)."""

    pk = models.CompositePrimaryKey("term", "story")
    term = models.TextField()
    story = models.ForeignKey(Story, on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"{self.term!r} → story {self.story_id}"


class StoryCentroid(models.Model):
    """A live story's centroid, one row per term: the sum of its members' unit vectors in raw
    (pre-IDF) weights. Scoring reads only the rows of an item's own terms.

    No foreign key constraint in the database: a batch writes ~55,000 rows, and PostgreSQL
    checked each one's story at commit (deferred), as long again as writing them. Every path
    that deletes a story deletes its rows (Django's cascade, or explicitly in SQL):
    tests/test_story_centroid_rows.py holds them to it."""

    pk = models.CompositePrimaryKey("story", "term")
    story = models.ForeignKey(
        Story, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    term = models.TextField()
    weight = models.FloatField()

    def __str__(self) -> str:
        return f"story {self.story_id}: {self.term!r} {self.weight:.3f}"


class StoryBand(models.Model):
    """One LSH band key of a recent member's MinHash: two articles sharing a band are
    near-duplicate candidates, whichever worker placed the first."""

    pk = models.CompositePrimaryKey("band", "article")
    band = models.BigIntegerField()
    article = models.ForeignKey("articles.Article", on_delete=models.CASCADE, related_name="+")
    published_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"band {self.band} of article {self.article_id}"


class TermFrequency(models.Model):
    """Document frequencies shared by every worker (the IDF); the row with the empty term counts
    documents. Workers add their counts in batches (stories.dbstore.Frequencies)."""

    term = models.TextField(primary_key=True)
    documents = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.term!r} in {self.documents} documents"


class RestoryJob(ChunkedJob):
    """Re-assigning a period: queued → running (chunks of articles in published order, each its
    own task, resumable from its cursor) → done | failed | superseded by a newer job
    (`newsdesk.jobs`)."""

    since = models.DateTimeField(null=True, blank=True)
    # The cursor: articles are walked by (published_at, id), with `last_article_id`.
    last_published_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        since = f"since {self.since:%Y-%m-%d}" if self.since else "everything"
        return f"Restory {since}: {self.state} {self.done}/{self.total}"


class PlacementFailure(models.Model):
    """An article story assignment could not place, and why. While it has this row it is out of
    the drain's queue, so it cannot fail every batch it lands in; beat's sweep tries it again
    alone after a growing pause (``retry_after``), and after the last try sets it aside
    (``retry_after`` empty) until an operator tries it again or its page is extracted again
    (`stories.failures`)."""

    article = models.OneToOneField(
        "articles.Article",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="story_placement_failure",
    )
    attempts = models.PositiveIntegerField(default=1)
    error = models.TextField()
    first_failed_at = models.DateTimeField(default=timezone.now)
    failed_at = models.DateTimeField(default=timezone.now)
    retry_after = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                "retry_after",
                name="placementfailure_retry_idx",
                condition=models.Q(retry_after__isnull=False),
            )
        ]

    def __str__(self) -> str:
        state = "set aside" if self.set_aside else f"retry after {self.retry_after:%Y-%m-%d %H:%M}"
        return f"article {self.article_id}: {self.attempts} attempts, {state}"

    @property
    def set_aside(self) -> bool:
        return self.retry_after is None
