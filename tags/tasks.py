"""Celery tasks for the tagger: thin wrappers over tags.linking and tags.retagging."""

from __future__ import annotations

from celery import shared_task

from articles.models import Article
from tags import linking, retagging
from tags.models import RetagJob


@shared_task
def tag_article(article_id: int) -> bool:
    article = Article.objects.filter(pk=article_id).first()
    return bool(article and linking.tag_article(article))


@shared_task
def run_retag_job(job_id: int) -> str:
    job = RetagJob.objects.filter(pk=job_id).first()
    if job is None:
        return "gone"
    retagging.run(job)
    return job.state
