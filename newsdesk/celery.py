"""The Celery app. Settings come from Django's settings under the CELERY_ prefix."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "newsdesk.settings")

app = Celery("newsdesk", task_cls="newsdesk.taskbase:DatabaseRetryingTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def preload_language_model(**kwargs) -> None:
    """Load the language model (~75 MB) once in the parent so forked pool processes share it."""
    from articles.extraction import detect_language

    detect_language("Newsdesk loads its language model before the worker forks its pool.")


@task_postrun.connect
def forget_logged_queries(**kwargs) -> None:
    # With DEBUG on, Django logs every query on the connection and Celery never clears the log:
    # a long-running worker would grow by the size of every page it stored.
    from django.db import reset_queries

    reset_queries()


@task_prerun.connect
def _start_task_clock(task_id=None, **kwargs) -> None:
    from newsdesk.metrics import task_started

    task_started(task_id)


@task_postrun.connect
def _count_task(task_id=None, task=None, retval=None, **kwargs) -> None:
    from newsdesk.metrics import task_finished

    task_finished(task_id, task, retval)
