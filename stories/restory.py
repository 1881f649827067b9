"""Re-assigning the stories of a period: a chunked, resumable job (the same state machine as
tags.retagging's jobs, over its own table, since stories import nothing from tags).

A job is queued → running (one chunk of articles per task, in published order, each claimed
by its number and re-enqueuing the next) → done | failed | superseded (by a newer restory).
Each article is taken out of its story and placed again by the clusterer, a few dozen per
transaction under the assignment lock, in the order they were published. Editors' decisions
stick: a pinned article stays where the editor put it, a chosen lead stays the lead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from articles.models import Article
from stories import assignment, editing
from stories.dbstore import DatabaseStore
from stories.models import RestoryJob, Story, StoryMembership

log = logging.getLogger(__name__)

BATCH_SIZE = 500
TRANSACTION_SIZE = 50
CONTINUE = "continue"


def scope(job: RestoryJob) -> QuerySet[Article]:
    articles = Article.objects.filter(status__in=assignment.ASSIGNABLE)
    if job.since:
        articles = articles.filter(published_at__gte=job.since)
    return articles.order_by("published_at", "pk")


def start(since: datetime | None = None, *, run_now: bool = False) -> RestoryJob:
    """Queue a restory job over articles published since ``since`` (all when None) and hand it
    to a worker; older unfinished restory jobs are superseded."""
    job = RestoryJob.objects.create(since=since)
    job.total = scope(job).count()
    RestoryJob.objects.filter(pk=job.pk).update(total=job.total)
    RestoryJob.objects.filter(
        pk__lt=job.pk, state__in=[RestoryJob.State.QUEUED, RestoryJob.State.RUNNING]
    ).update(state=RestoryJob.State.SUPERSEDED, finished_at=timezone.now())
    if run_now:
        return run(job)
    from stories.tasks import run_restory_job

    transaction.on_commit(lambda: run_restory_job.delay(job.pk))
    return job


def run_chunk(job_id: int, chunk: int | None = None, size: int = BATCH_SIZE) -> str:
    """Do chunk number ``chunk`` (by default the next); returns CONTINUE, or the job's state
    when there is nothing (more) for this message to do."""
    job = RestoryJob.objects.filter(pk=job_id).first()
    if job is None:
        return "gone"
    if job.is_finished:
        return job.state
    now = timezone.now()
    if job.state == RestoryJob.State.QUEUED:
        RestoryJob.objects.filter(pk=job.pk, state=RestoryJob.State.QUEUED).update(
            state=RestoryJob.State.RUNNING, started_at=now, heartbeat_at=now
        )
    expected = job.chunks if chunk is None else chunk
    claimed = RestoryJob.objects.filter(
        pk=job.pk, state=RestoryJob.State.RUNNING, chunks=expected
    ).update(chunks=expected + 1, heartbeat_at=now)
    if not claimed:
        return RestoryJob.objects.values_list("state", flat=True).get(pk=job.pk)
    try:
        rows = scope(job)
        if job.last_published_at is not None:
            rows = rows.filter(
                Q(published_at__gt=job.last_published_at)
                | Q(published_at=job.last_published_at, pk__gt=job.last_article_id)
            )
        ids = list(rows.values_list("pk", "published_at")[:size])
        if not ids:
            _set_state(job, RestoryJob.State.DONE)
            return RestoryJob.State.DONE
        changed = 0
        for start_at in range(0, len(ids), TRANSACTION_SIZE):
            if RestoryJob.objects.filter(pk=job.pk, state=RestoryJob.State.SUPERSEDED).exists():
                break
            changed += reassign([pk for pk, _ in ids[start_at : start_at + TRANSACTION_SIZE]])
    except Exception as exc:
        log.exception("restory job %s failed", job.pk)
        _set_state(job, RestoryJob.State.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    updated = RestoryJob.objects.filter(pk=job.pk, state=RestoryJob.State.RUNNING).update(
        done=job.done + len(ids),
        changed=job.changed + changed,
        last_published_at=ids[-1][1],
        last_article_id=ids[-1][0],
        heartbeat_at=timezone.now(),
    )
    if not updated:
        return RestoryJob.objects.values_list("state", flat=True).get(pk=job.pk)
    return CONTINUE


def reassign(article_ids: list[int]) -> int:
    """Take these articles (in published order) out of their stories and place them again.
    Returns how many ended in another story. Pinned articles stay."""
    with transaction.atomic():
        assignment.lock()
        before = dict(
            StoryMembership.objects.filter(
                article_id__in=article_ids, pinned_by__isnull=True
            ).values_list("article_id", "story_id")
        )
        pinned = set(
            StoryMembership.objects.filter(
                article_id__in=article_ids, pinned_by__isnull=False
            ).values_list("article_id", flat=True)
        )
        StoryMembership.objects.filter(article_id__in=before).delete()
        touched = set(before.values())
        for story_id in touched:
            editing.refresh(story_id)
            editing.rebuild_state(story_id)
        # The archive's document frequencies already count these articles.
        store = DatabaseStore(assignment.frequencies)
        store.count_document = lambda terms: None
        engine = assignment.clusterer(store)
        articles = Article.objects.filter(pk__in=article_ids).order_by("published_at", "pk")
        after: dict[int, int] = {}
        for article in articles:
            if article.pk in pinned:
                continue
            after[article.pk] = engine.add(assignment.item_of(article)).story
        # A story emptied by the re-run points where its first member went, for old links.
        for story_id in touched:
            if not StoryMembership.objects.filter(story_id=story_id).exists():
                first = next((a for a, s in before.items() if s == story_id), None)
                into = after.get(first)
                if into and into != story_id:
                    Story.objects.filter(pk=story_id).update(merged_into_id=into)
        assignment.announce(touched | store.changed)
    return sum(1 for pk, story in after.items() if before.get(pk) != story)


def _set_state(job: RestoryJob, state: str, error: str = "") -> None:
    now = timezone.now()
    RestoryJob.objects.filter(pk=job.pk).exclude(state=RestoryJob.State.SUPERSEDED).update(
        state=state, finished_at=now, heartbeat_at=now, error=error
    )


def run(
    job: RestoryJob, progress: Callable[[int], None] | None = None, size: int = BATCH_SIZE
) -> RestoryJob:
    """Run the job's chunks here until it finishes (the shell and in-process mode)."""
    done = job.done
    while run_chunk(job.pk, size=size) == CONTINUE:
        job.refresh_from_db()
        if progress:
            progress(job.done - done)
        done = job.done
    job.refresh_from_db()
    return job


def resume_stalled(now=None) -> list[int]:
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.NEWSDESK_STUCK_AFTER)
    stalled = RestoryJob.objects.filter(
        state__in=[RestoryJob.State.QUEUED, RestoryJob.State.RUNNING]
    ).filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff))
    ids = list(stalled.values_list("pk", flat=True))
    RestoryJob.objects.filter(pk__in=ids).update(heartbeat_at=now)
    return ids
