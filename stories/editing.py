"""Editors' changes to stories, and the bookkeeping every membership change shares.

Hand decisions stick: an article an editor split out or moved is pinned (``pinned_by``) and
re-assignment leaves it where it is; a lead an editor chose (``lead_chosen_by``) stays the lead
while it is a member. Each change takes the assignment lock, rebuilds the clusterer's state of
the stories it touched (so later articles are compared with what the story now holds) and sends
``story_changed`` on commit, naming the articles that moved and the leads that changed.
"""

from __future__ import annotations

from collections import Counter

from django.db import transaction
from django.db.models import Count, Max, Min
from django.utils import timezone

from articles.models import Article
from stories.models import Story, StoryCentroid, StoryMembership, StoryState, StoryTerm


class StoryEditError(ValueError):
    """An edit that cannot be made, with the reason an editor can read."""


def refresh(story_id: int) -> set[int]:
    """Recount a story from its members and pick its lead: the editor's choice while it is a
    member, else the earliest extracted member with text. Returns the old and new lead when
    the lead changed (for ``story_changed``), else nothing."""
    members = StoryMembership.objects.filter(story_id=story_id)
    figures = members.aggregate(
        n=Count("pk"),
        sources=Count("article__source", distinct=True),
        first=Min("published_at"),
        last=Max("published_at"),
    )
    story = Story.objects.get(pk=story_id)
    lead_id, chosen_by = story.lead_id, story.lead_chosen_by_id
    was = lead_id
    if not (chosen_by and lead_id and members.filter(article_id=lead_id).exists()):
        chosen_by = None
        lead_id = (
            members.filter(article__status=Article.Status.OK)
            .exclude(article__text="")
            .order_by("published_at", "article_id")
            .values_list("article_id", flat=True)
            .first()
        ) or members.order_by("published_at", "article_id").values_list(
            "article_id", flat=True
        ).first()
    Story.objects.filter(pk=story_id).update(
        article_count=figures["n"],
        source_count=figures["sources"],
        first_published_at=figures["first"],
        last_published_at=figures["last"],
        lead_id=lead_id,
        lead_chosen_by_id=chosen_by,
        updated_at=timezone.now(),
    )
    return {a for a in (was, lead_id) if a is not None} if was != lead_id else set()


def rebuild_state(story_id: int) -> None:
    """The clusterer's state of a story recomputed from its members (after members left or
    arrived by hand): centroid, size, norm, index terms. An empty story leaves the index."""
    from stories.assignment import clusterer, item_of

    StoryCentroid.objects.filter(story_id=story_id).delete()
    StoryTerm.objects.filter(story_id=story_id).delete()
    StoryState.objects.filter(story_id=story_id).delete()
    members = list(
        Article.objects.filter(story_membership__story_id=story_id).order_by("published_at", "pk")
    )
    if not members:
        return
    engine = clusterer()
    store = engine.store
    centroid: Counter[str] = Counter()
    for article in members:
        centroid.update(engine.raw_vector(item_of(article)))
    StoryState.objects.create(
        story_id=story_id,
        size=len(members),
        last_seen=max(a.published_at for a in members),
        updated_at=timezone.now(),
    )
    store.add_to_centroid(story_id, dict(centroid))
    engine.reindex(story_id)


def move_members(gone: int, keep: int) -> tuple[list[int], set[int]]:
    """Story ``gone`` joins ``keep``: its members move, it points at ``keep`` (as do stories
    merged into it before), and its clusterer state goes. Returns the members that moved and
    the leads that changed (``gone``'s, and ``keep``'s if another took over)."""
    moved = list(StoryMembership.objects.filter(story_id=gone).values_list("article_id", flat=True))
    old_lead = Story.objects.filter(pk=gone).values_list("lead_id", flat=True).first()
    StoryMembership.objects.filter(article_id__in=moved).update(story_id=keep)
    Story.objects.filter(merged_into_id=gone).update(merged_into_id=keep)
    Story.objects.filter(pk=gone).update(
        merged_into_id=keep,
        article_count=0,
        source_count=0,
        lead_id=None,
        lead_chosen_by_id=None,
        updated_at=timezone.now(),
    )
    StoryCentroid.objects.filter(story_id=gone).delete()
    StoryTerm.objects.filter(story_id=gone).delete()
    StoryState.objects.filter(story_id=gone).delete()
    leads = refresh(keep)
    if old_lead is not None:
        leads.add(old_lead)
    return moved, leads


