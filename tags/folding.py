"""Fold a topic's listing by story: one entry per story on each topic page.

Each link says whether it `represents` its story on its topic's page. Per story and topic the
representative is the story's lead, if the lead carries the topic visibly, else the earliest
visible member that does; an article in no story represents itself. A topic page lists the
links that are visible and represent (one partial index, `articletag_story_listing_idx`), and
`Tag.story_count` counts them, exact like `article_count`.

Who calls this: `tags.linking` after any change to an article's links or visibility (inside its
transaction, with the topics' count rows already locked), and `tags.signals` when story
assignment announces `stories.signals.story_changed` (members or lead changed). Deciding is a
pure function (`representatives`) over the links of the stories in play; applying it costs one
read and, when something changed, one update per direction plus one for the counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from stories.models import StoryMembership
from tags.models import ArticleTag, Tag


@dataclass(frozen=True)
class Row:
    """One link, as the fold sees it."""

    pk: int
    tag_id: int
    article_id: int
    is_visible: bool
    represents: bool
    published_at: datetime
    story_id: int | None
    lead_id: int | None


def representatives(rows: Iterable[Row]) -> set[int]:
    """The links (by pk) that should represent their story on their topic's page.

    Per (story, topic): the lead's visible link, else the earliest visible member's (ties by
    article id, like the listing). An article in no story is a story of its own.
    """
    groups: dict[tuple[object, int], list[Row]] = defaultdict(list)
    for row in rows:
        story = row.story_id if row.story_id is not None else ("article", row.article_id)
        groups[(story, row.tag_id)].append(row)
    chosen: set[int] = set()
    for members in groups.values():
        visible = [row for row in members if row.is_visible]
        if not visible:
            continue
        lead = [row for row in visible if row.lead_id is not None and row.article_id == row.lead_id]
        best = lead[0] if lead else min(visible, key=lambda row: (row.published_at, row.article_id))
        chosen.add(best.pk)
    return chosen


def _rows(
    article_ids: Collection[int], story_ids: Collection[int], tag_ids: Collection[int] | None
) -> list[Row]:
    """Every link of the stories in play: those named, and those of the named articles.

    The members are read first, so the links are read by their article ids through an index
    (an OR of a subquery and a list would make PostgreSQL scan every link).
    """
    if article_ids:
        theirs = StoryMembership.objects.filter(article_id__in=list(article_ids)).values("story_id")
        members = StoryMembership.objects.filter(story_id__in=theirs)
    else:
        members = StoryMembership.objects.filter(story_id__in=list(story_ids))
    ids = {*article_ids, *members.values_list("article_id", flat=True)}
    links = ArticleTag.objects.filter(article_id__in=sorted(ids))
    if tag_ids is not None:
        links = links.filter(tag_id__in=list(tag_ids))
    fields = (
        "pk",
        "tag_id",
        "article_id",
        "is_visible",
        "represents",
        "published_at",
        "article__story_membership__story_id",
        "article__story_membership__story__lead_id",
    )
    return [Row(*values) for values in links.values_list(*fields)]


def _apply(rows: list[Row]) -> set[int]:
    """Flip the links whose flag is wrong, move the counts, and return the topics whose pages
    changed."""
    chosen = representatives(rows)
    gain = [row for row in rows if row.pk in chosen and not row.represents]
    lose = [row for row in rows if row.pk not in chosen and row.represents]
    if gain:
        ArticleTag.objects.filter(pk__in=[row.pk for row in gain]).update(represents=True)
    if lose:
        ArticleTag.objects.filter(pk__in=[row.pk for row in lose]).update(represents=False)
    delta: dict[int, int] = defaultdict(int)
    changed: set[int] = set()
    for row, step in [(row, 1) for row in gain] + [(row, -1) for row in lose]:
        # Only a visible link is an entry; an invisible one was already uncounted.
        if row.is_visible:
            delta[row.tag_id] += step
            changed.add(row.tag_id)
    if changed:
        count = Case(
            *(When(pk=tag_id, then=Value(n)) for tag_id, n in delta.items() if n),
            default=Value(0),
        )
        Tag.objects.filter(pk__in=changed).update(
            story_count=F("story_count") + count, content_changed_at=timezone.now()
        )
    return changed


def refold_articles(article_ids: Collection[int], tag_ids: Collection[int]) -> set[int]:
    """After these articles' links to these topics changed: settle their stories' entries.

    The caller holds the row locks of `tag_ids` (`tags.linking.lock_tags`), so two workers
    folding one story for one topic queue on the topic's row.
    """
    if not article_ids or not tag_ids:
        return set()
    return _apply(_rows(article_ids, (), tag_ids))


@transaction.atomic
def refold_stories(story_ids: Collection[int]) -> set[int]:
    """After story assignment changed these stories (members, lead, a merge): settle their
    entries on every topic their members carry, and move every such page's validators, since
    its "Also" line lists the story's other sources."""
    from tags.linking import lock_tags

    if not story_ids:
        return set()
    members = list(
        StoryMembership.objects.filter(story_id__in=list(story_ids)).values_list(
            "article_id", flat=True
        )
    )
    tag_ids = set(
        ArticleTag.objects.filter(article_id__in=members).values_list("tag_id", flat=True)
    )
    if not tag_ids:
        return set()
    lock_tags(tag_ids)
    changed = _apply(_rows((), story_ids, tag_ids))
    shown = set(
        ArticleTag.objects.filter(article_id__in=members, is_visible=True).values_list(
            "tag_id", flat=True
        )
    )
    stale = shown - changed
    if stale:
        Tag.objects.filter(pk__in=stale).update(content_changed_at=timezone.now())
    return changed | stale
