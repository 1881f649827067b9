"""Celery tasks for the tagger. Tagging a new article runs when ingestion announces it; jobs
over many articles (retag, delete, merge) run here one chunk per task, on the tag queue."""

from __future__ import annotations

from celery import shared_task

from tags import retagging
from tags.models import RetagJob


@shared_task(bind=True)
def run_retag_job(self, job_id: int, chunk: int | None = None) -> str:
    """One chunk, then the next chunk as its own message (in-process mode loops here)."""
    while True:
        outcome = retagging.run_chunk(job_id, chunk)
        if outcome != retagging.CONTINUE:
            return outcome
        chunk = RetagJob.objects.values_list("chunks", flat=True).get(pk=job_id)
        if not self.request.is_eager:
            run_retag_job.delay(job_id, chunk)
            return outcome


@shared_task
def resume_jobs() -> int:
    """Beat runs this: a job whose chunk message was lost goes on from its cursor."""
    stalled = retagging.resume_stalled()
    for job_id in stalled:
        run_retag_job.delay(job_id)
    return len(stalled)


@shared_task
def run_training(run_id: int) -> str:
    from tags import modelling
    from tags.models import TrainingRun

    run = TrainingRun.objects.filter(pk=run_id).first()
    if run is None:
        return "gone"
    return modelling.run_training_run(run).state