def split(article_id: int, user) -> Story:
    """Take an article out of its story into a new story of its own, pinned there. The new
    story takes no other articles by itself (an editor may merge others into it)."""
    from stories.assignment import announce, lock

    with transaction.atomic():
        lock()
        membership = (
            StoryMembership.objects.select_for_update().filter(article_id=article_id).first()
        )
        if membership is None:
            raise StoryEditError("This article is in no story yet.")
        old = membership.story_id
        if Story.objects.get(pk=old).article_count <= 1:
            raise StoryEditError("The article is the story's only member: nothing to split.")
        now = timezone.now()
        story = Story.objects.create(created_at=now, updated_at=now)
        StoryMembership.objects.filter(article_id=article_id).update(
            story=story, pinned_by=user, score=0.0, near_duplicate_of=None
        )
        leads: set[int] = set()
        for story_id in (old, story.pk):
            leads |= refresh(story_id)
            rebuild_state(story_id)
        # The editor said this article tells another story than its old companions: the new
        # story stays out of the candidate index, so no re-run puts them together again
        # (copies of the article still follow it, through the near-duplicate bands).
        StoryTerm.objects.filter(story_id=story.pk).delete()
        announce([old, story.pk], moved=[article_id], leads=leads)
    return story


def merge(story_ids, target_id: int, user) -> Story:
    """Merge stories into ``target_id``: their members move there, pinned (a re-run of
    assignment keeps them together), and each merged story points at the target."""
    from stories.assignment import announce, lock

    others = sorted({int(s) for s in story_ids} - {int(target_id)})
    if not others:
        raise StoryEditError("Choose at least two stories to merge.")
    with transaction.atomic():
        lock()
        target = Story.objects.filter(pk=target_id, merged_into__isnull=True).first()
        if target is None:
            raise StoryEditError(f"Story {target_id} does not exist or was merged away.")
        live = list(
            Story.objects.filter(pk__in=others, merged_into__isnull=True).values_list(
                "pk", flat=True
            )
        )
        if len(live) != len(others):
            raise StoryEditError("A story to merge does not exist or was merged away already.")
        StoryMembership.objects.filter(story_id__in=[target.pk, *others]).update(pinned_by=user)
        moved: list[int] = []
        leads: set[int] = set()
        for gone in others:
            members, changed = move_members(gone, target.pk)
            moved += members
            leads |= changed
        rebuild_state(target.pk)
        announce([target.pk, *others], moved=moved, leads=leads)
    return target


def choose_lead(story_id: int, article_id: int, user) -> None:
    """Show the story by this member from now on, whatever assignment adds later (and keep
    the member in the story through re-runs)."""
    from stories.assignment import announce, lock

    with transaction.atomic():
        lock()
        if not StoryMembership.objects.filter(story_id=story_id, article_id=article_id).exists():
            raise StoryEditError("That article is not in this story.")
        was = Story.objects.filter(pk=story_id).values_list("lead_id", flat=True).first()
        Story.objects.filter(pk=story_id).update(
            lead_id=article_id, lead_chosen_by=user, updated_at=timezone.now()
        )
        # The lead is pinned too: a re-run cannot take it out of the story it leads.
        StoryMembership.objects.filter(article_id=article_id).update(pinned_by=user)
        announce([story_id], moved=[], leads={a for a in (was, article_id) if a is not None})
