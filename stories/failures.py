"""Articles that story assignment could not place: a row each (``PlacementFailure``), so the
failure is the database's, visible, and never silently retried forever or dropped.

Without the row, an article whose placement raises stays in the drain's queue: every batch it
lands in fails and is placed again one article at a time, and once its extraction is older than
the story window it leaves the queue unplaced, with nothing to say so. With it:

- the drain's queue leaves it out (``stories.assignment.waiting``);
- beat's sweep tries it again, alone, after each pause in ``RETRY_AFTER``;
- after the last try it is set aside (``retry_after`` empty): the operations page and
  ``/metrics`` count it, the admin lists it with its error and can try it again;
- a new extraction of its page clears the row, so the article joins the queue again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from stories.models import PlacementFailure

log = logging.getLogger(__name__)

# The pauses before each try after a failure; one failure more sets the article aside. A
# failure that a deploy or a database hiccup caused is over within the first pauses; one that
# an article's own content causes will fail every time, and should cost only a few tries.
RETRY_AFTER = (timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=3))
ERROR_CHARS = 2000
RETRY_BATCH = 100


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]


def record(article_id: int, error: str, now=None) -> PlacementFailure:
    """Count one more failed try for this article and set its next try (or set it aside)."""
    now = now or timezone.now()
    with transaction.atomic():
        failure, created = PlacementFailure.objects.select_for_update().get_or_create(
            article_id=article_id,
            defaults={"error": error, "first_failed_at": now, "failed_at": now},
        )
        if not created:
            failure.attempts += 1
        failure.error = error
        failure.failed_at = now
        tries_left = failure.attempts <= len(RETRY_AFTER)
        failure.retry_after = now + RETRY_AFTER[failure.attempts - 1] if tries_left else None
        failure.save()
    return failure


def record_quietly(article_id: int, exc: BaseException, now=None) -> None:
    """``record``, where the database itself may be failing: then the failure is logged and
    the article keeps whatever state it had (in the queue, or its last failure)."""
    try:
        record(article_id, describe(exc), now)
    except Exception:
        log.exception("could not record the failure of article %s", article_id)


def clear(article_ids) -> int:
    """Forget the failures of these articles (placed, or extracted again)."""
    return PlacementFailure.objects.filter(article_id__in=list(article_ids)).delete()[0]


def due(now=None):
    """Failures whose next try has come, oldest first."""
    now = now or timezone.now()
    return PlacementFailure.objects.filter(retry_after__lte=now).order_by("retry_after")


def set_aside():
    return PlacementFailure.objects.filter(retry_after__isnull=True)


def counts() -> dict[str, int]:
    """How many failed articles wait for their next try and how many are set aside."""
    return {
        "retrying": PlacementFailure.objects.filter(retry_after__isnull=False).count(),
        "set_aside": set_aside().count(),
    }


@dataclass(frozen=True)
class Outcome:
    placed: int = 0
    failed: int = 0


def try_again(article_ids, place, now=None) -> Outcome:
    """Place each of these failed articles alone with ``place`` (``assignment.assign``): the
    row goes when it is placed (or there is nothing to place any more), and another failure is
    counted with its error."""
    placed = failed = 0
    for article_id in article_ids:
        try:
            place(article_id)
        except Exception as exc:
            log.exception("article %s still cannot be placed in a story", article_id)
            record_quietly(article_id, exc, now)
            failed += 1
        else:
            clear([article_id])
            placed += 1
    return Outcome(placed, failed)


def retry_due(place, now=None, *, limit: int = RETRY_BATCH) -> Outcome:
    """Beat's part: try the failures whose pause is over, up to ``limit``."""
    ids = list(due(now).values_list("article_id", flat=True)[:limit])
    return try_again(ids, place, now)
