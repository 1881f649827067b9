"""Celery tasks for stories: thin wrappers over stories.assignment and stories.restory, on the
tag queue. Assignment of new articles runs in the extraction's own task (stories.receivers)."""

from __future__ import annotations

from celery import shared_task

from stories import assignment, restory
from stories.models import RestoryJob


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
