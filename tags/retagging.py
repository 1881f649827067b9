"""Re-run the rules over existing articles, in batches, resumable, with visible progress."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from articles.models import Article
from tags import linking
from tags.models import RetagJob, Tag

log = logging.getLogger(__name__)

BATCH_SIZE = 500


def candidates():
    return Article.objects.filter(status=Article.Status.OK).order_by("pk")


def start(tag: Tag | None = None) -> RetagJob:
    """Queue a retag job and hand it to a worker (or run it now, in-process mode)."""
    from tags.tasks import run_retag_job

    job = RetagJob.objects.create(tag=tag, total=candidates().count())
    transaction.on_commit(lambda: run_retag_job.delay(job.pk))
    return job


def run(job: RetagJob, progress: Callable[[int], None] | None = None) -> RetagJob:
    """Process the job from where it stopped; a job that runs twice just finishes sooner."""
    RetagJob.objects.filter(pk=job.pk).update(state=RetagJob.State.RUNNING)
    job.state = RetagJob.State.RUNNING
    matcher = linking.current_matcher()
    parents = linking.active_parents()
    articles = candidates()
    while True:
        batch = list(articles.filter(pk__gt=job.last_article_id)[:BATCH_SIZE])
        if not batch:
            break
        changed = 0
        with transaction.atomic():
            for article in batch:
                changed += linking.tag_article(article, matcher, parents)
        job.done += len(batch)
        job.changed += changed
        job.last_article_id = batch[-1].pk
        RetagJob.objects.filter(pk=job.pk).update(
            done=job.done, changed=job.changed, last_article_id=job.last_article_id
        )
        if progress:
            progress(len(batch))
    job.state, job.finished_at = RetagJob.State.DONE, timezone.now()
    job.total = max(job.total, job.done)
    RetagJob.objects.filter(pk=job.pk).update(
        state=job.state, finished_at=job.finished_at, total=job.total
    )
    log.info("retag job %s done: %s articles, %s changed", job.pk, job.done, job.changed)
    return job
