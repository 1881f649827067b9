"""Celery tasks for stories: thin wrappers over stories.assignment and stories.restory, on the
tag queue. New articles are placed by ``drain``, which extraction asks for (stories.receivers)."""

from __future__ import annotations

import time

from celery import shared_task
from django.core.cache import cache

from stories import assignment, restory
from stories.models import RestoryJob

# Set while a drain is asked for and has not started: a burst of extractions sends one message.
# It expires, so a lost message holds up the next request for at most this long (and the
# sweep places what waits either way).
DRAIN_REQUESTED = "stories:drain-requested"
DRAIN_REQUEST_SECONDS = 60
DRAIN_SECONDS = 20.0  # then the rest goes on in a new message, so other work interleaves


def request_drain() -> bool:
    """Ask for a drain unless one is asked for already; True when a message was sent."""
    if not cache.add(DRAIN_REQUESTED, 1, timeout=DRAIN_REQUEST_SECONDS):
        return False
    try:
        drain.delay()
    except Exception:
        cache.delete(DRAIN_REQUESTED)  # not sent: the next extraction asks again
        raise
    return True


@shared_task
def drain() -> int:
    """Place the articles awaiting a story, a batch a transaction, in arrival order."""
    # Cleared before reading the queue: an article extracted from here on asks again.
    cache.delete(DRAIN_REQUESTED)
    started, placed = time.monotonic(), 0
    while True:
        n = assignment.drain_quietly()
        placed += n
        if n < assignment.BATCH:
            break
        if time.monotonic() - started > DRAIN_SECONDS and not drain.request.is_eager:
            request_drain()
            break
    return placed


@shared_task
def sweep() -> int:
    """Beat: place extracted articles that assignment missed (an error, a lost worker)."""
    return assignment.sweep()


@shared_task
def merge_pass() -> int:
    """Beat: join live stories that grew alike (e.g. two workers' first reports of one event)."""
    return len(assignment.merge_pass())


@shared_task
def prune() -> dict[str, int]:
    """Beat: drop the clusterer's state for stories past the window."""
    return assignment.prune()


@shared_task(bind=True)
def run_restory_job(self, job_id: int, chunk: int | None = None) -> str:
    """One chunk, then the next chunk as its own message (in-process mode loops here)."""
    while True:
        outcome = restory.run_chunk(job_id, chunk)
        if outcome != restory.CONTINUE:
            return outcome
        chunk = RestoryJob.objects.values_list("chunks", flat=True).get(pk=job_id)
        if not self.request.is_eager:
            run_restory_job.delay(job_id, chunk)
            return outcome


@shared_task
def resume_jobs() -> int:
    """Beat: a restory job whose chunk message was lost goes on from its cursor."""
    stalled = restory.resume_stalled()
    for job_id in stalled:
        run_restory_job.delay(job_id)
    return len(stalled)
