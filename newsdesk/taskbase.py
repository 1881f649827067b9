"""The project's Celery task class: a task that finds the database gone retries itself.

A PostgreSQL restart, failover or a dropped connection surfaces as OperationalError or
InterfaceError in whatever query the task was making. Every verb a task calls moves its row's
state in one transaction and is a no-op when delivered again, so the safe answer is to send the
same message again later, with exponential backoff and jitter so that a pool of workers does
not reconnect in step. Celery's Django fixup closes the broken connection after the task and
Django's CONN_HEALTH_CHECKS re-checks a kept one before the next query, so the retry starts on
a fresh connection. In-process (eager) runs raise instead: there is nobody to retry later.
"""

from __future__ import annotations

from celery import Task
from celery.utils.time import get_exponential_backoff_interval
from django.db import InterfaceError, OperationalError

DATABASE_DOWN = (OperationalError, InterfaceError)
# With the 60 s ceiling, about 25 minutes of outage; past that the sweep re-sends the work.
DATABASE_RETRIES = 30
BACKOFF_FACTOR = 2
BACKOFF_MAX = 60


def database_backoff(retries: int) -> int:
    return get_exponential_backoff_interval(
        factor=BACKOFF_FACTOR, retries=retries, maximum=BACKOFF_MAX, full_jitter=True
    )


class DatabaseRetryingTask(Task):
    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except DATABASE_DOWN as exc:
            if self.request.is_eager or self.request.called_directly:
                raise
            raise self.retry(
                exc=exc,
                countdown=database_backoff(self.request.retries),
                max_retries=DATABASE_RETRIES,
            ) from exc
