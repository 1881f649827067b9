"""Fold a topic's listing by story: one entry per story on each topic page.

Each link says whether it `represents` its story on its topic's page. Per story and topic the
representative is the story's lead, if the lead carries the topic visibly, else the earliest
visible member that does; an article in no story represents itself. A topic page lists the
links that are visible and represent (one partial index, `articletag_story_listing_idx`), and
`Tag.story_count` counts them, exact like `article_count`.

What a change costs: the fold settles (story, topic) pairs. Each link carries its article's story
(`ArticleTag.story`, copied from the membership here), and one index
(`articletag_story_topic_idx`: story, represents, topic, date) finds a pair's current entry and
its earliest visible other member in a few rows whatever the story's size. A change settles only
the pairs it can move: the topics of the articles that moved, in the story each left and the one
it joined, and the topics of the old and new lead when the lead changed. A join into a story of
2,000 members reads what a join into a story of two reads.

Who calls this: `tags.linking` after any change to an article's links or visibility (inside its
transaction, with the topics' count rows already locked), and `tags.signals` when story
assignment announces `stories.signals.story_changed` (which names the articles that moved and
the leads that changed). Deciding is a pure function (`representatives`) over the rows read;
applying it costs one update per direction plus one for the counts, when something changed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from stories.models import Story, StoryMembership
from tags.models import ArticleTag, Tag


@dataclass(frozen=True)
class Row:
    """One link, as the fold sees it."""

    pk: int
    tag_id: int
    article_id: int
    is_visible: bool
    represents: bool
    published_at: datetime
    story_id: int | None
    lead_id: int | None


def representatives(rows: Iterable[Row]) -> set[int]:
    """The links (by pk) that should represent their story on their topic's page.

    Per (story, topic): the lead's visible link, else the earliest visible member's (ties by
    article id, like the listing). An article in no story is a story of its own.
    """
    groups: dict[tuple[object, int], list[Row]] = defaultdict(list)
    for row in rows:
        story = row.story_id if row.story_id is not None else ("article", row.article_id)
        groups[(story, row.tag_id)].append(row)
    chosen: set[int] = set()
    for members in groups.values():
        visible = [row for row in members if row.is_visible]
        if not visible:
            continue
        lead = [row for row in visible if row.lead_id is not None and row.article_id == row.lead_id]
        best = lead[0] if lead else min(visible, key=lambda row: (row.published_at, row.article_id))
        chosen.add(best.pk)
    return chosen


# Statements per query when settling many pairs at once (a retag chunk): SQLite caps compound
# SELECTs at 500 terms.
PARTS_PER_QUERY = 150
COLUMNS = "id, tag_id, article_id, is_visible, represents, published_at, story_id"


def _pair_rows(
    pairs: Collection[tuple[int, int]],
    leads: dict[int, int | None],
    article_ids: Collection[int],
    tag_ids: Collection[int] | None,
) -> list[tuple]:
    """What settling these (story, topic) pairs needs, in a few index probes per pair: the
    links that represent the pair now, its earliest visible link among the others, and the
    lead's link; and the named articles' own links (which settle an article in no story). Each
    as a tuple of ``COLUMNS``.

    The pair's true entry is among these: the lead's link, or the earliest visible link, which
    is the earlier of the earliest non-representing one and the representing ones. And every
    link that represents the pair now is here to be switched off."""
    if connection.vendor == "postgresql":
        return _pair_rows_joined(pairs, leads, article_ids, tag_ids)
    table = ArticleTag._meta.db_table
    topics: dict[int, list[int]] = defaultdict(list)
    for story_id, tag_id in sorted(pairs):
        topics[story_id].append(tag_id)
    parts: list[tuple[str, list]] = []
    for story_id, tags in topics.items():
        marks = ", ".join(["%s"] * len(tags))
        parts.append(
            (
                f"SELECT {COLUMNS} FROM {table} "  # noqa: S608
                f"WHERE story_id = %s AND represents AND tag_id IN ({marks})",
                [story_id, *tags],
            )
        )
        for tag_id in tags:
            parts.append(
                (
                    f"SELECT * FROM (SELECT {COLUMNS} FROM {table} "  # noqa: S608
                    "WHERE story_id = %s AND NOT represents AND tag_id = %s AND is_visible "
                    f"ORDER BY published_at, article_id LIMIT 1) AS e{len(parts)}",
                    [story_id, tag_id],
                )
            )
        if leads.get(story_id):
            parts.append(
                (
                    f"SELECT {COLUMNS} FROM {table} "  # noqa: S608
                    f"WHERE article_id = %s AND tag_id IN ({marks})",
                    [leads[story_id], *tags],
                )
            )
    ids = sorted(article_ids)
    if ids and (tag_ids is None or tag_ids):
        own = f"SELECT {COLUMNS} FROM {table} WHERE article_id IN ({', '.join(['%s'] * len(ids))})"  # noqa: S608
        if tag_ids is not None:
            own += f" AND tag_id IN ({', '.join(['%s'] * len(tag_ids))})"
        parts.append((own, [*ids, *(sorted(tag_ids) if tag_ids is not None else [])]))
    found: dict[int, tuple] = {}
    for start in range(0, len(parts), PARTS_PER_QUERY):
        chunk = parts[start : start + PARTS_PER_QUERY]
        sql = " UNION ALL ".join(part for part, _ in chunk)
        params = [p for _, values in chunk for p in values]
        for link in ArticleTag.objects.raw(sql, params):
            found[link.pk] = (
                link.pk,
                link.tag_id,
                link.article_id,
                link.is_visible,
                link.represents,
                link.published_at,
                link.story_id,
            )
    return list(found.values())


def _pair_rows_joined(
    pairs: Collection[tuple[int, int]],
    leads: dict[int, int | None],
    article_ids: Collection[int],
    tag_ids: Collection[int] | None,
) -> list[tuple]:
    """``_pair_rows`` on PostgreSQL: the same links in one statement whose size does not grow
    with the pairs (they travel as arrays, each probe a lateral join), where the ``UNION ALL``
    of a statement per pair cost 0.3 s for the 1,259 pairs a batch of 500 placed articles
    settles (0.06 s this way)."""
    table = ArticleTag._meta.db_table
    ordered = sorted(pairs)
    led = [(story_id, tag_id) for story_id, tag_id in ordered if leads.get(story_id)]
    columns = ", ".join(f"l.{c}" for c in COLUMNS.split(", "))
    parts = [
        # The links that represent each pair now.
        f"SELECT {columns} FROM p JOIN {table} l "  # noqa: S608
        "ON l.story_id = p.story_id AND l.tag_id = p.tag_id AND l.represents",
        # Each pair's earliest visible link among the others.
        f"SELECT e.* FROM p CROSS JOIN LATERAL (SELECT {COLUMNS} FROM {table} l "  # noqa: S608
        "WHERE l.story_id = p.story_id AND NOT l.represents AND l.tag_id = p.tag_id "
        "AND l.is_visible ORDER BY l.published_at, l.article_id LIMIT 1) e",
        # The lead's link on each pair's topic.
        f"SELECT {columns} FROM unnest(%s::bigint[], %s::bigint[]) AS q(article_id, tag_id) "  # noqa: S608
        f"JOIN {table} l ON l.article_id = q.article_id AND l.tag_id = q.tag_id",
    ]
    params: list = [
        [story_id for story_id, _ in ordered],
        [tag_id for _, tag_id in ordered],
        [leads[story_id] for story_id, _ in led],
        [tag_id for _, tag_id in led],
    ]
    ids = sorted(article_ids)
    if ids and (tag_ids is None or tag_ids):
        own = f"SELECT {COLUMNS} FROM {table} WHERE article_id = ANY(%s::bigint[])"  # noqa: S608
        params.append(ids)
        if tag_ids is not None:
            own += " AND tag_id = ANY(%s::bigint[])"
            params.append(sorted(tag_ids))
        parts.append(own)
    sql = (
        "WITH p AS (SELECT * FROM unnest(%s::bigint[], %s::bigint[]) AS p(story_id, tag_id)) "  # noqa: S608
        + " UNION ALL ".join(parts)
    )
    # Plain rows, not model instances: a batch's few thousand links were a tenth of the fold.
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = {row[0]: row for row in cursor.fetchall()}
    return list(found.values())


def _settle(
    article_ids: Collection[int],
    tag_ids: Collection[int] | None = None,
    pairs: Iterable[tuple[int, int]] = (),
    links: list[tuple[int, int, int, int | None]] | None = None,
) -> set[int]:
    """Settle every (story, topic) pair these articles' links can have moved: each link's topic
    in the story the link was folded under (which the article may have left) and in the
    article's story now. With ``tag_ids``, only those topics (the links may be gone). Copies
    each article's story onto its links. ``pairs``: more (story, topic) pairs to settle;
    ``links``: the articles' links as `_links_of` reads them, when the caller has them.
    Returns the topics whose pages changed."""
    ids = sorted(set(article_ids))
    pairs = set(pairs)
    if not ids and not pairs:
        return set()
    story_of: dict[int, int] = {}
    leads: dict[int, int | None] = {}
    for article_id, story_id, lead_id in StoryMembership.objects.filter(
        article_id__in=ids
    ).values_list("article_id", "story_id", "story__lead_id"):
        story_of[article_id] = story_id
        leads[story_id] = lead_id
    if links is None:
        links = _links_of(ids, tag_ids)
    wrong: dict[int | None, list[int]] = defaultdict(list)
    for pk, tag_id, article_id, folded_under in links:
        now = story_of.get(article_id)
        if folded_under is not None:
            pairs.add((folded_under, tag_id))
        if now is not None:
            pairs.add((now, tag_id))
        if folded_under != now:
            wrong[now].append(pk)
    if tag_ids is not None:  # a link removed just now leaves its pair to settle
        pairs.update((story_of[a], t) for a in ids if a in story_of for t in tag_ids)
    _set_stories(wrong)
    # The stories left behind (a move between stories, a merge) need their leads too.
    others = {s for s, _ in pairs} - leads.keys()
    if others:
        leads.update(Story.objects.filter(pk__in=others).values_list("pk", "lead_id"))
    rows = [
        Row(*link, leads.get(link[-1]))
        # The articles' own links only on the topics read above: a link tagging made since
        # is folded by tagging (its pair is not among ours).
        for link in _pair_rows(pairs, leads, ids, {tag_id for _, tag_id, _, _ in links})
    ]
    # Decide only the groups read in full: the pairs, and the named articles alone (a lead's
    # link that does not carry its story yet would make a group of its own, half read).
    mine = set(ids)
    rows = [
        row
        for row in rows
        if (row.story_id, row.tag_id) in pairs or (row.story_id is None and row.article_id in mine)
    ]
    return _apply(rows)


def _set_stories(wrong: dict[int | None, list[int]]) -> None:
    """Give these links (by pk, under the story they should carry) their story. On PostgreSQL
    one statement: a batch of placed articles starts or joins hundreds of stories, and an
    ``UPDATE`` a story was most of the fold's statements."""
    if not wrong:
        return
    if connection.vendor != "postgresql":
        for story_id, pks in wrong.items():
            ArticleTag.objects.filter(pk__in=pks).update(story_id=story_id)
        return
    pks = [pk for story_pks in wrong.values() for pk in story_pks]
    stories = [story_id for story_id, story_pks in wrong.items() for _ in story_pks]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {ArticleTag._meta.db_table} l SET story_id = u.story_id "  # noqa: S608
            "FROM unnest(%s::bigint[], %s::bigint[]) AS u(id, story_id) WHERE l.id = u.id",
            [pks, stories],
        )


