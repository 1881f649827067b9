"""What operators need to see of the work: queue depths, unfinished and failed articles by age,
failing feeds, jobs. Read at request (or scrape) time from Redis and PostgreSQL, so every web
process shows the same figures whichever process did the work."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

import redis
from django.conf import settings
from django.db.models import Count, Min, Q
from django.utils import timezone

from articles.models import Article, Feed, PollLog
from stories import assignment, failures
from stories.models import RestoryJob
from tags.models import RetagJob

QUEUES = ("poll", "fetch", "tag", "default")
AGE_BUCKETS = (("under 1 h", 1), ("1-24 h", 24), ("over 24 h", None))
_REASONS = (
    (re.compile(r"timed? ?out|timeout", re.I), "timeout"),
    (re.compile(r"\bHTTP (\d{3})\b|\bstatus (\d{3})\b", re.I), "http"),
    (re.compile(r"robots", re.I), "robots"),
    (re.compile(r"too large|bytes|size limit", re.I), "too_large"),
    (re.compile(r"refus|private|loopback|address|resolve|DNS", re.I), "address"),
    (re.compile(r"unexpected error", re.I), "unexpected"),
    (re.compile(r"gave up", re.I), "gave_up"),
    (re.compile(r"feed|XML|pars", re.I), "parse"),
    (re.compile(r"extract|text", re.I), "extraction"),
)


def failure_reason(error: str) -> str:
    """A bounded label for a free-text error (metrics need few distinct values)."""
    for pattern, label in _REASONS:
        match = pattern.search(error or "")
        if match:
            if label == "http":
                return f"http_{match.group(1) or match.group(2)}"
            return label
    return "other"


def queue_depths() -> dict[str, int | None]:
    """Messages waiting per queue (Redis list lengths) and reserved by workers (unacked);
    None when there is no broker (in-process mode) or it cannot be reached."""
    depths: dict[str, int | None] = {name: None for name in (*QUEUES, "reserved")}
    url = settings.CELERY_BROKER_URL
    if not url or not url.startswith("redis"):
        return depths
    try:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        with client.pipeline() as pipe:
            for name in QUEUES:
                pipe.llen(name)
            pipe.hlen("unacked")
            values = pipe.execute()
    except redis.RedisError:
        return depths
    return dict(zip((*QUEUES, "reserved"), values, strict=True))


@dataclass
class Snapshot:
    queues: dict[str, int | None]
    articles: dict[str, int]
    unfinished_by_age: dict[str, dict[str, int]]
    oldest_unfinished_seconds: float | None
    failed_by_reason: dict[str, int]
    feeds: dict[str, int]
    failing_feeds: list[Feed]
    polls_last_hour: dict[str, int]
    jobs: list[RetagJob]
    jobs_by_state: dict[str, int] = field(default_factory=dict)
    # Extracted within the story window and in no story: the drain's queue (stories.assignment).
    awaiting_story: int = 0
    # Articles story assignment could not place (stories.failures): retrying, set aside.
    story_failures: dict[str, int] = field(default_factory=dict)
    set_aside_articles: list = field(default_factory=list)
    restory_jobs: list = field(default_factory=list)


def snapshot(now=None, *, lists: bool = True) -> Snapshot:
    from articles.dispatch import counts_by_state

    now = now or timezone.now()
    unfinished = Q(status__in=[Article.Status.PENDING, Article.Status.FETCHED]) | Q(
        status=Article.Status.OK, tagged_at__isnull=True
    )
    by_age: dict[str, dict[str, int]] = {}
    for state, rows in (
        ("pending", Article.objects.filter(status=Article.Status.PENDING)),
        ("fetched", Article.objects.filter(status=Article.Status.FETCHED)),
        ("untagged", Article.objects.filter(status=Article.Status.OK, tagged_at__isnull=True)),
        ("failed", Article.objects.filter(status=Article.Status.FAILED)),
    ):
        age_field = "fetched_at" if state == "failed" else "first_seen_at"
        buckets = {}
        lower = None
        for label, hours in AGE_BUCKETS:
            q = Q()
            if lower is not None:
                q &= Q(**{f"{age_field}__lte": now - timedelta(hours=lower)})
            if hours is not None:
                q &= Q(**{f"{age_field}__gt": now - timedelta(hours=hours)})
            buckets[label] = rows.filter(q).count()
            lower = hours
        by_age[state] = buckets
    oldest = Article.objects.filter(unfinished).aggregate(t=Min("first_seen_at"))["t"]
    failed_by_reason: dict[str, int] = {}
    recent_failures = Article.objects.filter(
        status=Article.Status.FAILED, updated_at__gte=now - timedelta(days=1)
    ).values_list("error", flat=True)[:5000]
    for error in recent_failures:
        reason = failure_reason(error)
        failed_by_reason[reason] = failed_by_reason.get(reason, 0) + 1
    feeds = {
        "active": Feed.objects.filter(is_active=True).count(),
        "failing": Feed.objects.filter(is_active=True, consecutive_failures__gt=0).count(),
        "disabled": Feed.objects.filter(is_active=False).count(),
        "claimed": Feed.objects.filter(claimed_until__gt=now).count(),
        "due": Feed.objects.due(now).count(),
    }
    polls = dict(
        PollLog.objects.filter(started_at__gte=now - timedelta(hours=1))
        .order_by()
        .values_list("outcome")
        .annotate(n=Count("pk"))
    )
    jobs_by_state = dict(RetagJob.objects.order_by().values_list("state").annotate(n=Count("pk")))
    failing = []
    jobs = []
    if lists:
        failing = list(
            Feed.objects.filter(Q(consecutive_failures__gt=0) | Q(is_active=False)).order_by(
                "-is_active", "-consecutive_failures", "url"
            )[:50]
        )
        jobs = list(RetagJob.objects.select_related("tag", "target")[:30])
    return Snapshot(
        queues=queue_depths(),
        articles=counts_by_state(),
        unfinished_by_age=by_age,
        oldest_unfinished_seconds=(now - oldest).total_seconds() if oldest else None,
        failed_by_reason=failed_by_reason,
        feeds=feeds,
        failing_feeds=failing,
        polls_last_hour=polls,
        jobs=jobs,
        jobs_by_state=jobs_by_state,
        awaiting_story=assignment.waiting().count(),
        story_failures=failures.counts(),
        set_aside_articles=(
            list(failures.set_aside().select_related("article").order_by("-failed_at")[:20])
            if lists
            else []
        ),
        restory_jobs=list(RestoryJob.objects.all()[:10]) if lists else [],
    )
