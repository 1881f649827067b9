"""Read-only queries behind the public topic pages.

A topic page must cost the same few queries on its first page and its thousandth: the totals
come from the denormalised `Tag.article_count` and `Tag.story_count`, and a page is a range scan
over the partial index on ArticleTag (tag, -published_at, -article) of the links that are
visible and represent their story (`tags.folding`): one entry per story, read from indexed
columns only. The story lines under the entries ("Also: …") cost one more query for the page.

Deep pages. OFFSET reads and throws away every entry before the page, so its cost grows with
the depth (page 2,000 of a big topic skips 40,000 index entries). Two bounded paths replace it:

- The links a reader follows carry a cursor, the (published_at, article id) of the last entry
  shown (`?page=N&before=…`, or `after=` for newer): the next page is a range scan that starts
  right there, whatever the depth. The page number is only a label, so a page that new articles
  have shifted still shows a full page, with nothing skipped twice.
- A bare `?page=N` (a bookmark, a crawler, an old link) keeps working: every ANCHOR_ROWS-th
  entry's key is computed once per topic state with one index-only scan and cached, and the page
  is read from the nearest anchor, skipping fewer than ANCHOR_ROWS entries. Rebuilding the
  anchors costs one pass over the topic's index entries, only after the topic changed.

Shallow pages (offset below ANCHOR_ROWS) keep plain `?page=N` links: skipping so few entries
costs nothing, and those URLs stay clean and stable.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.core.cache import cache
from django.db.models import Count, F, Max, OuterRef, Q, QuerySet, Subquery, Value, Window
from django.db.models.functions import Coalesce, Lower, NullIf, RowNumber
from django.utils import timezone

from articles.models import Article, url_pattern
from stories.models import StoryMembership
from tags.models import ArticleTag, Tag

# Following a chain of merges stops here: a loop made by hand must not hang a request.
MAX_MERGE_HOPS = 5
# Bumped when the page markup changes, so cached copies keyed by ETag are not reused.
PAGE_VERSION = "2"
CHART_CACHE_SECONDS = 3600
# A bare ?page=N never skips more index entries than this.
ANCHOR_ROWS = 1000
ANCHOR_CACHE_SECONDS = 3600
_CURSOR_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
# Sources named on an entry's story line before "+N more".
ALSO_SOURCES = 2


@dataclass(frozen=True)
class Cursor:
    """A position in a topic's listing: the key of one link, (published_at, article id)."""

    published_at: datetime
    article_id: int

    def token(self) -> str:
        moment = self.published_at.astimezone(UTC).strftime(_CURSOR_FORMAT)
        return f"{moment}_{self.article_id}"

    @classmethod
    def parse(cls, raw: str) -> Cursor | None:
        """The cursor in a `before`/`after` parameter, or None when it is not one."""
        moment, _, pk = raw.partition("_")
        if not pk.isdigit() or len(pk) > 18:
            return None
        try:
            when = datetime.strptime(moment, _CURSOR_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            return None
        return cls(when, int(pk))


@dataclass(frozen=True)
class TagRef:
    pk: int
    name: str
    slug: str

    def get_absolute_url(self) -> str:
        return url_pattern("tag").format(self.slug)


@dataclass(frozen=True)
class Bar:
    """One week of the per-topic chart, already placed on the SVG canvas."""

    week: date
    count: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Chart:
    bars: tuple[Bar, ...]
    width: int
    height: int
    peak: int
    total: int


def visible_links(tag: Tag) -> QuerySet[ArticleTag]:
    """A topic's entries (one per story) in page order; the filter matches the partial index."""
    return ArticleTag.objects.filter(tag=tag, is_visible=True, represents=True).order_by(
        "-published_at", "-article_id"
    )


def public_tag(slug: str) -> Tag | None:
    """The tag with this slug, annotated with its newest link's date (one query)."""
    newest = (
        ArticleTag.objects.filter(tag=OuterRef("pk"), is_visible=True)
        .order_by("-published_at", "-article_id")
        .values("published_at")[:1]
    )
    return (
        Tag.objects.filter(slug=slug)
        .annotate(newest_published_at=Subquery(newest))
        .select_related("merged_into")
        .first()
    )


def merge_target(tag: Tag) -> Tag | None:
    """Where a merged tag's page now lives: the end of its merge chain, if that is public."""
    seen = {tag.pk}
    target = tag.merged_into
    hops = 1
    while target is not None and target.merged_into_id is not None and hops < MAX_MERGE_HOPS:
        if target.merged_into_id in seen:
            return None
        seen.add(target.pk)
        target = Tag.objects.filter(pk=target.merged_into_id).first()
        hops += 1
    if target is None or not target.is_active or target.merged_into_id is not None:
        return None
    return target


def page_count(total: int, size: int) -> int:
    return max(1, math.ceil(total / size))


def _keys(links: QuerySet[ArticleTag]) -> list[Cursor]:
    return [Cursor(when, pk) for when, pk in links.values_list("published_at", "article_id")]


def _at_or_before(cursor: Cursor, inclusive: bool) -> Q:
    # The plain bound on published_at is what the index range starts from; the OR only
    # settles ties within that one timestamp.
    same = {"article_id__lte" if inclusive else "article_id__lt": cursor.article_id}
    return Q(published_at__lte=cursor.published_at) & (
        Q(published_at__lt=cursor.published_at) | Q(published_at=cursor.published_at, **same)
    )


def keys_before(tag: Tag, cursor: Cursor, limit: int) -> list[Cursor]:
    """Up to `limit` links just older than `cursor`, newest first: one index range scan."""
    return _keys(visible_links(tag).filter(_at_or_before(cursor, inclusive=False))[:limit])


def keys_after(tag: Tag, cursor: Cursor, limit: int) -> list[Cursor]:
    """Up to `limit` links just newer than `cursor`, newest first (read upwards, reversed)."""
    newer = (
        ArticleTag.objects.filter(
            tag=tag, is_visible=True, represents=True, published_at__gte=cursor.published_at
        )
        .filter(
            Q(published_at__gt=cursor.published_at)
            | Q(published_at=cursor.published_at, article_id__gt=cursor.article_id)
        )
        .order_by("published_at", "article_id")
    )
    return _keys(newer[:limit])[::-1]


def _compute_anchors(tag: Tag) -> list[Cursor]:
    positions = list(range(1, max(1, tag.story_count) + 1, ANCHOR_ROWS))
    ranked = (
        visible_links(tag)
        .annotate(
            position=Window(
                RowNumber(), order_by=[F("published_at").desc(), F("article_id").desc()]
            )
        )
        .filter(position__in=positions)
        .order_by("position")
    )
    return _keys(ranked)


def anchors(tag: Tag) -> list[Cursor]:
    """The key of every ANCHOR_ROWS-th link, cached until the topic's count or newest changes."""
    newest = getattr(tag, "newest_published_at", None)
    key = f"tags:anchors:{tag.pk}:{ANCHOR_ROWS}:{tag.story_count}:{newest and newest.isoformat()}"
    return cache.get_or_set(key, lambda: _compute_anchors(tag), ANCHOR_CACHE_SECONDS)


def page_keys(tag: Tag, page: int, size: int) -> list[Cursor]:
    """The links of numbered page `page`, skipping fewer than ANCHOR_ROWS index entries."""
    offset = (page - 1) * size
    if offset < ANCHOR_ROWS:
        return _keys(visible_links(tag)[offset : offset + size])
    found = anchors(tag)
    if not found:
        return []
    block = min(offset // ANCHOR_ROWS, len(found) - 1)
    skip = offset - block * ANCHOR_ROWS
    links = visible_links(tag).filter(_at_or_before(found[block], inclusive=True))
    return _keys(links[skip : skip + size])


def articles_for(keys: Sequence[Cursor]) -> list[Article]:
    """The visible articles of these links, in the links' order, in one query."""
    ids = [key.article_id for key in keys]
    if not ids:
        return []
    by_id = (
        Article.objects.visible()
        .select_related("source", "story_membership")
        .defer("text", "categories", "keywords")
        .in_bulk(ids)
    )
    return [by_id[pk] for pk in ids if pk in by_id]


def page_articles(tag: Tag, page: int, size: int) -> list[Article]:
    """One numbered page of a topic, newest first: keys from the index, then the articles."""
    return articles_for(page_keys(tag, page, size))


@dataclass(frozen=True)
class StoryLine:
    """What an entry says about the rest of its story: "Also: A · B · +3 more"."""

    story_id: int
    sources: tuple[str, ...]
    more_sources: int
    others: int

    def get_absolute_url(self) -> str:
        return url_pattern("story").format(self.story_id)

    @property
    def text(self) -> str:
        if not self.sources:
            return f"Also: {self.others} more article{'s' if self.others != 1 else ''}"
        more = [f"+{self.more_sources} more"] if self.more_sources else []
        return "Also: " + " · ".join([*self.sources, *more])


def story_of(article: Article) -> int | None:
    """The story an article read by `articles_for` belongs to, without another query."""
    try:
        return article.story_membership.story_id
    except StoryMembership.DoesNotExist:
        return None


def story_lines(articles: Sequence[Article]) -> dict[int, StoryLine]:
    """For each listed article whose story has other visible members, its story line: the
    other sources, newest coverage first. One query for the whole page (members grouped by
    story and source name), none when no listed article is in a story."""
    stories = {a.pk: story_of(a) for a in articles}
    ids = {story for story in stories.values() if story is not None}
    if not ids:
        return {}
    name = Coalesce(NullIf("article__source__name", Value("")), "article__site_name")
    rows = (
        StoryMembership.objects.of_visible_articles()
        .filter(story_id__in=ids)
        .annotate(name=name)
        .values("story_id", "name")
        .annotate(n=Count("pk"), newest=Max("published_at"))
        .order_by("story_id", "-newest", "name")
    )
    by_story: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for row in rows:
        by_story[row["story_id"]].append((row["name"] or "", row["n"]))
    lines: dict[int, StoryLine] = {}
    for article in articles:
        story = stories[article.pk]
        if story is None:
            continue
        members = by_story.get(story, [])
        others = sum(n for _, n in members) - 1
        if others < 1:
            continue
        own = article.source.name if article.source else article.site_name
        names = [name for name, _ in members if name and name != own]
        lines[article.pk] = StoryLine(
            story_id=story,
            sources=tuple(names[:ALSO_SOURCES]),
            more_sources=max(0, len(names) - ALSO_SOURCES),
            others=others,
        )
    return lines


def tags_by_article(
    article_ids: Iterable[int], exclude: Tag | None = None
) -> dict[int, list[TagRef]]:
    """Every public topic of each article, by name, in one query."""
    links = (
        ArticleTag.objects.filter(
            article_id__in=list(article_ids),
            is_visible=True,
            tag__is_active=True,
            tag__merged_into__isnull=True,
        )
        .order_by("tag__name")
        .values_list("article_id", "tag_id", "tag__name", "tag__slug")
    )
    if exclude is not None:
        links = links.exclude(tag=exclude)
    found: dict[int, list[TagRef]] = defaultdict(list)
    for article_id, tag_id, name, slug in links:
        found[article_id].append(TagRef(pk=tag_id, name=name, slug=slug))
    return found


def week_start(moment: datetime) -> date:
    local = timezone.localtime(moment).date()
    return local - timedelta(days=local.weekday())


def weekly_counts(tag: Tag, weeks: int = 12, now: datetime | None = None) -> list[tuple[date, int]]:
    """Articles per week (weeks start on Monday) for the last `weeks` weeks, oldest first.

    One conditional count per week over a single index range: no per-row date function, so
    PostgreSQL can answer from the listing index alone.
    """
    first = week_start(now or timezone.now()) - timedelta(weeks=weeks - 1)
    starts = [first + timedelta(weeks=i) for i in range(weeks + 1)]
    bounds = [timezone.make_aware(datetime.combine(d, datetime.min.time())) for d in starts]
    counts = ArticleTag.objects.filter(
        tag=tag, is_visible=True, published_at__gte=bounds[0]
    ).aggregate(
        **{
            f"w{i}": Count("pk", filter=Q(published_at__gte=lo, published_at__lt=hi))
            for i, (lo, hi) in enumerate(itertools.pairwise(bounds))
        }
    )
    return [(starts[i], counts[f"w{i}"] or 0) for i in range(weeks)]


def chart(counts: Sequence[tuple[date, int]], width: int = 360, height: int = 80) -> Chart:
    """Lay the weekly counts out as bars; an empty history still draws a baseline."""
    peak = max((n for _, n in counts), default=0)
    slot = width / max(1, len(counts))
    gap = max(1.0, slot * 0.2)
    bars = []
    for i, (week, n) in enumerate(counts):
        # A week with articles stays visible even next to a much busier one.
        bar_height = 0.0 if not peak or not n else max(2.0, (height - 2) * n / peak)
        bars.append(
            Bar(
                week=week,
                count=n,
                x=round(i * slot + gap / 2, 2),
                y=round(height - bar_height, 2),
                width=round(slot - gap, 2),
                height=round(bar_height, 2),
            )
        )
    return Chart(
        bars=tuple(bars), width=width, height=height, peak=peak, total=sum(n for _, n in counts)
    )


def cached_chart(tag: Tag, version: str) -> Chart:
    """The weekly chart, cached per tag state: a busy topic counts many rows to draw it."""
    key = f"tags:chart:{tag.pk}:{version}:{week_start(timezone.now()).isoformat()}"
    return cache.get_or_set(key, lambda: chart(weekly_counts(tag)), CHART_CACHE_SECONDS)


def tag_validators(tag: Tag, *parts: object) -> tuple[str, datetime]:
    """ETag and Last-Modified for a topic page or feed, from what the tag row already holds.

    `content_changed_at` moves with every write that changes what the page shows (an edited
    summary or title, a hidden article, a renamed source or topic: see tags.freshness), so both
    validators change with the body, for If-None-Match and If-Modified-Since alike.
    """
    newest = getattr(tag, "newest_published_at", None)
    stamps = [newest, tag.rules_changed_at, tag.created_at, tag.content_changed_at]
    changed = max(filter(None, stamps))
    fingerprint = "|".join(
        str(p)
        for p in (
            PAGE_VERSION,
            tag.pk,
            tag.slug,
            tag.name,
            tag.description,
            tag.article_count,
            tag.story_count,
            newest and newest.isoformat(),
            tag.rules_changed_at.isoformat(),
            tag.content_changed_at.isoformat(),
            *parts,
        )
    )
    return hashlib.sha256(fingerprint.encode()).hexdigest()[:32], changed


def active_index(sort: str) -> QuerySet[Tag]:
    # Case-insensitive, so "batteries" sorts beside "Australia" rather than after "Taiwan".
    order = [Lower("name")] if sort == "name" else ["-article_count", Lower("name")]
    # A topic with no articles yet has nothing to show a reader; its page still answers.
    return (
        Tag.objects.active()
        .filter(article_count__gt=0)
        .order_by(*order)
        .only("name", "slug", "description", "article_count")
    )


def trending(
    days: int = 7, limit: int = 12, now: datetime | None = None
) -> list[dict[str, object]]:
    """Topics with the most articles published in the last `days` days."""
    since = (now or timezone.now()) - timedelta(days=days)
    return list(
        ArticleTag.objects.filter(
            is_visible=True,
            published_at__gte=since,
            tag__is_active=True,
            tag__merged_into__isnull=True,
        )
        .values("tag__name", "tag__slug")
        .annotate(n=Count("pk"))
        .order_by("-n", "tag__name")[:limit]
    )
