"""Canonical article URLs: one spelling per story, so two feeds linking it make one row."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from courlan import normalize_url

# courlan's tracker pattern already drops these; the set is a second net for names it might not
# cover in a future release, so the behaviour our tests pin does not depend on its regex.
_TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "_ga",
        "_gl",
        "ref_src",
        "ref_url",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "yclid",
        "twclid",
    }
)
_TRACKING_PREFIXES = ("utm_",)
_WEB_SCHEMES = frozenset({"http", "https"})
# Prefixes that name the same site on another front end (desktop, mobile).
_SITE_ALIASES = ("www.", "m.")
_SPACE = re.compile(r"\s+")


def canonical_url(url: str) -> str:
    """Return one stable spelling of ``url``; a URL that cannot be parsed comes back trimmed."""
    url = _SPACE.sub("", url or "")
    try:
        normalized = normalize_url(url, strict=False, trailing_slash=True)
        parts = urlsplit(normalized)
    except ValueError:
        # A malformed URL (bad port, broken IPv6 literal) is still a key; keep it unchanged.
        return url
    return urlunsplit(
        (parts.scheme, _idna_netloc(parts.netloc), parts.path, _clean_query(parts.query), "")
    )


def choose_canonical(page_url: str, declared: str | None) -> str:
    """Honour the page's ``rel=canonical`` only when it points to the same site over HTTP(S)."""
    fallback = canonical_url(page_url)
    if not declared or not declared.strip():
        return fallback
    try:
        resolved = urljoin(page_url, declared.strip())
        target, page = urlsplit(resolved), urlsplit(page_url)
        target_host, page_host = target.hostname or "", page.hostname or ""
    except ValueError:
        return fallback
    if target.scheme.lower() not in _WEB_SCHEMES or not target_host:
        return fallback
    if _site_key(target_host) != _site_key(page_host):
        return fallback
    # CMS templates often point every page's canonical at the home page: not this story's URL.
    if target.path in ("", "/") and page.path not in ("", "/"):
        return fallback
    return canonical_url(resolved)


def _site_key(host: str) -> str:
    host = _idna(host.lower().rstrip("."))
    for prefix in _SITE_ALIASES:
        if host.startswith(prefix):
            return host[len(prefix) :]
    return host


def _clean_query(query: str) -> str:
    if not query:
        return ""
    pairs = [
        (name, value)
        for name, value in parse_qsl(query, keep_blank_values=True)
        if not _is_tracking(name)
    ]
    return urlencode(sorted(pairs))


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING_PARAMS or lowered.startswith(_TRACKING_PREFIXES)


def _idna_netloc(netloc: str) -> str:
    userinfo, at, hostport = netloc.rpartition("@")
    if hostport.startswith("["):  # IPv6 literal: nothing to encode
        return netloc
    host, colon, port = hostport.partition(":")
    return f"{userinfo}{at}{_idna(host)}{colon}{port}"


def _idna(host: str) -> str:
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        # Labels IDNA 2003 rejects (too long, forbidden code points) stay as Unicode.
        return host
