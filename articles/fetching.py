"""The HTTP client configured from settings, with per-host politeness and robots.txt.

Politeness and robots.txt live in the cache, which is Redis in the real stack, so they hold
across every worker process and machine.
"""

from __future__ import annotations

import functools
import time

from django.conf import settings
from django.core.cache import cache

from articles import robots
from articles.hosts import host_of
from articles.http import (
    FetchError,
    FetchPolicy,
    RateLimitedError,
    Response,
    fetch,
    parse_allowed_hosts,
)

ROBOTS_TTL = 24 * 3600
ROBOTS_UNREACHABLE_TTL = 300


class HostBusyError(FetchError):
    """The host must not be asked again yet; try after `retry_after` seconds (the real wait)."""

    def __init__(self, url: str, retry_after: float, why: str = "") -> None:
        because = f" ({why})" if why else ""
        super().__init__(
            url,
            f"waiting {retry_after:.0f} s before asking this host again{because}",
            retryable=True,
        )
        self.retry_after = retry_after


class RobotsDisallowedError(FetchError):
    def __init__(self, url: str) -> None:
        super().__init__(url, "robots.txt disallows fetching this page", retryable=False)


def policy() -> FetchPolicy:
    return FetchPolicy(
        connect_timeout=settings.NEWSDESK_HTTP_CONNECT_TIMEOUT,
        read_timeout=settings.NEWSDESK_HTTP_READ_TIMEOUT,
        total_timeout=settings.NEWSDESK_HTTP_TOTAL_TIMEOUT,
        max_bytes=settings.NEWSDESK_HTTP_MAX_BYTES,
        max_redirects=settings.NEWSDESK_HTTP_MAX_REDIRECTS,
        allow_hosts=allowed_hosts(tuple(settings.NEWSDESK_ALLOW_HOSTS)),
        user_agent=settings.NEWSDESK_USER_AGENT,
        max_retry_after=settings.NEWSDESK_MAX_RETRY_AFTER,
    )


@functools.lru_cache(maxsize=8)
def allowed_hosts(entries: tuple[str, ...]) -> frozenset[tuple[str, int]]:
    return parse_allowed_hosts(entries)


def _host_key(url: str) -> str:
    return f"polite:{host_of(url)}"


def host_delay(host: str) -> float:
    """The politeness delay of a host ("host[:port]", as `host_of` gives it): its exact entry
    in NEWSDESK_HOST_DELAYS, else NEWSDESK_HOST_DELAY."""
    return settings.NEWSDESK_HOST_DELAYS.get(host.lower(), settings.NEWSDESK_HOST_DELAY)


def take_turn(url: str, max_wait: float) -> None:
    """Wait for this host's turn (one request per its delay across all workers).

    `cache.add` is atomic (SET NX in Redis): whoever adds the key owns the next slot, and the
    key's expiry is the delay. Raises HostBusyError rather than wait longer than `max_wait`.
    """
    delay = host_delay(host_of(url))
    key, deadline = _host_key(url), time.monotonic() + max_wait
    if delay <= 0:
        # No politeness delay, but a host that asked us to wait (Retry-After) is still obeyed.
        _raise_if_held(url, key, deadline)
        return
    # The value is when the slot frees (wall clock), so a blocked caller learns the real wait.
    while not cache.add(key, (time.time() + delay, ""), timeout=max(1, round(delay))):
        wait, why = _remaining(key)
        if wait > deadline - time.monotonic():
            raise HostBusyError(url, retry_after=max(wait, delay, 1.0), why=why)
        time.sleep(min(0.25, max(delay, 0.05)))


def _remaining(key: str) -> tuple[float, str]:
    value = cache.get(key)
    if isinstance(value, tuple | list) and len(value) == 2:
        return max(0.0, float(value[0]) - time.time()), str(value[1])
    return 0.0, ""


def _raise_if_held(url: str, key: str, deadline: float) -> None:
    wait, why = _remaining(key)
    if wait > 0 and why and wait > deadline - time.monotonic():
        raise HostBusyError(url, retry_after=wait, why=why)
    if wait > 0 and why:
        time.sleep(wait)


def hold_host(url: str, seconds: float, why: str = "the host asked us to wait") -> None:
    """A host said 429 / Retry-After: nobody asks it again before then."""
    seconds = min(seconds, settings.NEWSDESK_MAX_RETRY_AFTER)
    cache.set(_host_key(url), (time.time() + seconds, why), timeout=max(1, round(seconds)))


def robots_allowed(url: str) -> bool:
    if not settings.NEWSDESK_OBEY_ROBOTS:
        return True
    key = f"robots:{robots.robots_url(url)}"
    rules = cache.get(key)
    if rules is None:
        rules = robots.load_robots(url, lambda robots_url: fetch(robots_url, policy()))
        # An unreachable robots.txt blocks the host only briefly (RFC 9309 section 2.3.1.4).
        cache.set(key, rules, timeout=ROBOTS_UNREACHABLE_TTL if rules.unreachable else ROBOTS_TTL)
    return rules.allows(url, settings.NEWSDESK_USER_AGENT)


def polite_fetch(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    accept: str | None = None,
    check_robots: bool = False,
    max_wait: float = 30.0,
) -> Response:
    if check_robots and not robots_allowed(url):
        raise RobotsDisallowedError(url)
    take_turn(url, max_wait)
    try:
        return fetch(url, policy(), etag=etag, last_modified=last_modified, accept=accept)
    except RateLimitedError as exc:
        hold_host(url, exc.retry_after or 60, f"it answered {exc.status} with Retry-After")
        raise
