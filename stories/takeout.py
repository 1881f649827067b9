"""Taking articles out of their stories in bulk (a restory chunk), at the cost of what leaves.

The stories' bookkeeping follows from what left, not from re-reading what stays: counts go down
by the members and publishers that left (a publisher leaves when no other member of the story
has it: one probe of the (story, source) index each), dates and the lead are the ends of each
story's listing index (the lead the earliest extracted member with text, or the editor's choice
while it stays, as ``editing.refresh`` picks it), and the clusterer's state loses what the
members added (``subtract``). A story left with no members loses its state; the caller points
it where its first member went. A handful of statements for the whole batch, whatever the
stories' sizes (tests/test_restory.py holds a story of 5 and one of 200 to the same count).

The caller holds the assignment lock (stories.assignment) and places the articles again in the
same transaction, so the rows deleted here never stay deleted outside it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from articles.models import Article
from stories.batchstore import BatchStore
from stories.clustering import StoryClusterer, StoryItem
from stories.dbstore import _on_postgres, one_of
from stories.models import Story, StoryCentroid, StoryMembership, StoryState, StoryTerm

# A centroid weight this small after members left is what they added, cancelled: the row goes.
CANCELLED = 1e-9


@dataclass
class TakenOut:
    """What a take-out did: each article's old story, the pinned articles it left alone, the
    stories' leads before, the stories it emptied (with the first member that left each) and
    the members that left each story that keeps members and clusterer state."""

    story_of: dict[int, int] = field(default_factory=dict)
    pinned: set[int] = field(default_factory=set)
    leads: dict[int, int | None] = field(default_factory=dict)
    emptied: dict[int, int] = field(default_factory=dict)
    left: dict[int, list[int]] = field(default_factory=dict)


def take_out(article_ids: Collection[int]) -> TakenOut:
    """Delete the memberships of these articles (but the pinned ones) and settle their
    stories' counts, dates, leads and states for what left."""
    out = TakenOut()
    rows = list(
        StoryMembership.objects.filter(article_id__in=sorted(article_ids)).values_list(
            "article_id", "story_id", "pinned_by_id", "source_id", "published_at"
        )
    )
    leaving: dict[int, list[tuple[datetime, int, int | None]]] = defaultdict(list)
    for article_id, story_id, pinned_by, source_id, published in rows:
        if pinned_by is not None:
            out.pinned.add(article_id)
        else:
            out.story_of[article_id] = story_id
            leaving[story_id].append((published, article_id, source_id))
    if not leaving:
        return out
    _delete_memberships(sorted(out.story_of))
    stories = sorted(leaving)
    gone_sources = _sources_gone(
        {(s, source) for s, members in leaving.items() for _, _, source in members if source}
    )
    now = timezone.now()
    members = StoryMembership.objects.filter(story_id=OuterRef("pk")).order_by(
        "published_at", "article_id"
    )
    # The ends of each story's listing index: a row or two each, however many members stay.
    figures = Story.objects.filter(pk__in=stories).annotate(
        first=Subquery(members.values("published_at")[:1]),
        last=Subquery(members.reverse().values("published_at")[:1]),
        earliest=Subquery(members.values("article_id")[:1]),
        full=Subquery(
            members.filter(article__status=Article.Status.OK)
            .exclude(article__text="")
            .values("article_id")[:1]
        ),
        lead_stays=Exists(StoryMembership.objects.filter(article_id=OuterRef("lead_id"))),
    )
    changed: list[Story] = []
    for story in figures:
        out.leads[story.pk] = story.lead_id
        left = leaving[story.pk]
        if story.earliest is None:
            out.emptied[story.pk] = min(left)[1]
            story.lead_id = story.lead_chosen_by_id = None
            story.article_count = story.source_count = 0
        else:
            out.left[story.pk] = [article_id for _, article_id, _ in left]
            if not (story.lead_chosen_by_id and story.lead_id and story.lead_stays):
                story.lead_chosen_by_id = None
                story.lead_id = story.full or story.earliest
            story.article_count = max(story.article_count - len(left), 1)
            story.source_count = max(story.source_count - gone_sources[story.pk], 0)
        story.first_published_at, story.last_published_at = story.first, story.last
        story.updated_at = now
        changed.append(story)
    Story.objects.bulk_update(
        changed,
        [
            "lead",
            "lead_chosen_by",
            "article_count",
            "source_count",
            "first_published_at",
            "last_published_at",
            "updated_at",
        ],
    )
    last = {story.pk: story.last for story in changed}
    states = list(StoryState.objects.filter(story_id__in=sorted(out.left)))
    for state in states:
        state.size = max(state.size - len(out.left[state.story_id]), 1)
        state.last_seen = last[state.story_id]
        state.updated_at = now
    StoryState.objects.bulk_update(states, ["size", "last_seen", "updated_at"])
    # A story past the window keeps no state (pruned): nothing to take its members out of.
    stated = {state.story_id for state in states}
    out.left = {s: members for s, members in out.left.items() if s in stated}
    emptied = sorted(out.emptied)
    if emptied:
        StoryCentroid.objects.filter(story_id__in=emptied).delete()
        StoryTerm.objects.filter(story_id__in=emptied).delete()
        StoryState.objects.filter(story_id__in=emptied).delete()
    return out


def subtract(
    store: BatchStore, engine: StoryClusterer, out: TakenOut, items: Mapping[object, StoryItem]
) -> None:
    """Take what the members that left added out of their stories' centroids (each member's
    unit vector in raw weights, under the IDF now), and recompute the norms and index terms
    from the centroids: read in one statement for every story the batch takes members from,
    never from their members' articles."""
    if not out.left:
        return
    stories = sorted(out.left)
    store.partial_centroids(stories, ())  # each centroid whole, all in one statement
    for story_id in stories:
        removed: Counter[str] = Counter()
        for article_id in out.left[story_id]:
            removed.update(engine.raw_vector(items[article_id]))
        store.add_to_centroid(story_id, {term: -x for term, x in removed.items()})
        engine.reindex(story_id)


def drop_cancelled(story_ids: Collection[int]) -> None:
    """Delete the centroid rows the members that left had made and nothing else holds (their
    weights cancelled to zero, or just under it: the IDF moved since they joined)."""
    if story_ids:
        StoryCentroid.objects.filter(story_id__in=sorted(story_ids), weight__lt=CANCELLED).delete()


def _delete_memberships(article_ids: Sequence[int]) -> None:
    """Without the ORM's delete, whose signal would settle each article's topic pages as if
    it had left for no story: the caller places them again and announces what moved."""
    where, params = one_of("article_id", list(article_ids), "bigint")
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM stories_storymembership WHERE {where}", params)  # noqa: S608


def _sources_gone(pairs: set[tuple[int, int]]) -> Counter[int]:
    """How many of these (story, publisher) pairs no member still has, per story."""
    if not pairs:
        return Counter()
    ordered = sorted(pairs)
    if _on_postgres():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT p.story_id, p.source_id "
                "FROM unnest(%s::bigint[], %s::bigint[]) AS p(story_id, source_id) "
                "WHERE EXISTS (SELECT 1 FROM stories_storymembership m "
                "WHERE m.story_id = p.story_id AND m.source_id = p.source_id)",
                [[s for s, _ in ordered], [source for _, source in ordered]],
            )
            present = {(s, source) for s, source in cursor.fetchall()}
    else:
        present = set(
            StoryMembership.objects.filter(
                story_id__in={s for s, _ in ordered}, source_id__in={x for _, x in ordered}
            )
            .values_list("story_id", "source_id")
            .distinct()
        )
    return Counter(s for s, source in ordered if (s, source) not in present)
