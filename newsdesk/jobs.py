"""Chunked, resumable jobs over many articles: one state machine for every app's jobs.

A job is queued → running (one chunk per task, each claimed by its number and re-enqueuing the
next) → done | failed | superseded (by a newer job covering it). The job row is the state: a
chunk message delivered twice finds its number taken and does nothing; a lost message is
resumed by `resume_stalled` (beat) from the job's cursor; a chunk that finds its job superseded
stops. Apps keep their own table (a subclass of `ChunkedJob`) and what a chunk does; this module
only moves the state, so stories need not import tags to share it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

CONTINUE = "continue"


class ChunkedJob(models.Model):
    """The fields every chunked job keeps: state, progress, cursor, heartbeat, error."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        SUPERSEDED = "superseded", "Superseded by a newer job"

    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    chunks = models.PositiveIntegerField(default=0)
    last_article_id = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    # Moved on by every chunk; a running job whose heartbeat is old lost its message.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, round(100 * self.done / self.total))

    @property
    def is_finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED, self.State.SUPERSEDED)


Job = TypeVar("Job", bound=ChunkedJob)
UNFINISHED = (ChunkedJob.State.QUEUED, ChunkedJob.State.RUNNING)


def claim_chunk(job: ChunkedJob, chunk: int | None) -> bool:
    """Move a queued job to running and claim chunk number `chunk` (by default the next).

    False when another delivery of this message has the number (or had it), or the job is no
    longer running: the caller does nothing.
    """
    model = type(job)
    now = timezone.now()
    if job.state == model.State.QUEUED:
        model.objects.filter(pk=job.pk, state=model.State.QUEUED).update(
            state=model.State.RUNNING, started_at=now, heartbeat_at=now
        )
    expected = job.chunks if chunk is None else chunk
    return bool(
        model.objects.filter(pk=job.pk, state=model.State.RUNNING, chunks=expected).update(
            chunks=expected + 1, heartbeat_at=now
        )
    )


def state_of(job: ChunkedJob) -> str:
    return type(job).objects.values_list("state", flat=True).get(pk=job.pk)


def is_superseded(job: ChunkedJob) -> bool:
    """Checked between a chunk's transactions: a newer job took over."""
    model = type(job)
    return model.objects.filter(pk=job.pk, state=model.State.SUPERSEDED).exists()


def record_chunk(job: ChunkedJob, **progress) -> bool:
    """Store a chunk's progress (and move the heartbeat) while the job is still running.
    False when it was superseded meanwhile: the chunk says so and does no more."""
    model = type(job)
    return bool(
        model.objects.filter(pk=job.pk, state=model.State.RUNNING).update(
            heartbeat_at=timezone.now(), **progress
        )
    )


def set_state(job: ChunkedJob, state: str, error: str = "") -> None:
    """Finish the job (done or failed), unless it was superseded first."""
    model = type(job)
    now = timezone.now()
    model.objects.filter(pk=job.pk).exclude(state=model.State.SUPERSEDED).update(
        state=state, finished_at=now, heartbeat_at=now, error=error
    )


def fail(job: ChunkedJob, exc: BaseException) -> None:
    set_state(job, type(job).State.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])


def supersede(jobs: models.QuerySet) -> int:
    """Unfinished jobs among these stop at their next chunk."""
    model = jobs.model
    return jobs.filter(state__in=UNFINISHED).update(
        state=model.State.SUPERSEDED, finished_at=timezone.now()
    )


def run(
    job: Job,
    run_chunk: Callable[..., str],
    progress: Callable[[int], None] | None = None,
    **chunk_options,
) -> Job:
    """Run the job's chunks here until it finishes (the shell and in-process mode)."""
    done = job.done
    while run_chunk(job.pk, **chunk_options) == CONTINUE:
        job.refresh_from_db()
        if progress:
            progress(job.done - done)
        done = job.done
    job.refresh_from_db()
    return job


def resume_stalled(model: type[ChunkedJob], now=None) -> list[int]:
    """Jobs whose chunk message was lost (a worker killed, a broker restarted): their ids, with
    their heartbeat moved so the next look does not send them twice."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.NEWSDESK_STUCK_AFTER)
    stalled = model.objects.filter(state__in=UNFINISHED).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff)
    )
    ids = list(stalled.values_list("pk", flat=True))
    model.objects.filter(pk__in=ids).update(heartbeat_at=now)
    return ids