def _links_of(
    article_ids: Collection[int], tag_ids: Collection[int] | None = None
) -> list[tuple[int, int, int, int | None]]:
    """The articles' links as (pk, topic, article, story folded under)."""
    links = ArticleTag.objects.filter(article_id__in=sorted(article_ids))
    if tag_ids is not None:
        links = links.filter(tag_id__in=list(tag_ids))
    return list(links.values_list("pk", "tag_id", "article_id", "story_id"))


def _apply(rows: list[Row]) -> set[int]:
    """Flip the links whose flag is wrong, move the counts, and return the topics whose pages
    changed."""
    chosen = representatives(rows)
    gain = [row for row in rows if row.pk in chosen and not row.represents]
    lose = [row for row in rows if row.pk not in chosen and row.represents]
    if gain:
        ArticleTag.objects.filter(pk__in=[row.pk for row in gain]).update(represents=True)
    if lose:
        ArticleTag.objects.filter(pk__in=[row.pk for row in lose]).update(represents=False)
    delta: dict[int, int] = defaultdict(int)
    changed: set[int] = set()
    for row, step in [(row, 1) for row in gain] + [(row, -1) for row in lose]:
        # Only a visible link is an entry; an invisible one was already uncounted.
        if row.is_visible:
            delta[row.tag_id] += step
            changed.add(row.tag_id)
    if changed and connection.vendor == "postgresql":
        # One array each, not a WHEN a topic: a batch of placed articles moves hundreds.
        ids = sorted(changed)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Tag._meta.db_table} t SET story_count = t.story_count + u.n, "  # noqa: S608
                "content_changed_at = %s "
                "FROM unnest(%s::bigint[], %s::integer[]) AS u(id, n) WHERE t.id = u.id",
                [timezone.now(), ids, [delta[tag_id] for tag_id in ids]],
            )
    elif changed:
        count = Case(
            *(When(pk=tag_id, then=Value(n)) for tag_id, n in delta.items() if n),
            default=Value(0),
        )
        Tag.objects.filter(pk__in=changed).update(
            story_count=F("story_count") + count, content_changed_at=timezone.now()
        )
    return changed


