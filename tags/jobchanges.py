"""What a retag, merge or delete job changed, recorded on the job as its chunks run. Pure.

Only listed links count: an article gained or lost a topic when readers see it appear on or
leave that topic's page. Per topic the counts are exact; the articles themselves are kept for
the first ``MAX_ARTICLES`` changes only, so a job over a whole archive keeps a small record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

MAX_ARTICLES = 200
GAINED, LOST = "gained", "lost"


def diff(
    before: set[tuple[int, int]], after: set[tuple[int, int]]
) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """(article id, topic id) pairs listed after but not before, and the other way round."""
    return after - before, before - after


def record(
    changes: Mapping | None,
    gained: Iterable[tuple[int, int]],
    lost: Iterable[tuple[int, int]],
    names: Mapping[int, str],
    limit: int = MAX_ARTICLES,
) -> dict:
    """The job's record with one chunk's changes added (a new dict; the old one is untouched).

    Shape: ``{"topics": {"<id>": {"name", "gained", "lost"}}, "articles": [[article, topic,
    "gained"|"lost"], …], "more": n}``; ``more`` counts changes past the kept articles.
    """
    changes = changes or {}
    topics = {key: dict(entry) for key, entry in (changes.get("topics") or {}).items()}
    articles = [list(row) for row in changes.get("articles") or []]
    more = int(changes.get("more") or 0)
    rows = [(a, t, GAINED) for a, t in gained] + [(a, t, LOST) for a, t in lost]
    for article_id, tag_id, kind in sorted(rows):
        entry = topics.setdefault(
            str(tag_id), {"name": names.get(tag_id, f"topic {tag_id}"), GAINED: 0, LOST: 0}
        )
        entry[kind] += 1
        if len(articles) < limit:
            articles.append([article_id, tag_id, kind])
        else:
            more += 1
    return {"topics": topics, "articles": articles, "more": more}


def totals(changes: Mapping | None) -> tuple[int, int]:
    """Articles gained and lost over all topics."""
    topics = (changes or {}).get("topics") or {}
    return (
        sum(entry.get(GAINED, 0) for entry in topics.values()),
        sum(entry.get(LOST, 0) for entry in topics.values()),
    )


def by_topic(changes: Mapping | None) -> list[dict]:
    """Per topic, most changed first: what the job page shows."""
    topics = (changes or {}).get("topics") or {}
    rows = [{"id": int(key), **entry} for key, entry in topics.items()]
    return sorted(rows, key=lambda r: (-(r[GAINED] + r[LOST]), r["name"].casefold()))
