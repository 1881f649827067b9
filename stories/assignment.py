"""Placing articles in stories, in the database: the one pure ``StoryClusterer`` over a
``DatabaseStore``, one article per transaction under the assignment lock.

Two workers assigning at once must not start two stories for one event, so every assignment
(and the merge pass, editors' actions and restory chunks) takes one transaction-scoped advisory
lock. It is held for the few milliseconds an assignment takes (see bench/story_assignment.py):
far more than ingestion's rate of new articles, so one lock is cheaper than the bookkeeping of
locking per candidate set. On SQLite (one writer at a time anyway) there is no lock.

An article is placed once: its ``StoryMembership`` row is the record, so a second delivery of
``article_extracted`` does nothing. A failure leaves the article without a membership; the sweep
(beat) and ``manage.py restory`` place it later.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from articles.models import Article
from stories import editing
from stories.clustering import Assignment, StoryClusterer, StoryItem
from stories.dbstore import DatabaseStore, Frequencies
from stories.models import StoryMembership
from stories.signals import story_changed

log = logging.getLogger(__name__)

LOCK_KEY = 0x5707_1E5  # "stories": one advisory lock for every change to story membership
ASSIGNABLE = (Article.Status.OK, Article.Status.DUPLICATE)

ITEM_FIELDS = (
    "title",
    "published_at",
    "summary",
    "editor_summary",
    "text",
    "source_id",
    "duplicate_of_id",
    "status",
)

# One per process: the IDF cache and this process's counts not yet written.
frequencies = Frequencies()


def lock(*, durable: bool = True) -> None:
    """Serialise story changes across processes until the current transaction ends.

    ``durable=False`` (assignment of a new article) also commits without waiting for the WAL
    flush: a crash may lose the last few milliseconds of assignments, which leaves those
    articles in no story, where the sweep finds and places them. Editors' changes wait."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s), set_config('synchronous_commit', %s, true)",
                [LOCK_KEY, "on" if durable else "off"],
            )


def window() -> timedelta:
    return timedelta(days=settings.NEWSDESK_STORY_WINDOW_DAYS)


def clusterer(store: DatabaseStore | None = None) -> StoryClusterer:
    return StoryClusterer(window=window(), store=store or DatabaseStore(frequencies))


def item_of(article: Article) -> StoryItem:
    return StoryItem(
        key=article.pk,
        title=article.title,
        published=article.published_at,
        summary=article.editor_summary or article.summary,
        text=article.text,
        source=str(article.source_id or ""),
        duplicate_of=article.duplicate_of_id,
    )


def announce(story_ids, moved=None, leads=()) -> None:
    """Send ``story_changed`` once the current transaction commits. ``moved`` (the articles
    that joined or left) and ``leads`` (the articles that became or stopped being a lead) let
    listeners redo only what those touch; without ``moved`` they redo the whole stories."""
    ids = sorted(set(story_ids))
    if not ids:
        return
    details = {} if moved is None else {"moved": sorted(set(moved)), "leads": sorted(set(leads))}
    transaction.on_commit(
        lambda: story_changed.send(sender=StoryMembership, story_ids=ids, **details)
    )


def announce_store(store: DatabaseStore) -> None:
    """``announce`` what the clusterer changed through this store."""
    announce(store.changed, store.moved, store.leads)


def assign(article_id: int) -> Assignment | None:
    """Place one extracted article (or exact duplicate) in a story; None when there is nothing
    to do (already placed, not extracted, gone)."""
    with transaction.atomic():
        lock(durable=False)
        # One read: the article, and whether it has a story already.
        article = (
            Article.objects.filter(pk=article_id, status__in=ASSIGNABLE)
            .only(*ITEM_FIELDS)
            .annotate(placed=Exists(StoryMembership.objects.filter(article_id=OuterRef("pk"))))
            .first()
        )
        if article is None or article.placed:
            return None
        store = DatabaseStore(frequencies)
        assignment = clusterer(store).add(item_of(article))
        announce_store(store)
    if frequencies.due():
        frequencies.flush()
    return assignment


def assign_quietly(article_id: int) -> Assignment | None:
    """``assign`` for ingestion: a failure is logged and the article waits for the sweep; its
    extraction and its tags are never undone by it."""
    try:
        return assign(article_id)
    except Exception:
        log.exception("story assignment failed for article %s; the sweep will retry", article_id)
        return None


def redate(article: Article) -> bool:
    """Give a placed article's membership its date again, where an extraction moved it (a
    corrected page date). The membership carries the date for the story page's order; the
    story's dates and its lead (the earliest full member, unless an editor chose) follow, and
    listeners hear which article moved. Returns whether anything changed."""
    stale = StoryMembership.objects.filter(article_id=article.pk).exclude(
        published_at=article.published_at
    )
    # Looked at before taking the lock: nearly every extraction has nothing to move.
    if not stale.exists():
        return False
    with transaction.atomic():
        lock()
        story_id = stale.values_list("story_id", flat=True).first()
        if story_id is None:
            return False
        stale.update(published_at=article.published_at)
        leads = editing.refresh(story_id)
        announce([story_id], moved=[article.pk], leads=leads)
    return True


def unassigned(now=None):
    """Extracted articles of the last window without a story: the sweep's work, and what the
    operations page counts. Read through the recent end of the articles' update index, never
    the whole archive."""
    now = now or timezone.now()
    placed = StoryMembership.objects.filter(article_id=OuterRef("pk"))
    return (
        Article.objects.filter(status__in=ASSIGNABLE, updated_at__gte=now - window())
        .filter(~Exists(placed))
        .order_by("published_at", "pk")
    )


def sweep(now=None, *, grace: float = 120.0, limit: int = 1000) -> int:
    """Place articles that extraction announced but assignment missed (an error, a lost
    worker); those younger than ``grace`` seconds may still be in their worker's hands."""
    now = now or timezone.now()
    ids = list(
        unassigned(now)
        .filter(updated_at__lt=now - timedelta(seconds=grace))
        .values_list("pk", flat=True)[:limit]
    )
    placed = 0
    for article_id in ids:
        if assign_quietly(article_id) is not None:
            placed += 1
    frequencies.flush()
    return placed


def merge_pass(now=None) -> dict[int, int]:
    """Join live stories that grew alike (two workers' first reports of one event, or an
    event told in different words at first). Editors' stories are left alone."""
    now = now or timezone.now()
    with transaction.atomic():
        lock()
        store = DatabaseStore(frequencies)
        merged = clusterer(store).merge_pass(now)
        announce_store(store)
    return merged


def prune(now=None, *, touched_before=None) -> dict[str, int]:
    """Drop the clusterer's state for stories past the window (a day's margin, and none
    touched in the last hour, so a restory walking an old period keeps what it built)."""
    from stories.models import StoryBand, StoryCentroid, StoryState, StoryTerm

    now = now or timezone.now()
    touched_before = touched_before or now - timedelta(hours=1)
    horizon = now - window() - timedelta(days=1)
    with transaction.atomic():
        lock()
        old = StoryState.objects.filter(last_seen__lt=horizon, updated_at__lt=touched_before)
        ids = old.values("story_id")
        terms = StoryTerm.objects.filter(story_id__in=ids).delete()[0]
        centroids = StoryCentroid.objects.filter(story_id__in=ids).delete()[0]
        states = old.delete()[0]
        bands = StoryBand.objects.filter(published_at__lt=horizon).delete()[0]
    return {"states": states, "terms": terms, "centroids": centroids, "bands": bands}
