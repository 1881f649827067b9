"""Celery tasks for the tagger. Tagging a new article runs inside its fetch task; re-tagging
the archive after a rule change runs here, on the tag queue."""

from __future__ import annotations

from celery import shared_task

from tags import retagging
from tags.models import RetagJob


@shared_task
def run_retag_job(job_id: int) -> str:
    job = RetagJob.objects.filter(pk=job_id).first()
    if job is None:
        return "gone"
    retagging.run(job)
    return job.state


@shared_task
def run_training(run_id: int) -> str:
    from tags import modelling
    from tags.models import TrainingRun

    run = TrainingRun.objects.filter(pk=run_id).first()
    if run is None:
        return "gone"
    return modelling.run_training_run(run).state
