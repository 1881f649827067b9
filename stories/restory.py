"""Re-assigning the stories of a period: a chunked, resumable job (the state machine of
`newsdesk.jobs`, shared with tags.retagging's jobs, over its own table: stories import nothing
from tags).

A job is queued → running (one chunk of articles per task, in published order, each claimed
by its number and re-enqueuing the next) → done | failed | superseded (by a newer restory).
A chunk's articles are taken out of their stories (stories.takeout: at the cost of what leaves)
and placed again by the clusterer through the drain's batch store, in the order they were
published, in one transaction under the assignment lock; one announcement names the articles
that ended in another story and the leads that changed. Editors' decisions
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
from stories import assignment, takeout
from stories.batchstore import BatchStore
from stories.models import RestoryJob, Story

log = logging.getLogger(__name__)

BATCH_SIZE = 500
# One transaction a chunk: the batch store's fixed costs (the lock, reading the state of every
# term, the bulk writes, one announcement) are paid once for its 500 articles.
TRANSACTION_SIZE = BATCH_SIZE
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
    jobs.supersede(RestoryJob.objects.filter(pk__lt=job.pk))
    if run_now:
        return run(job)
    from stories.tasks import run_restory_job

    transaction.on_commit(lambda: run_restory_job.delay(job.pk))
    return job


def count_scope(job: RestoryJob) -> None:
    """The job's total, counted by its first chunk in the worker, not in the request that
    started it (a count of a big archive's period takes seconds). Articles that arrive later
    are placed too; the progress shown stops at 100%."""
    job.total = scope(job).count()
    RestoryJob.objects.filter(pk=job.pk).update(total=job.total)


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
        if not job.total and not job.done:
            count_scope(job)
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
    """Take these articles out of their stories and place them again, in published order, in
    one transaction under the assignment lock, through the drain's batch store. Returns how many
    ended in another story. Pinned articles stay.

    What leaving costs is what leaves (stories.takeout), and the announcement names the
    articles that ended in another story and the leads that changed, so the topic pages'
    fold settles those, not every member of every story the chunk touched."""
    with transaction.atomic():
        assignment.lock()
        out = takeout.take_out(article_ids)
        articles = (
            Article.objects.filter(pk__in=article_ids)
            .exclude(pk__in=out.pinned)
            .only(*assignment.ITEM_FIELDS)
            .order_by("published_at", "pk")
        )
        items = [assignment.item_of(article) for article in articles]
        store = BatchStore(assignment.frequencies)
        # The archive's document frequencies already count these articles.
        store.count_document = lambda terms: None
        engine = assignment.clusterer(store)
        store.prepare(items, engine)
        takeout.subtract(store, engine, out, {item.key: item for item in items})
        after = {item.key: engine.add(item).story for item in items}
        store.flush()
        takeout.drop_cancelled(out.left)
        # A story emptied by the re-run points where its first member went, for old links.
        for story_id, first in out.emptied.items():
            into = after.get(first)
            if into and into != story_id:
                Story.objects.filter(pk=story_id).update(merged_into_id=into)
        moved = [pk for pk, story in after.items() if out.story_of.get(pk) != story]
        left = {out.story_of[pk] for pk in moved if pk in out.story_of}
        stories = left | {after[pk] for pk in moved}
        leads = _leads_changed(out.leads, stories | store.changed)
        assignment.announce(stories | set(leads.values()), moved=moved, leads=leads)
    return len(moved)


def _leads_changed(before: dict[int, int | None], stories: set[int]) -> dict[int, int]:
    """The stories whose lead is another than before the chunk, and their old and new leads
    (a lead taken out and placed back in its story is no change): {article: story}."""
    stories = stories | set(before)
    now = dict(Story.objects.filter(pk__in=sorted(stories)).values_list("pk", "lead_id"))
    changed: dict[int, int] = {}
    for story_id in stories:
        was, lead = before.get(story_id), now.get(story_id)
        if was != lead:
            changed.update({a: story_id for a in (was, lead) if a is not None})
    return changed


def run(
    job: RestoryJob, progress: Callable[[int], None] | None = None, size: int = BATCH_SIZE
) -> RestoryJob:
    """Run the job's chunks here until it finishes (the shell and in-process mode)."""
    return jobs.run(job, run_chunk, progress, size=size)


def resume_stalled(now=None) -> list[int]:
    return jobs.resume_stalled(RestoryJob, now)
