"""When to poll a feed next: pure arithmetic over what the last polls saw."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from datetime import datetime


def publishing_interval(
    current: int, published: Sequence[datetime], new_entries: int, low: int, high: int
) -> int:
    """Adapt the polling interval to how often the feed publishes, within [low, high].

    With dates, aim for about two polls per typical gap between recent entries; without new
    entries, ease off by half again, so a quiet feed drifts towards the upper bound.
    """
    stamps = sorted((d for d in published if d is not None), reverse=True)[:20]
    if new_entries and len(stamps) >= 2:
        gaps = sorted((a - b).total_seconds() for a, b in itertools.pairwise(stamps))
        median_gap = gaps[len(gaps) // 2]
        target = int(median_gap / 2)
    elif new_entries:
        target = current
    else:
        target = int(current * 1.5)
    return max(low, min(high, target))


def failure_backoff(failures: int, base: int, high: int, rng: random.Random | None = None) -> int:
    """Exponential backoff after consecutive failures, with jitter so feeds don't stampede."""
    rng = rng or random.Random()  # noqa: S311 - jitter, not security
    delay = min(high, base * 2 ** max(0, failures - 1))
    return int(delay * rng.uniform(0.8, 1.2))
