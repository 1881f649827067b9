"""Which host a URL belongs to, for politeness and for fair scheduling of fetch work."""

from __future__ import annotations

from urllib.parse import urlsplit


def host_of(url: str) -> str:
    """ "host" or "host:port", lower-cased: the unit that politeness and fair dispatch share.

    The port is part of it: two services on one machine (different ports) are two servers with
    their own capacity, and canonical URLs never carry a scheme's default port, so a site is
    one host however its links are spelled.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ""
    host = (parts.hostname or "").lower()
    return f"{host}:{port}" if port else host
