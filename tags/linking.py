"""Verbs that change which articles carry which tags, keeping every tag's count exact.

The count on a tag is the number of its links to visible articles. The rules for keeping it:
- a link is created visible or not, and only `_create_links` creates links: it adds to counts;
- deleting a link (here, or by cascade from an article or tag) subtracts in `tags.signals`;
- an article that becomes hidden or visible flips its links in `sync_visibility`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, F, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from articles.models import Article
from tags.matching import Matcher, Rule, TagMatch
from tags.models import Alias, ArticleTag, Exclusion, Tag, TagDecision

log = logging.getLogger(__name__)

RULES_VERSION_KEY = "tags:rules-version"


@dataclass(frozen=True)
class Link:
    origin: str
    score: float = 0.0
    terms: dict[str, int] = field(default_factory=dict)


# --- The matcher, built from the rules in the database ------------------------------------------


def load_rules() -> list[Rule]:
    tags = Tag.objects.active().only("id", "name", "title_and_summary_only", "min_score")
    aliases: dict[int, list[str]] = {}
    exact: dict[int, list[str]] = {}
    for tag_id, phrase, case_sensitive in Alias.objects.values_list(
        "tag_id", "phrase", "case_sensitive"
    ):
        (exact if case_sensitive else aliases).setdefault(tag_id, []).append(phrase)
    exclusions: dict[int, list[str]] = {}
    for tag_id, phrase in Exclusion.objects.values_list("tag_id", "phrase"):
        exclusions.setdefault(tag_id, []).append(phrase)
    return [
        Rule(
            tag_id=tag.pk,
            name=tag.name,
            aliases=tuple(aliases.get(tag.pk, ())),
            exclusions=tuple(exclusions.get(tag.pk, ())),
            case_sensitive_aliases=tuple(exact.get(tag.pk, ())),
            title_and_summary_only=tag.title_and_summary_only,
            min_score=tag.min_score,
        )
        for tag in tags
    ]


def rules_changed() -> None:
    """Tell every process (through the shared cache) to rebuild its matcher."""
    cache.set(RULES_VERSION_KEY, uuid.uuid4().hex, timeout=None)


_rules_cache: dict[str, object] = {"version": None, "matcher": None, "parents": None}


def _current_rules() -> dict[str, object]:
    # A random token rather than a counter: a flushed cache gets a new token, never an old one
    # that some process's stale matcher would mistake for current.
    version = cache.get(RULES_VERSION_KEY)
    if version is None:
        cache.add(RULES_VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(RULES_VERSION_KEY)
    if _rules_cache["matcher"] is None or _rules_cache["version"] != version:
        _rules_cache.update(
            matcher=Matcher(load_rules()), parents=active_parents(), version=version
        )
    return _rules_cache


def current_matcher() -> Matcher:
    return _current_rules()["matcher"]  # type: ignore[return-value]


def current_parents() -> dict[int, int | None]:
    """Each active topic's parent, rebuilt with the matcher when any rule changes."""
    return _current_rules()["parents"]  # type: ignore[return-value]


# --- Deciding an article's tags ------------------------------------------------------------------


def article_labels(article: Article) -> tuple[list[str], set[int]]:
    """The article's own labels (feed and page categories, keywords, hashtags) and the default
    topics of the feeds that carried it, in one query."""
    words = list(article.categories or []) + list(article.keywords or [])
    feed_tags: set[int] = set()
    seen: set[int] = set()
    for entry_id, categories, tag_id in article.feed_entries.values_list(
        "pk", "categories", "feed__default_tags"
    ):
        if entry_id not in seen:
            seen.add(entry_id)
            words.extend(categories or [])
        if tag_id is not None:
            feed_tags.add(tag_id)
    return words, feed_tags


def desired_links(
    article: Article,
    matches: Iterable[TagMatch],
    feed_tags: Iterable[int],
    parents: dict[int, int | None],
) -> dict[int, Link]:
    """Rule matches, feed defaults and editor decisions, plus every ancestor of what remains."""
    links: dict[int, Link] = {}
    for match in matches:
        origin = ArticleTag.Origin.CATEGORY if match.keywords_only else ArticleTag.Origin.RULE
        links[match.tag_id] = Link(origin, match.score, dict(match.terms))
    for tag_id in feed_tags:
        links.setdefault(tag_id, Link(ArticleTag.Origin.FEED))
    decisions = dict(article.tag_decisions.values_list("tag_id", "decision"))
    for tag_id, decision in decisions.items():
        if decision == TagDecision.Decision.ADD:
            links[tag_id] = Link(ArticleTag.Origin.EDITOR)
        else:
            links.pop(tag_id, None)
    for tag_id in list(links):
        parent, seen = parents.get(tag_id), {tag_id}
        while parent is not None and parent not in seen:
            seen.add(parent)
            if decisions.get(parent) != TagDecision.Decision.REMOVE:
                links.setdefault(parent, Link(ArticleTag.Origin.PARENT))
            parent = parents.get(parent)
    return links


def active_parents() -> dict[int, int | None]:
    return dict(Tag.objects.active().values_list("pk", "parent_id"))


