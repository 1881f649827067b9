"""Synthetic stories for the page benchmark, written straight into a scale database.

    uv run python bench/pages.py --database newsdesk_scale --fill-stories

Story assignment fills the story tables at ingest; a database made by `bench/generate.py`
before assignment existed has none, and its topic pages would fold nothing. This groups the
articles of each topic (by their lowest topic id) into stories of consecutive articles, 1 to 3
per story depending on the topic, so about half the links fold away; leads are the earliest
members; `source_count` is set to the member count. Then every link's `represents` flag is
set by the rule `tags.folding` applies, in one UPDATE with a window function (a sample of
stories is then checked against `tags.folding.representatives`), and the story counts are
recomputed. It refuses to run when any story exists, so it never mixes with real assignment.
`clear()` takes them out again afterwards (bench/pages.py does unless `--keep-stories`), so the
database is left as story assignment expects to find it.
"""

from __future__ import annotations

import time

PLAN = """
CREATE TEMP TABLE bench_story_plan AS
SELECT article_id, published_at,
       t::bigint * 100000000 + (row_number() OVER w - 1) / (1 + t % 3) AS key
FROM (
    SELECT article_id, min(published_at) AS published_at, min(tag_id) AS t
    FROM tags_articletag GROUP BY article_id
) linked
WINDOW w AS (PARTITION BY t ORDER BY published_at, article_id)
"""

STORIES = """
CREATE TEMP TABLE bench_story_keys AS
SELECT key, nextval(pg_get_serial_sequence('stories_story', 'id')) AS story_id, lead_id,
       n, first_at, last_at
FROM (
    SELECT key,
           (array_agg(article_id ORDER BY published_at, article_id))[1] AS lead_id,
           count(*) AS n, min(published_at) AS first_at, max(published_at) AS last_at
    FROM bench_story_plan GROUP BY key
) grouped
"""

INSERT_STORIES = """
INSERT INTO stories_story (id, lead_id, article_count, source_count, first_published_at,
                           last_published_at, created_at, updated_at)
SELECT story_id, lead_id, n, n, first_at, last_at, now(), now() FROM bench_story_keys
"""

INSERT_MEMBERS = """
INSERT INTO stories_storymembership (article_id, story_id, score, published_at, source_id,
                                     joined_at)
SELECT p.article_id, k.story_id, 0.5, p.published_at, a.source_id, now()
FROM bench_story_plan p JOIN bench_story_keys k USING (key)
JOIN articles_article a ON a.id = p.article_id
"""

# The rule of tags.folding.representatives: per (story, topic), the lead's visible link, else
# the earliest visible member's; an article in no story is its own story.
REFOLD = """
UPDATE tags_articletag t SET represents = r.wanted
FROM (
    SELECT at.id, at.is_visible AND row_number() OVER (
        PARTITION BY coalesce(m.story_id, -at.article_id), at.tag_id
        ORDER BY at.is_visible DESC, coalesce(at.article_id = s.lead_id, false) DESC,
                 at.published_at, at.article_id
    ) = 1 AS wanted
    FROM tags_articletag at
    LEFT JOIN stories_storymembership m ON m.article_id = at.article_id
    LEFT JOIN stories_story s ON s.id = m.story_id
) r
WHERE t.id = r.id AND t.represents IS DISTINCT FROM r.wanted
"""

RECOUNT = """
UPDATE tags_tag t SET story_count = coalesce(c.n, 0), content_changed_at = now()
FROM tags_tag t2 LEFT JOIN (
    SELECT tag_id, count(*) AS n FROM tags_articletag
    WHERE is_visible AND represents GROUP BY tag_id
) c ON c.tag_id = t2.id
WHERE t.id = t2.id
"""


def fill(log=print) -> dict[str, float]:
    """Fill the story tables and the fold; returns seconds per step."""
    from django.db import connection, transaction

    from stories.models import Story

    if Story.objects.exists():
        raise SystemExit("stories already exist: refusing to add synthetic ones")
    timings: dict[str, float] = {}
    steps = [
        ("plan stories", PLAN),
        ("number stories", STORIES),
        ("insert stories", INSERT_STORIES),
        ("insert memberships", INSERT_MEMBERS),
        ("fold every link", REFOLD),
        ("recount story entries", RECOUNT),
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        for name, sql in steps:
            began = time.perf_counter()
            cursor.execute(sql)
            timings[name] = time.perf_counter() - began
            log(f"  {name:<28} {timings[name]:7.1f} s  ({cursor.rowcount:,} rows)")
    began = time.perf_counter()
    with connection.cursor() as cursor:
        # Index-only scans of the listing need the visibility map the UPDATE cleared.
        for table in ("tags_articletag", "stories_story", "stories_storymembership", "tags_tag"):
            cursor.execute(f"VACUUM (ANALYZE) {table}")
    timings["vacuum analyze"] = time.perf_counter() - began
    log(f"  {'vacuum analyze':<28} {timings['vacuum analyze']:7.1f} s")
    check_sample()
    return timings


CLEAR = [
    ("unfold every link", "UPDATE tags_articletag SET represents = true WHERE NOT represents"),
    ("story count = article count", "UPDATE tags_tag SET story_count = article_count"),
    ("delete memberships", "DELETE FROM stories_storymembership"),
    ("delete stories", "DELETE FROM stories_story"),
]


def clear(log=print) -> None:
    """Remove the synthetic stories: every link its own entry again, as before `fill`."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        for name, sql in CLEAR:
            began = time.perf_counter()
            cursor.execute(sql)
            log(f"  {name:<28} {time.perf_counter() - began:7.1f} s  ({cursor.rowcount:,} rows)")
    with connection.cursor() as cursor:
        for table in ("tags_articletag", "stories_story", "stories_storymembership", "tags_tag"):
            cursor.execute(f"VACUUM (ANALYZE) {table}")


def check_sample(stories: int = 200) -> None:
    """The SQL fold agrees with tags.folding on a sample of stories, and the counts are exact."""
    from stories.models import Story
    from tags import folding
    from tags.linking import recount
    from tags.models import Tag

    ids = list(
        Story.objects.filter(article_count__gt=1)
        .order_by("?")
        .values_list("pk", flat=True)[:stories]
    )
    rows = folding._rows((), ids, None)
    wanted = folding.representatives(rows)
    wrong = [row.pk for row in rows if (row.pk in wanted) != row.represents]
    if wrong:
        raise SystemExit(f"the SQL fold disagrees with tags.folding on links {wrong[:10]}")
    biggest = Tag.objects.order_by("-article_count").values_list("pk", flat=True)[:5]
    if recount(list(biggest)):
        raise SystemExit("story counts were not exact after the fill")
