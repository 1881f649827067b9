"""Handing ingestion work to workers from the database's states, fairly, and finding lost work.

The database says what is left to do; a broker message is only a nudge. So a message lost to a
crash or a broker restart costs a delay, never an article:
- feeds: `claim_due` claims due feeds at enqueue time (one conditional UPDATE that also pushes
  `next_poll_at`), and each poll message carries the claim's token, so a copy of it is a no-op;
- articles: `dispatch` sends fetch work for pending articles round-robin by host, a host's
  share staggered by its politeness delay, so one host's backlog never delays another host;
  `sweep` re-sends work stuck past NEWSDESK_STUCK_AFTER (pending, fetched, extracted-not-tagged).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from articles.fetching import host_delay
from articles.models import Article, Feed

POLL_CLAIM_SECONDS = 300
DISPATCH_LIMIT = 2000


# --- Feeds ---------------------------------------------------------------------------------------


def claim_due(limit: int = 1000, feed_ids=None, now=None) -> list[tuple[int, str]]:
    """Claim due feeds (or these feeds, due or not) for one poll each; returns (id, token).

    Locked rows are skipped, so two schedulers never claim one feed; the claim pushes
    `next_poll_at` past itself, so an unclaimed feed is due again only if its poll was lost.
    """
    now = now or timezone.now()
    until = now + timedelta(seconds=POLL_CLAIM_SECONDS)
    token = uuid.uuid4().hex
    feeds = Feed.objects.filter(is_active=True).filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    )
    feeds = feeds.filter(pk__in=list(feed_ids)) if feed_ids is not None else feeds.due(now)
    with transaction.atomic():
        ids = list(
            feeds.select_for_update(skip_locked=True)
            .order_by("next_poll_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        Feed.objects.filter(pk__in=ids).update(
            claimed_until=until, next_poll_at=until, claim_token=token
        )
    return [(pk, token) for pk in ids]


def take_claim(feed_id: int, token: str | None) -> bool:
    """The poll message's first delivery takes its claim; every other copy finds it gone.

    A message without a token (sent by hand) polls only a feed that is due, claiming it the
    same way, so three copies of it still make one poll.
    """
    now = timezone.now()
    until = now + timedelta(seconds=POLL_CLAIM_SECONDS)
    rows = Feed.objects.filter(pk=feed_id, is_active=True)
    rows = rows.filter(claim_token=token) if token else rows.due(now)
    return rows.update(claim_token="", claimed_until=until, next_poll_at=until) == 1


# --- Articles ------------------------------------------------------------------------------------


def per_host_share(host: str = "") -> int:
    """How many fetches of one host a dispatch round sends: as many as politeness lets it
    make before the next round (at least one)."""
    delay = host_delay(host)
    if delay <= 0:
        return DISPATCH_LIMIT
    return max(1, math.ceil(settings.NEWSDESK_DISPATCH_INTERVAL / delay))


@dataclass(frozen=True)
class Dispatched:
    article_id: int
    countdown: float


def _stale(now) -> Q:
    cutoff = now - timedelta(seconds=settings.NEWSDESK_STUCK_AFTER)
    return Q(queued_at__isnull=True) | Q(queued_at__lt=cutoff)


def take_pending(now=None, limit: int = DISPATCH_LIMIT) -> list[Dispatched]:
    """Choose pending articles round-robin by host and mark them queued.

    Row n of each host (oldest first) gets countdown (n - 1) times the host delay; rows are
    returned by n, so the queue holds one article of every host before the second of any.
    """
    now = now or timezone.now()
    # The widest share any host has (a host may have its own delay); each host's own below.
    share = max([per_host_share(), *map(per_host_share, settings.NEWSDESK_HOST_DELAYS)])
    # A host's share counts what is already queued for it and not yet done.
    in_flight = dict(
        Article.objects.filter(status=Article.Status.PENDING)
        .exclude(_stale(now))
        .order_by()
        .values_list("fetch_host")
        .annotate(n=Count("pk"))
    )
    ranked = (
        Article.objects.filter(status=Article.Status.PENDING)
        .filter(_stale(now))
        .annotate(turn=Window(RowNumber(), partition_by=[F("fetch_host")], order_by=F("pk").asc()))
        .filter(turn__lte=share)
        .order_by("turn", "pk")
        .values_list("pk", "fetch_host", "turn")[:limit]
    )
    turns = {
        pk: in_flight.get(host, 0) + turn
        for pk, host, turn in ranked
        if in_flight.get(host, 0) + turn <= per_host_share(host)
    }
    hosts = {pk: host for pk, host, _ in ranked}
    if not turns:
        return []
    with transaction.atomic():
        # Window queries cannot lock rows: lock the chosen ones, skipping those another
        # dispatcher took meanwhile, and re-check that they are still stale.
        taken = list(
            Article.objects.select_for_update(skip_locked=True)
            .filter(pk__in=list(turns), status=Article.Status.PENDING)
            .filter(_stale(now))
            .values_list("pk", flat=True)
        )
        Article.objects.filter(pk__in=taken).update(queued_at=now)
    chosen = sorted(taken, key=lambda pk: (turns[pk], pk))
    return [Dispatched(pk, (turns[pk] - 1) * max(host_delay(hosts[pk]), 0)) for pk in chosen]


def take_stuck(now=None, limit: int = DISPATCH_LIMIT) -> tuple[list[int], list[int]]:
    """Fetched-not-extracted and extracted-not-tagged articles whose message was lost.

    Returns (to extract, to announce), each marked queued again.
    """
    now = now or timezone.now()
    found: dict[str, list[int]] = {}
    for name, rows in (
        ("fetched", Article.objects.filter(status=Article.Status.FETCHED)),
        ("untagged", Article.objects.filter(status=Article.Status.OK, tagged_at__isnull=True)),
    ):
        with transaction.atomic():
            ids = list(
                rows.filter(_stale(now))
                .select_for_update(skip_locked=True)
                .order_by("pk")
                .values_list("pk", flat=True)[:limit]
            )
            Article.objects.filter(pk__in=ids).update(queued_at=now)
        found[name] = ids
    return found["fetched"], found["untagged"]


def counts_by_state() -> dict[str, int]:
    """Articles per state, with "extracted, not tagged" and "pending, being fetched now" apart
    (for operators and metrics)."""
    counts = {status: 0 for status in Article.Status.values}
    for status, n in Article.objects.order_by().values_list("status").annotate(n=Count("pk")):
        counts[status] = n
    counts["untagged"] = Article.objects.filter(
        status=Article.Status.OK, tagged_at__isnull=True
    ).count()
    # Pending articles a worker holds the fetch claim of right now (ingest.claim_fetch).
    counts["fetching"] = Article.objects.filter(
        status=Article.Status.PENDING, fetch_claimed_until__gt=timezone.now()
    ).count()
    return counts