@transaction.atomic
def tag_article(
    article: Article,
    matcher: Matcher | None = None,
    parents: dict[int, int | None] | None = None,
) -> bool:
    """Bring the article's links in line with the rules. Returns whether anything changed."""
    if article.status != Article.Status.OK:
        return False
    keywords, feed_tags = article_labels(article)
    matches = (matcher or current_matcher()).match(
        title=article.title, summary=article.summary, text=article.text, keywords=keywords
    )
    parents = parents if parents is not None else current_parents()
    return apply_links(article, desired_links(article, matches, feed_tags, parents))


def apply_links(article: Article, wanted: dict[int, Link]) -> bool:
    current = {link.tag_id: link for link in ArticleTag.objects.filter(article=article)}
    lock_tags(set(current) | set(wanted))
    if any(link.is_visible != article.is_visible for link in current.values()):
        sync_visibility(article)
        current = {link.tag_id: link for link in ArticleTag.objects.filter(article=article)}
    stale = [tag_id for tag_id in current if tag_id not in wanted]
    if stale:
        ArticleTag.objects.filter(article=article, tag_id__in=stale).delete()
    new = {tag_id: link for tag_id, link in wanted.items() if tag_id not in current}
    _create_links(article, new)
    changed = bool(stale or new)
    for tag_id, link in wanted.items():
        existing = current.get(tag_id)
        if existing and (existing.origin, existing.score, existing.terms) != (
            link.origin,
            link.score,
            link.terms,
        ):
            ArticleTag.objects.filter(pk=existing.pk).update(
                origin=link.origin, score=link.score, terms=link.terms
            )
            changed = True
    return changed


def _create_links(article: Article, links: dict[int, Link]) -> None:
    if not links:
        return
    visible = article.is_visible
    ArticleTag.objects.bulk_create(
        [
            ArticleTag(
                article=article,
                tag_id=tag_id,
                origin=link.origin,
                score=link.score,
                terms=link.terms,
                published_at=article.published_at,
                is_visible=visible,
            )
            for tag_id, link in links.items()
        ]
    )
    if visible:
        Tag.objects.filter(pk__in=list(links)).update(
            article_count=F("article_count") + 1, content_changed_at=timezone.now()
        )


def lock_tags(tag_ids) -> None:
    """Lock the count rows this transaction will change, always in id order.

    Two workers tagging articles that share topics then queue for the same rows in the same
    order instead of each holding one the other waits for (a deadlock).
    """
    if tag_ids:
        list(Tag.objects.select_for_update().filter(pk__in=tag_ids).order_by("pk").values("pk"))


# --- Editors' hand decisions ---------------------------------------------------------------------


def _record_decision(
    article: Article, tag: Tag, decision: str, editor: AbstractBaseUser | None
) -> None:
    TagDecision.objects.update_or_create(
        article=article,
        tag=tag,
        defaults={"decision": decision, "editor": editor, "decided_at": timezone.now()},
    )


@transaction.atomic
def add_tag_by_hand(article: Article, tag: Tag, editor: AbstractBaseUser | None = None) -> None:
    _record_decision(article, tag, TagDecision.Decision.ADD, editor)
    link = ArticleTag.objects.filter(article=article, tag=tag).first()
    if link is None:
        _create_links(article, {tag.pk: Link(ArticleTag.Origin.EDITOR)})
    else:
        ArticleTag.objects.filter(pk=link.pk).update(origin=ArticleTag.Origin.EDITOR)


@transaction.atomic
def remove_tag_by_hand(article: Article, tag: Tag, editor: AbstractBaseUser | None = None) -> None:
    _record_decision(article, tag, TagDecision.Decision.REMOVE, editor)
    ArticleTag.objects.filter(article=article, tag=tag).delete()


# --- Visibility and counts -----------------------------------------------------------------------


@transaction.atomic
def sync_visibility(article: Article) -> None:
    """After hiding, unhiding, failing or de-duplicating an article, flip its links and counts."""
    visible = article.is_visible
    flipped = list(
        ArticleTag.objects.select_for_update()
        .filter(article=article)
        .exclude(is_visible=visible)
        .values_list("tag_id", flat=True)
    )
    if not flipped:
        return
    lock_tags(flipped)
    ArticleTag.objects.filter(article=article, tag_id__in=flipped).update(is_visible=visible)
    delta = 1 if visible else -1
    Tag.objects.filter(pk__in=flipped).update(
        article_count=F("article_count") + delta, content_changed_at=timezone.now()
    )


def set_hidden(articles: Iterable[Article], hidden: bool) -> int:
    changed = 0
    for article in articles:
        if article.is_hidden != hidden:
            article.is_hidden = hidden
            article.save(update_fields=["is_hidden", "updated_at"])
            sync_visibility(article)
            changed += 1
    return changed


def recount(tag_ids: Iterable[int] | None = None) -> int:
    """Recompute counts from the links; returns how many tags were wrong."""
    visible_links = (
        ArticleTag.objects.filter(tag=OuterRef("pk"), is_visible=True)
        .order_by()
        .values("tag")
        .annotate(n=Count("pk"))
        .values("n")
    )
    tags = Tag.objects.all() if tag_ids is None else Tag.objects.filter(pk__in=list(tag_ids))
    exact = Coalesce(Subquery(visible_links, output_field=IntegerField()), Value(0))
    wrong = tags.annotate(exact=exact).exclude(article_count=F("exact"))
    fixed = 0
    for tag in wrong:
        Tag.objects.filter(pk=tag.pk).update(
            article_count=tag.exact, content_changed_at=timezone.now()
        )
        fixed += 1
    return fixed