def refold_articles(article_ids: Collection[int], tag_ids: Collection[int]) -> set[int]:
    """After these articles' links to these topics changed: settle their stories' entries.

    The caller holds the row locks of `tag_ids` (`tags.linking.lock_tags`), so two workers
    folding one story for one topic queue on the topic's row.
    """
    if not article_ids or not tag_ids:
        return set()
    return _settle(article_ids, tag_ids)


@transaction.atomic
def refold_moved(
    story_ids: Collection[int], moved: Collection[int], leads: Collection[int] = ()
) -> set[int]:
    """After story assignment or an editor changed these stories: ``moved`` articles joined or
    left them, and ``leads`` became or stopped being their leads. Settles the pairs those
    articles' topics make, and moves the validators of every page that shows one of the
    stories, since its entry's "Also" line lists the story's other sources."""
    from tags.linking import lock_tags

    articles = {*moved, *leads}
    # Read before the topics are locked (to know which to lock), like the linking verbs: a
    # link made meanwhile by tagging is folded by tagging, under the same lock.
    links = _links_of(articles)
    lock_tags({tag_id for _, tag_id, _, _ in links})
    changed = _settle(articles, links=links) if links else set()
    # Where the stories are shown now: their entries, one per topic (the story index's
    # represents range), however many members they have.
    shown = set(
        ArticleTag.objects.filter(
            story_id__in=sorted(story_ids), represents=True, is_visible=True
        ).values_list("tag_id", flat=True)
    )
    stale = shown - changed
    if stale:
        Tag.objects.filter(pk__in=stale).update(content_changed_at=timezone.now())
    return changed | stale


@transaction.atomic
def refold_pairs(pairs: Collection[tuple[int, int]]) -> set[int]:
    """Settle these (story, topic) pairs: after a link that represented its story went."""
    from tags.linking import lock_tags

    lock_tags({tag_id for _, tag_id in pairs})
    return _settle((), pairs=pairs)


def refold_stories(story_ids: Collection[int]) -> set[int]:
    """Settle these stories from scratch, every member taken as moved: for a sender that does
    not say what moved (a restory chunk, a deleted membership). Costs the stories' size."""
    if not story_ids:
        return set()
    ids = sorted(story_ids)
    members = set(
        StoryMembership.objects.filter(story_id__in=ids).values_list("article_id", flat=True)
    )
    # And the articles that left: their links still say they were folded under these stories.
    members.update(ArticleTag.objects.filter(story_id__in=ids).values_list("article_id", flat=True))
    return refold_moved(ids, members)
