"""Which publisher a feed or an article belongs to, and what that publisher is called.

A source is one site. Its key is the site's address: the host and the directory of the home page
a feed names (so https://example.org/ledger/ and https://example.org/wire/ are two publishers on
one host). Articles from a feed belong to the feed's source; an article reached some other way
belongs to its host's. Names improve as evidence arrives and never overwrite an editor's.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from articles.models import Source

# Better evidence wins: a host name is a placeholder, a feed title is often the publisher's name
# with a section added, and og:site_name is the name the publisher gives its own site.
NAME_RANK = {
    Source.NameOrigin.HOST: 0,
    Source.NameOrigin.FEED: 1,
    Source.NameOrigin.PAGE: 2,
    Source.NameOrigin.EDITOR: 3,
}


def site_address(url: str, *, whole_host: bool = False) -> tuple[str, str]:
    """(domain, site URL) for a home page, or for the whole host when `whole_host`."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    path = "/" if whole_host else parts.path[: parts.path.rfind("/") + 1] or "/"
    return host.removeprefix("www."), f"{parts.scheme.lower()}://{netloc}{path}"


def _other_scheme(site_url: str) -> str:
    scheme, rest = site_url.split("://", 1)
    return f"{'https' if scheme == 'http' else 'http'}://{rest}"


def source_for(url: str, name: str = "", *, whole_host: bool = True) -> Source:
    """The source of this site (created when new), named `name` (a feed title) or its host."""
    domain, site_url = site_address(url, whole_host=whole_host)
    found = Source.objects.filter(url__in=[site_url, _other_scheme(site_url)]).first()
    if found is None:
        found, _ = Source.objects.get_or_create(
            url=site_url,
            defaults={
                "domain": domain,
                "name": (name.strip() or domain)[:200],
                "name_origin": Source.NameOrigin.FEED if name.strip() else Source.NameOrigin.HOST,
            },
        )
    return found


def source_for_site(site_url: str, name: str = "") -> Source:
    """The source behind a feed, keyed by the home page the feed names."""
    return source_for(site_url, name, whole_host=False)


def source_for_feed(site_url: str, feed_url: str, title: str = "") -> Source:
    """The publisher behind a feed: its home page's site, else the feed's whole host."""
    if site_url:
        return source_for_site(site_url, title)
    return source_for(feed_url, title)


def adopt_name(source_id: int | None, name: str, origin: Source.NameOrigin) -> bool:
    """Rename the source when `name` is better evidence than what named it; True if renamed."""
    name = " ".join(name.split())[:200]
    if source_id is None or not name:
        return False
    weaker = [o for o, rank in NAME_RANK.items() if rank < NAME_RANK[origin]]
    source = Source.objects.filter(pk=source_id, name_origin__in=weaker).first()
    if source is None:
        return False
    source.name, source.name_origin = name, origin
    # save(), not update(): the pages showing this name are told through post_save.
    source.save(update_fields=["name", "name_origin"])
    return True
