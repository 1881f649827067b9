"""Re-assigning the stories of a period: a chunked, resumable job (the state machine of
`newsdesk.jobs`, shared with tags.retagging's jobs, over its own table: stories import nothing
from tags).

A job is queued → running (one chunk of articles per task, in published order, each claimed
by its number and re-enqueuing the next) → done | failed | superseded (by a newer restory).
Each article is taken out of its story and placed again by the clusterer, a few dozen per
transaction under the assignment lock, in the order they were published. Editors' decisions
stick: a pinned article stays where the editor put it, a chosen lead stays the lead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.db import transaction
from django.db.models import Q, QuerySet

from articles.models import Article
from newsdesk import jobs
from stories import assignment, editing
from stories.dbstore import DatabaseStore
from stories.models import RestoryJob, Story, StoryMembership

log = logging.getLogger(__name__)

BATCH_SIZE = 500
TRANSACTION_SIZE = 50
CONTINUE = jobs.CONTINUE


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
    jobs.supersede(RestoryJob.objects.filter(pk__lt=job.pk))
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
    if not jobs.claim_chunk(job, chunk):
        return jobs.state_of(job)
    try:
        rows = scope(job)
        if job.last_published_at is not None:
            rows = rows.filter(
                Q(published_at__gt=job.last_published_at)
                | Q(published_at=job.last_published_at, pk__gt=job.last_article_id)
            )
        ids = list(rows.values_list("pk", "published_at")[:size])
        if not ids:
            jobs.set_state(job, RestoryJob.State.DONE)
            return RestoryJob.State.DONE
        changed = 0
        for start_at in range(0, len(ids), TRANSACTION_SIZE):
            if jobs.is_superseded(job):
                break
            changed += reassign([pk for pk, _ in ids[start_at : start_at + TRANSACTION_SIZE]])
    except Exception as exc:
        log.exception("restory job %s failed", job.pk)
        jobs.fail(job, exc)
        raise
    updated = jobs.record_chunk(
        job,
        done=job.done + len(ids),
        changed=job.changed + changed,
        last_published_at=ids[-1][1],
        last_article_id=ids[-1][0],
    )
    if not updated:
        return jobs.state_of(job)
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


def run(
    job: RestoryJob, progress: Callable[[int], None] | None = None, size: int = BATCH_SIZE
) -> RestoryJob:
    """Run the job's chunks here until it finishes (the shell and in-process mode)."""
    return jobs.run(job, run_chunk, progress, size=size)


def resume_stalled(now=None) -> list[int]:
    return jobs.resume_stalled(RestoryJob, now)
