"""robots.txt rules (RFC 9309) over plain bytes; caching across workers is the caller's job.

How a robots.txt fetch ends decides the rules:
- 2xx: its body is parsed (only the first 500 KiB, the minimum RFC 9309 asks crawlers to read).
- 4xx, or a refusal that will not change (blocked address, too many redirects, too large):
  no rules, everything is allowed.
- 5xx, 429, timeouts and connection errors: the file is "unreachable" and RFC 9309 §2.3.1.4 says
  to assume complete disallow. Callers should cache that state briefly and try again.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from protego import Protego

from articles.http import FetchError, Response

ROBOTS_MAX_BYTES = 500 * 1024


@dataclass(frozen=True)
class RobotsRules:
    """What one robots.txt fetch decided; plain data, so it caches well."""

    body: bytes | None = None  # None: no robots.txt, everything allowed
    unreachable: bool = False  # server or network error: everything disallowed for now

    def allows(self, url: str, user_agent: str) -> bool:
        if self.unreachable:
            return False
        return is_allowed(self.body, url, user_agent)

    def crawl_delay(self, user_agent: str) -> float | None:
        return None if self.unreachable else crawl_delay(self.body, user_agent)


def robots_url(url: str) -> str:
    """The robots.txt URL governing `url`: same scheme, host and port, no user info."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http or https URL")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = parts.port
    if port is not None and port != (443 if scheme == "https" else 80):
        host = f"{host}:{port}"
    return f"{scheme}://{host}/robots.txt"


def parse_robots(body: bytes) -> Protego:
    """Parsed rules from a robots.txt body; a body nothing can be read from allows everything."""
    return _parse_cached(bytes(body[:ROBOTS_MAX_BYTES]))


@lru_cache(maxsize=256)
def _parse_cached(body: bytes) -> Protego:
    text = body.decode("utf-8", errors="replace").lstrip("\ufeff")
    try:
        return Protego.parse(text)
    except Exception:  # noqa: BLE001 - hostile input; the parser may raise anything
        return Protego.parse("")


def is_allowed(robots_body: bytes | None, url: str, user_agent: str) -> bool:
    """May `user_agent` fetch `url`? No robots.txt (None) allows everything."""
    if robots_body is None or urlsplit(url).path == "/robots.txt":
        return True
    return parse_robots(robots_body).can_fetch(url, user_agent)


def crawl_delay(robots_body: bytes | None, user_agent: str) -> float | None:
    """Seconds between requests asked of `user_agent` (Crawl-delay, else Request-rate)."""
    if robots_body is None:
        return None
    rules = parse_robots(robots_body)
    delay = rules.crawl_delay(user_agent)
    if delay is None:
        rate = rules.request_rate(user_agent)
        if rate is not None and rate.requests > 0:
            delay = rate.seconds / rate.requests
    if delay is None or not math.isfinite(delay) or delay < 0:
        return None
    return float(delay)


def load_robots(url: str, fetcher: Callable[[str], Response]) -> RobotsRules:
    """Fetch the robots.txt governing `url` with `fetcher` (e.g. a partial of `fetch`)."""
    try:
        response = fetcher(robots_url(url))
    except FetchError as exc:
        return RobotsRules(unreachable=exc.retryable)
    return RobotsRules(body=response.body)
