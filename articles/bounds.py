"""Feed entries made to fit their columns before they reach the database (issue 11, item 3).

`parse_feed` already clips titles, authors, categories and GUIDs and refuses links over
`MAX_URL_CHARS`. What only shows after canonicalisation is checked here: the canonical URL
(courlan may re-encode a link and lengthen it) and the host that becomes a source's domain. An
entry that cannot fit is moved to `rejected` with its reason, never stored half or dropped
silently. Pure: no ORM.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import urlsplit

from articles.canonical import canonical_url
from articles.feeds import (
    MAX_URL_CHARS,
    FeedEntry,
    ParsedFeed,
    RejectedEntry,
    describe_rejected,
)

# Column sizes these values meet (articles.models).
URL_COLUMN = 2000
DOMAIN_COLUMN = 253


def entry_problem(entry: FeedEntry) -> str:
    """Why `entry` cannot be stored as it is, or "" when every field fits."""
    url = canonical_url(entry.link)
    if len(url) > min(URL_COLUMN, MAX_URL_CHARS):
        return f"link is {len(url)} characters long once canonical, over the {URL_COLUMN} limit"
    host = urlsplit(url).hostname or ""
    if not host:
        return "link has no host name"
    if len(host) > DOMAIN_COLUMN:
        return f"host name is {len(host)} characters long, over the {DOMAIN_COLUMN} limit"
    return ""


def within_bounds(parsed: ParsedFeed) -> ParsedFeed:
    """`parsed` with every entry that cannot be stored moved to `rejected`, with its reason."""
    kept, rejected = [], []
    for entry in parsed.entries:
        problem = entry_problem(entry)
        if problem:
            rejected.append(
                RejectedEntry(
                    guid=entry.guid, title=entry.title, link=entry.link[:200], reason=problem
                )
            )
        else:
            kept.append(entry)
    if not rejected:
        return parsed
    everything = (*parsed.rejected, *rejected)
    said = describe_rejected(parsed.rejected) if parsed.rejected else ""
    warning = parsed.warning.replace(said, "") if said else parsed.warning
    warning = "; ".join(
        part for part in (warning.strip("; "), describe_rejected(everything)) if part
    )
    return dataclasses.replace(parsed, entries=tuple(kept), rejected=everything, warning=warning)
