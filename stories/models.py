"""Stories: the articles that tell one event, from any number of publishers.

An article belongs to at most one story (``StoryMembership``); every article that has been
through story assignment has one, even when it is the story's only member. The pure clustering
lives in ``stories.clustering``; these tables are its state in the database.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


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
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(
                "story",
                models.F("published_at").desc(),
                models.F("article").desc(),
                name="storymembership_listing_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.article_id} in story {self.story_id}"
