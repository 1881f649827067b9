"""Prometheus metrics at /metrics, for staff operators or a bearer token.

Multi-process (Celery prefork workers, gunicorn workers): every figure that is a *state* (queue
depths, articles and feeds by state, failures by reason, jobs) is read from Redis and PostgreSQL
at scrape time by `StateCollector`, so it is the same whichever web process answers and survives
any restart. Counters of *events* (polls, fetches, task latency) are incremented in the worker
processes by Celery signals; with PROMETHEUS_MULTIPROC_DIR set (a directory shared by the web
and worker processes of one machine, emptied at deploy) they are summed across processes by
prometheus-client's multiprocess mode. Without it they stay in each worker process and /metrics
serves the state figures only.
"""

from __future__ import annotations

import hmac
import os
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

POLLS = Counter("newsdesk_polls", "Feed polls finished, by outcome.", ["outcome"])
FETCHES = Counter("newsdesk_fetches", "Article fetch tasks finished, by outcome.", ["outcome"])
TASK_SECONDS = Histogram(
    "newsdesk_task_duration_seconds",
    "Celery task run time, by task.",
    ["task"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
_started: dict[str, float] = {}


def task_started(task_id: str, **kwargs) -> None:
    _started[task_id] = time.perf_counter()


def task_finished(task_id: str, task, retval=None, **kwargs) -> None:
    started = _started.pop(task_id, None)
    if started is not None:
        TASK_SECONDS.labels(task.name).observe(time.perf_counter() - started)
    if task.name == "articles.tasks.poll_feed" and isinstance(retval, dict):
        POLLS.labels(str(retval.get("outcome", "unknown"))).inc()
    elif task.name == "articles.tasks.fetch_article" and isinstance(retval, str):
        FETCHES.labels(retval).inc()


class StateCollector:
    """Gauges read from the database and the broker at scrape time."""

    def collect(self):
        from newsdesk.operations import snapshot

        snap = snapshot(lists=False)
        queue = GaugeMetricFamily(
            "newsdesk_queue_depth", "Messages waiting in each broker queue.", labels=["queue"]
        )
        for name, depth in snap.queues.items():
            if depth is not None:
                queue.add_metric([name], depth)
        yield queue
        articles = GaugeMetricFamily("newsdesk_articles", "Articles by state.", labels=["state"])
        for state, n in snap.articles.items():
            articles.add_metric([state], n)
        yield articles
        oldest = GaugeMetricFamily(
            "newsdesk_oldest_unfinished_article_seconds",
            "Age of the oldest article not yet extracted and tagged (0 when none).",
        )
        oldest.add_metric([], snap.oldest_unfinished_seconds or 0)
        yield oldest
        failures = GaugeMetricFamily(
            "newsdesk_article_failures_last_day",
            "Articles that failed in the last 24 hours, by reason.",
            labels=["reason"],
        )
        for reason, n in snap.failed_by_reason.items():
            failures.add_metric([reason], n)
        yield failures
        feeds = GaugeMetricFamily("newsdesk_feeds", "Feeds by state.", labels=["state"])
        for state, n in snap.feeds.items():
            feeds.add_metric([state], n)
        yield feeds
        polls = GaugeMetricFamily(
            "newsdesk_polls_last_hour", "Polls in the last hour, by outcome.", labels=["outcome"]
        )
        for outcome, n in snap.polls_last_hour.items():
            polls.add_metric([outcome], n)
        yield polls
        awaiting = GaugeMetricFamily(
            "newsdesk_articles_awaiting_story",
            "Extracted articles of the story window not yet placed in a story (the drain's queue).",
        )
        awaiting.add_metric([], snap.awaiting_story)
        yield awaiting
        unplaced = GaugeMetricFamily(
            "newsdesk_story_placement_failures",
            "Articles story assignment could not place: retrying after a pause, or set aside"
            " until an operator tries them again.",
            labels=["state"],
        )
        for state, n in snap.story_failures.items():
            unplaced.add_metric([state], n)
        yield unplaced
        jobs = GaugeMetricFamily(
            "newsdesk_jobs", "Retag/delete/merge jobs by state.", labels=["state"]
        )
        for state, n in snap.jobs_by_state.items():
            jobs.add_metric([state], n)
        yield jobs


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        for collector in (POLLS, FETCHES, TASK_SECONDS):
            registry.register(collector)
    registry.register(StateCollector())
    return registry


def allowed(request: HttpRequest) -> bool:
    token = settings.NEWSDESK_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header.removeprefix("Bearer ").strip(), token)
    user = request.user
    return bool(user.is_authenticated and user.is_staff and user.has_perm("articles.change_feed"))


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not allowed(request):
        response = HttpResponse("Operators only: sign in, or send a bearer token.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="newsdesk-metrics"'
        return response
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
