"""Placing articles in stories, in the database: the one pure ``StoryClusterer`` over a
``BatchStore``, a batch of waiting articles per transaction under the assignment lock.

An extracted article with no ``StoryMembership`` awaits a story (``waiting``): that is the
queue, and the database owns it. ``drain`` places up to ``BATCH`` of them in arrival order;
extraction asks for a drain (stories.receivers, stories.tasks), beat's sweep drains whatever is
left. The membership row is the record, so a second delivery places nothing twice, and a batch
that fails or whose worker dies leaves its articles waiting for the next drain.

Two workers placing at once must not start two stories for one event, so every batch (and the
merge pass, editors' actions and restory chunks) takes one transaction-scoped advisory lock,
and a batch reads its articles after taking it. One lock for all is cheaper than the
bookkeeping of locking per candidate set (which would need the candidates before the lock). On
SQLite (one writer at a time anyway) there is no lock.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from articles.models import Article
from stories import editing, failures
from stories.batchstore import BatchStore
from stories.clustering import Assignment, StoryClusterer, StoryItem
from stories.dbstore import DatabaseStore, Frequencies
from stories.models import PlacementFailure, StoryMembership
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


# Articles placed in one transaction. A batch's fixed costs (the lock, reading the state for
# all its terms, the bulk writes, settling the topic pages of every story it touched) are paid
# once, so the cost per article falls with the batch; the lock is held for the whole batch
# (~1 s at this size), which only ever delays another drain, never ingestion.
BATCH = 500


def assign(article_id: int) -> Assignment | None:
    """Place one extracted article (or exact duplicate) in a story; None when there is nothing
    to do (already placed, not extracted, gone). The drain's path, for one article."""
    placed = _place(lambda rows: rows.filter(pk=article_id))
    return placed[0] if placed else None


def drain(limit: int = BATCH, now=None) -> list[Assignment]:
    """Place up to ``limit`` articles awaiting a story (``waiting``), in arrival order, in one
    transaction under the assignment lock. ``now`` replays a moment of the past: only articles
    changed by then count as arrived (the benchmark and the tests)."""
    return _place(lambda rows: rows.filter(pk__in=waiting(now).values("pk")[:limit]))


def _place(pick) -> list[Assignment]:
    with transaction.atomic():
        lock(durable=False)
        # Read under the lock: what another drain placed meanwhile has its membership now.
        placed = StoryMembership.objects.filter(article_id=OuterRef("pk"))
        rows = pick(Article.objects.filter(status__in=ASSIGNABLE).filter(~Exists(placed)))
        articles = list(rows.only(*ITEM_FIELDS).order_by("published_at", "pk"))
        if not articles:
            return []
        items = [item_of(article) for article in articles]
        store = BatchStore(frequencies)
        engine = clusterer(store)
        store.prepare(items, engine)
        assignments = [engine.add(item) for item in items]
        store.flush()
        announce_store(store)
    if frequencies.due():
        frequencies.flush()
    return assignments


def assign_quietly(article_id: int, now=None) -> Assignment | None:
    """``assign`` where a failure must not stop the caller: it is logged and recorded
    (``stories.failures``: out of the queue, tried again by the sweep after a pause); the
    article's extraction and its tags are never undone by it."""
    try:
        return assign(article_id)
    except Exception as exc:
        log.exception("story assignment failed for article %s; the sweep will retry", article_id)
        failures.record_quietly(article_id, exc, now)
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


def waiting(now=None):
    """Extracted articles of the last window without a story, in arrival order (published,
    then id): the drain's queue, and what the operations page counts. Read through the recent
    end of the articles' update index, never the whole archive. With ``now``, those changed by
    then."""
    current = now or timezone.now()
    placed = StoryMembership.objects.filter(article_id=OuterRef("pk"))
    # A failed article is tried alone by the sweep (stories.failures), never in a batch again.
    failed = PlacementFailure.objects.filter(article_id=OuterRef("pk"))
    rows = Article.objects.filter(status__in=ASSIGNABLE, updated_at__gte=current - window())
    if now is not None:
        rows = rows.filter(updated_at__lte=now)
    return rows.filter(~Exists(placed), ~Exists(failed)).order_by("published_at", "pk")


unassigned = waiting


def drain_quietly(limit: int = BATCH, now=None) -> int:
    """``drain``, where a failure must not stop the caller: a batch that fails is placed
    again one article at a time, so one article that cannot be placed (logged and recorded,
    ``stories.failures``) does not hold up the others. Returns how many were placed."""
    try:
        return len(drain(limit, now))
    except Exception:
        log.exception("placing a batch of articles in stories failed; placing them one by one")
    ids = list(waiting(now).values_list("pk", flat=True)[:limit])
    return sum(assign_quietly(article_id, now) is not None for article_id in ids)


def sweep(now=None, *, limit: int = 10_000) -> int:
    """Place every article awaiting a story (an error, a lost drain message): the drain's own
    work, in batches, up to ``limit``; then try again, alone, the failed articles whose pause
    is over. Returns how many were placed."""
    placed = 0
    while placed < limit:
        n = drain_quietly(min(BATCH, limit - placed), now)
        placed += n
        if n == 0:
            break
    placed += failures.retry_due(assign, now).placed
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
