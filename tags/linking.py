"""Verbs that change which articles carry which tags, keeping every tag's count exact.

The count on a tag is the number of its links to visible articles. The rules for keeping it:
- a link is created visible or not, and only `_create_links` creates links: it adds to counts;
- deleting a link (here, or by cascade from an article or tag) subtracts in `tags.signals`,
  except `tag_articles`, which deletes a batch's links in one statement and moves the counts
  itself;
- an article that becomes hidden or visible flips its links in `sync_visibility`.

The story count (`Tag.story_count`, the entries on the page) counts the visible links that
represent their story (`tags.folding`). Each verb here moves it with the links it creates,
deletes or flips, as it moves `article_count`, then re-folds the article's story for the
topics it touched, which moves it again for any link that starts or stops representing.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace

from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.db import transaction
from django.db.models import Case, Count, F, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from articles.models import Article, ArticleFeed
from tags import folding, modelling
from tags.matching import Matcher, Rule, TagMatch
from tags.models import Alias, ArticleTag, Exclusion, ReviewItem, Tag, TagDecision

log = logging.getLogger(__name__)

RULES_VERSION_KEY = "tags:rules-version"


# Occurrences stored per link: enough to explain and highlight, bounded for long texts.
MAX_STORED_HITS = 30


@dataclass(frozen=True)
class Link:
    origin: str
    score: float = 0.0
    terms: dict[str, int] = field(default_factory=dict)
    # A weak rule match (strong=False) is stored but listed and counted only when its topic
    # publishes weak matches (listed=True).
    strong: bool = True
    listed: bool = True
    hits: list[list] = field(default_factory=list)


# --- The matcher, built from the rules in the database ------------------------------------------


def load_rules() -> list[Rule]:
    tags = Tag.objects.active().only(
        "id",
        "name",
        "title_and_summary_only",
        "min_score",
        "name_is_alias",
        "strong_body_mentions",
        "publish_weak",
    )
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
            name_is_alias=tag.name_is_alias,
            strong_body_mentions=tag.strong_body_mentions,
            publish_weak=tag.publish_weak,
        )
        for tag in tags
    ]


def rules_changed() -> None:
    """Tell every process (through the shared cache) to rebuild its matcher."""
    cache.set(RULES_VERSION_KEY, uuid.uuid4().hex, timeout=None)


_rules_cache: dict[str, object] = {
    "version": None,
    "matcher": None,
    "parents": None,
    "publish_weak": None,
    "model_topics": None,
}


def _current_rules() -> dict[str, object]:
    # A random token rather than a counter: a flushed cache gets a new token, never an old one
    # that some process's stale matcher would mistake for current.
    version = cache.get(RULES_VERSION_KEY)
    if version is None:
        cache.add(RULES_VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(RULES_VERSION_KEY)
    if _rules_cache["matcher"] is None or _rules_cache["version"] != version:
        rules = load_rules()
        _rules_cache.update(
            matcher=Matcher(rules),
            parents=active_parents(),
            publish_weak=frozenset(r.tag_id for r in rules if r.publish_weak),
            model_topics=modelling.topic_settings(),
            version=version,
        )
    return _rules_cache


def current_matcher() -> Matcher:
    return _current_rules()["matcher"]  # type: ignore[return-value]


def current_model_topics() -> dict[int, modelling.TopicSettings]:
    """Topics that use their model (mode and confidence levels), rebuilt with the matcher."""
    return _current_rules()["model_topics"]  # type: ignore[return-value]


def current_parents() -> dict[int, int | None]:
    """Each active topic's parent, rebuilt with the matcher when any rule changes."""
    return _current_rules()["parents"]  # type: ignore[return-value]


def current_publish_weak() -> frozenset[int]:
    """The topics that publish their weak matches, rebuilt with the matcher."""
    return _current_rules()["publish_weak"]  # type: ignore[return-value]


def link_for(match: TagMatch, publish_weak: Collection[int] = ()) -> Link:
    """The link a rule match makes: strong or weak, and why."""
    origin = ArticleTag.Origin.CATEGORY if match.keywords_only else ArticleTag.Origin.RULE
    return Link(
        origin,
        match.score,
        dict(match.terms),
        strong=match.strong,
        listed=match.strong or match.tag_id in publish_weak,
        hits=[hit.as_list() for hit in match.hits[:MAX_STORED_HITS]],
    )


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
    publish_weak: Collection[int] = (),
    model_links: dict[int, tuple[float, dict[str, float]]] | None = None,
    vetoes: dict[int, float] | None = None,
    decisions: dict[int, str] | None = None,
) -> dict[int, Link]:
    """Rule matches, model links, feed defaults and editor decisions, plus every ancestor of
    what remains.

    Weak rule matches are kept (not listed unless their topic publishes them) and give their
    ancestors nothing; a feed default outranks a weak match. A model link (the model confirmed
    a weak match or found what the rules missed) replaces the rule match.
    """
    links: dict[int, Link] = {}
    for match in matches:
        links[match.tag_id] = link_for(match, publish_weak)
    for tag_id, (probability, terms) in (model_links or {}).items():
        links[tag_id] = Link(ArticleTag.Origin.MODEL, probability, terms)
    for tag_id, probability in (vetoes or {}).items():
        if tag_id in links:
            vetoed = links[tag_id]
            links[tag_id] = replace(
                vetoed, origin=ArticleTag.Origin.VETOED, score=probability, listed=False
            )
    for tag_id in feed_tags:
        if tag_id not in links or not links[tag_id].listed:
            links[tag_id] = Link(ArticleTag.Origin.FEED)
    if decisions is None:
        decisions = dict(article.tag_decisions.values_list("tag_id", "decision"))
    for tag_id, decision in decisions.items():
        if decision == TagDecision.Decision.ADD:
            links[tag_id] = Link(ArticleTag.Origin.EDITOR)
        else:
            links.pop(tag_id, None)
    for tag_id in [tag_id for tag_id, link in links.items() if link.listed]:
        parent, seen = parents.get(tag_id), {tag_id}
        while parent is not None and parent not in seen:
            seen.add(parent)
            if decisions.get(parent) != TagDecision.Decision.REMOVE and (
                parent not in links or not links[parent].listed
            ):
                links[parent] = Link(ArticleTag.Origin.PARENT)
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
    publish_weak = current_publish_weak() if matcher is None else _publishing_weak(matcher)
    model_topics = current_model_topics()
    planned = modelling.plan(
        matches,
        modelling.current_model(),
        model_topics,
        title=article.title,
        summary=article.summary,
        text=article.text,
    )
    # Where a topic uses its model, the model decides the weak matches (tags.combining).
    publish_weak = frozenset(publish_weak) - model_topics.keys()
    changed = apply_links(
        article,
        desired_links(
            article,
            planned.matches,
            feed_tags,
            parents,
            publish_weak,
            planned.model_links,
            planned.vetoes,
        ),
    )
    if planned.reviews or model_topics:
        modelling.sync_reviews(article, planned.reviews)
    return changed


def topics_deciding(topics: Collection[int], parents: dict[int, int | None]) -> frozenset[int]:
    """The topics whose matches decide these topics' links: themselves and every topic below
    them (a listed link gives each ancestor a parent link, `desired_links`)."""
    children: dict[int, list[int]] = defaultdict(list)
    for child, parent in parents.items():
        if parent is not None:
            children[parent].append(child)
    found, todo = set(topics), list(topics)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return frozenset(found)


_partial_cache: dict[tuple, tuple[Matcher, modelling.TopicSettingsMap]] = {}


def partial_rules(only: frozenset[int]) -> tuple[Matcher, modelling.TopicSettingsMap]:
    """A matcher and model settings holding only the rules that decide `only`'s links (built
    once per rules version): a topic's rules match alone, so its matches are the same as
    in the full matcher."""
    rules = _current_rules()
    key = (rules["version"], only)
    if key not in _partial_cache:
        deciding = topics_deciding(only, rules["parents"])  # type: ignore[arg-type]
        matcher = Matcher(r for r in rules["matcher"].rules if r.tag_id in deciding)  # type: ignore[union-attr]
        model_topics = modelling.TopicSettingsMap(
            {k: v for k, v in rules["model_topics"].items() if k in deciding}  # type: ignore[union-attr]
        )
        _partial_cache.clear()  # one job's topics at a time is all a worker needs
        _partial_cache[key] = (matcher, model_topics)
    return _partial_cache[key]


@transaction.atomic
def tag_articles(articles: Sequence[Article], only: Collection[int] | None = None) -> int:
    """`tag_article` for a batch of articles in a few queries; returns how many changed.

    Labels, hand decisions and current links are read for the whole batch at once; the count
    rows of every topic the batch touches are locked once, in id order; links are deleted,
    created and updated in one statement each and every topic's count moves by its net change
    in one UPDATE. The rules are read once (one cache check) for the batch, so a batch is never
    tagged with rules older than those current when it started.

    With `only`, just those topics' links (and review items) are brought in line, matched by
    the rules that decide them (`partial_rules`): what a change to one topic can affect is that
    topic and its ancestors, and every other link is left as it is.
    """
    articles = [a for a in articles if a.status == Article.Status.OK]
    if not articles:
        return 0
    ids = [a.pk for a in articles]
    matcher, parents = current_matcher(), current_parents()
    model_topics = current_model_topics()
    if only is not None:
        only = frozenset(only)
        matcher, model_topics = partial_rules(only)
    publish_weak = frozenset(current_publish_weak()) - model_topics.keys()
    model = modelling.current_model()
    labels = _labels_of(articles)
    decisions: dict[int, dict[int, str]] = defaultdict(dict)
    for article_id, tag_id, decision in TagDecision.objects.filter(article_id__in=ids).values_list(
        "article_id", "tag_id", "decision"
    ):
        decisions[article_id][tag_id] = decision
    current: dict[int, dict[int, ArticleTag]] = defaultdict(dict)
    # Dates are never compared or rewritten here: not loading them is a tenth of the read.
    links = ArticleTag.objects.filter(article_id__in=ids)
    if only is not None:
        links = links.filter(tag_id__in=only)
    for link in links.defer("published_at", "created_at"):
        current[link.article_id][link.tag_id] = link

    wanted: dict[int, dict[int, Link]] = {}
    reviews = []
    for article in articles:
        words, feed_tags = labels[article.pk]
        matches = matcher.match(
            title=article.title, summary=article.summary, text=article.text, keywords=words
        )
        planned = modelling.plan(
            matches,
            model,
            model_topics,
            title=article.title,
            summary=article.summary,
            text=article.text,
        )
        wanted[article.pk] = desired_links(
            article,
            planned.matches,
            feed_tags,
            parents,
            publish_weak,
            planned.model_links,
            planned.vetoes,
            decisions=decisions[article.pk],
        )
        if only is not None:
            wanted[article.pk] = {t: v for t, v in wanted[article.pk].items() if t in only}
            planned.reviews = {t: v for t, v in planned.reviews.items() if t in only}
        if planned.reviews or model_topics or only is not None:
            reviews.append((article, planned.reviews))

    touched = {t for links in current.values() for t in links}
    touched |= {t for links in wanted.values() for t in links}
    lock_tags(touched)
    delta: Counter[int] = Counter()
    entries: Counter[int] = Counter()
    stale: list[int] = []
    new: list[ArticleTag] = []
    updated: list[ArticleTag] = []
    changed = 0
    for article in articles:
        plan = _plan_links(article, current[article.pk], wanted[article.pk], delta, entries)
        stale += plan.stale
        new += plan.new
        updated += plan.updated
        changed += plan.changed
    if stale:
        # One statement, no per-row signal: the counts move below with everything else.
        ArticleTag.objects.filter(pk__in=stale)._raw_delete(ArticleTag.objects.db)
    if new:
        ArticleTag.objects.bulk_create(new)
    if updated:
        ArticleTag.objects.bulk_update(
            updated, ["origin", "score", "terms", "strong", "hits", "is_visible"]
        )
    _move_counts(delta, entries)
    if changed:
        folding.refold_articles(ids, touched)
    if only is not None:
        # Review items of these topics only; an article without any needs no look.
        reviewed = set(
            ReviewItem.objects.filter(article_id__in=ids, tag_id__in=only).values_list(
                "article_id", flat=True
            )
        )
        reviews = [(a, r) for a, r in reviews if r or a.pk in reviewed]
    for article, planned_reviews in reviews:
        modelling.sync_reviews(article, planned_reviews, only=only)
    return changed


@dataclass
class _LinkPlan:
    stale: list[int] = field(default_factory=list)
    new: list[ArticleTag] = field(default_factory=list)
    updated: list[ArticleTag] = field(default_factory=list)
    changed: bool = False


def _plan_links(
    article: Article,
    current: dict[int, ArticleTag],
    wanted: dict[int, Link],
    delta: Counter,
    entries: Counter,
) -> _LinkPlan:
    """What `apply_links` would write for one article, with its count changes added to
    `delta` (visible links gained minus lost, per topic) and `entries` (the same for links
    that represent their story; the re-fold afterwards moves any that change role)."""
    plan = _LinkPlan()
    for tag_id, existing in current.items():
        if tag_id not in wanted:
            plan.stale.append(existing.pk)
            delta[tag_id] -= existing.is_visible
            entries[tag_id] -= existing.is_visible and existing.represents
    for tag_id, link in wanted.items():
        visible = article.is_visible and link.listed
        existing = current.get(tag_id)
        if existing is None:
            plan.new.append(_new_link(article, tag_id, link))
            delta[tag_id] += visible
            entries[tag_id] += visible  # a new link represents until the re-fold says not
            continue
        if _differs(existing, link, visible):
            delta[tag_id] += visible - existing.is_visible
            if existing.represents:
                entries[tag_id] += visible - existing.is_visible
            existing.origin, existing.score, existing.terms = link.origin, link.score, link.terms
            existing.strong, existing.hits, existing.is_visible = link.strong, link.hits, visible
            plan.updated.append(existing)
    plan.changed = bool(plan.stale or plan.new or plan.updated)
    return plan


def _move_counts(delta: Counter, entries: Counter) -> None:
    """Every topic's article and story counts by their net change, in one UPDATE (rows
    already locked)."""
    moved = sorted(
        tag_id for tag_id in delta.keys() | entries.keys() if delta[tag_id] or entries[tag_id]
    )
    if not moved:
        return

    def by_topic(counter: Counter) -> Case:
        return Case(
            *(When(pk=tag_id, then=Value(counter[tag_id])) for tag_id in moved),
            default=Value(0),
            output_field=IntegerField(),
        )

    Tag.objects.filter(pk__in=moved).update(
        article_count=Greatest(F("article_count") + by_topic(delta), 0),
        story_count=Greatest(F("story_count") + by_topic(entries), 0),
        content_changed_at=timezone.now(),
    )


def _labels_of(articles: Sequence[Article]) -> dict[int, tuple[list[str], set[int]]]:
    """`article_labels` for many articles in one query."""
    labels = {a.pk: (list(a.categories or []) + list(a.keywords or []), set()) for a in articles}
    seen: set[int] = set()
    rows = ArticleFeed.objects.filter(article_id__in=list(labels)).order_by("article_id", "pk")
    for article_id, entry_id, categories, tag_id in rows.values_list(
        "article_id", "pk", "categories", "feed__default_tags"
    ):
        words, feed_tags = labels[article_id]
        if entry_id not in seen:
            seen.add(entry_id)
            words.extend(categories or [])
        if tag_id is not None:
            feed_tags.add(tag_id)
    return labels


def _publishing_weak(matcher: Matcher) -> frozenset[int]:
    return frozenset(rule.tag_id for rule in matcher.rules if rule.publish_weak)


def apply_links(article: Article, wanted: dict[int, Link]) -> bool:
    """Make the article's links exactly ``wanted``; a link is visible (listed and counted)
    when the article is visible and the link is listed."""
    current = {link.tag_id: link for link in ArticleTag.objects.filter(article=article)}
    lock_tags(set(current) | set(wanted))
    stale = [tag_id for tag_id in current if tag_id not in wanted]
    if stale:
        ArticleTag.objects.filter(article=article, tag_id__in=stale).delete()
    new = {tag_id: link for tag_id, link in wanted.items() if tag_id not in current}
    _create_links(article, new)
    changed = bool(stale or new)
    shown: list[int] = []
    unshown: list[int] = []
    entries: list[int] = []
    unentries: list[int] = []
    for tag_id, link in wanted.items():
        existing = current.get(tag_id)
        if existing is None:
            continue
        visible = article.is_visible and link.listed
        if _differs(existing, link, visible):
            ArticleTag.objects.filter(pk=existing.pk).update(
                origin=link.origin,
                score=link.score,
                terms=link.terms,
                strong=link.strong,
                hits=link.hits,
                is_visible=visible,
            )
            changed = True
            if visible != existing.is_visible:
                (shown if visible else unshown).append(tag_id)
                if existing.represents:
                    (entries if visible else unentries).append(tag_id)
    if shown:
        Tag.objects.filter(pk__in=shown).update(
            article_count=F("article_count") + 1,
            story_count=F("story_count") + _one_for(entries),
        )
    if unshown:
        Tag.objects.filter(pk__in=unshown, article_count__gt=0).update(
            article_count=F("article_count") - 1,
            story_count=F("story_count") - _one_for(unentries),
        )
    if changed:
        folding.refold_articles([article.pk], set(current) | set(wanted))
    return changed


def _one_for(tag_ids: list[int]) -> Case | Value:
    """1 for these topics' rows, 0 for the others, inside one UPDATE of several topics."""
    if not tag_ids:
        return Value(0)
    return Case(When(pk__in=tag_ids, then=Value(1)), default=Value(0))


def _new_link(article: Article, tag_id: int, link: Link) -> ArticleTag:
    return ArticleTag(
        article=article,
        tag_id=tag_id,
        origin=link.origin,
        score=link.score,
        terms=link.terms,
        strong=link.strong,
        hits=link.hits,
        published_at=article.published_at,
        is_visible=article.is_visible and link.listed,
    )


def _differs(existing: ArticleTag, link: Link, visible: bool) -> bool:
    """Whether a stored link must be rewritten to say what `link` says."""
    return (
        existing.origin,
        existing.score,
        existing.terms,
        existing.strong,
        existing.hits,
        existing.is_visible,
    ) != (link.origin, link.score, link.terms, link.strong, link.hits, visible)


def _create_links(article: Article, links: dict[int, Link]) -> None:
    if not links:
        return
    rows = [_new_link(article, tag_id, link) for tag_id, link in links.items()]
    ArticleTag.objects.bulk_create(rows)
    # A new link represents its article until the fold says otherwise (the caller re-folds).
    counted = [row.tag_id for row in rows if row.is_visible]
    if counted:
        Tag.objects.filter(pk__in=counted).update(
            article_count=F("article_count") + 1,
            story_count=F("story_count") + 1,
            content_changed_at=timezone.now(),
        )


@transaction.atomic
def redate_links(article: Article) -> set[int]:
    """Give the article's links its date again, where an extraction moved it (a page whose
    date was corrected, a date found on the page that the feed lacked). Links carry the date
    because a topic page is one range of their index, newest first; a stale copy would list
    the article in the wrong place and fold its story by the wrong earliest member. Returns
    the topics whose pages changed."""
    moved = ArticleTag.objects.filter(article=article).exclude(published_at=article.published_at)
    topics = set(moved.values_list("tag_id", flat=True))
    if not topics:
        return set()
    lock_tags(topics)
    ArticleTag.objects.filter(article=article, tag_id__in=topics).update(
        published_at=article.published_at
    )
    folding.refold_articles([article.pk], topics)
    Tag.objects.filter(pk__in=topics).update(content_changed_at=timezone.now())
    return topics


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
    lock_tags([tag.pk])
    link = ArticleTag.objects.filter(article=article, tag=tag).first()
    if link is None:
        _create_links(article, {tag.pk: Link(ArticleTag.Origin.EDITOR)})
    else:
        # A weak link the editor confirms becomes listed; its terms and hits still explain it.
        visible = article.is_visible
        ArticleTag.objects.filter(pk=link.pk).update(
            origin=ArticleTag.Origin.EDITOR, strong=True, is_visible=visible
        )
        if visible and not link.is_visible:
            Tag.objects.filter(pk=tag.pk).update(
                article_count=F("article_count") + 1,
                story_count=F("story_count") + int(link.represents),
            )
    folding.refold_articles([article.pk], [tag.pk])


@transaction.atomic
def remove_tag_by_hand(article: Article, tag: Tag, editor: AbstractBaseUser | None = None) -> None:
    _record_decision(article, tag, TagDecision.Decision.REMOVE, editor)
    lock_tags([tag.pk])
    ArticleTag.objects.filter(article=article, tag=tag).delete()
    # Another member of the article's story may now be the story's entry on this topic.
    folding.refold_articles([article.pk], [tag.pk])


@transaction.atomic
def undo_decision(decision: TagDecision) -> None:
    """Take back a hand decision: the article then carries what the rules (and the topic
    model) give it, through the same verbs that keep counts exact."""
    article = decision.article
    decision.delete()
    if article.status == Article.Status.OK:
        tag_article(article)
    elif decision.decision == TagDecision.Decision.ADD:
        # No rules run on an article that was not extracted: only the hand link goes.
        ArticleTag.objects.filter(
            article=article, tag_id=decision.tag_id, origin=ArticleTag.Origin.EDITOR
        ).delete()


# --- Visibility and counts -----------------------------------------------------------------------


@transaction.atomic
def sync_visibility(article: Article) -> None:
    """After hiding, unhiding, failing or de-duplicating an article, flip its links and counts."""
    visible = article.is_visible
    links = ArticleTag.objects.select_for_update().filter(article=article)
    if visible:
        # Weak links stay unlisted unless their topic publishes weak matches.
        links = links.filter(Q(strong=True) | Q(tag__publish_weak=True))
    flipped = dict(links.exclude(is_visible=visible).values_list("tag_id", "represents"))
    if not flipped:
        return
    lock_tags(flipped)
    ArticleTag.objects.filter(article=article, tag_id__in=flipped).update(is_visible=visible)
    delta = 1 if visible else -1
    entries = [tag_id for tag_id, represents in flipped.items() if represents]
    Tag.objects.filter(pk__in=flipped).update(
        article_count=F("article_count") + delta,
        story_count=F("story_count") + delta * _one_for(entries),
        content_changed_at=timezone.now(),
    )
    # Hidden, the article hands its story's entries to the next member; shown, it may take
    # them back.
    folding.refold_articles([article.pk], list(flipped))


def set_hidden(articles: Iterable[Article], hidden: bool) -> int:
    changed = 0
    for article in articles:
        if article.is_hidden != hidden:
            article.is_hidden = hidden
            article.save(update_fields=["is_hidden", "updated_at"])
            sync_visibility(article)
            changed += 1
    return changed


@transaction.atomic
def relist_weak(tag: Tag) -> None:
    """After a topic starts or stops publishing weak matches: list or unlist its weak links."""
    lock_tags([tag.pk])
    weak = ArticleTag.objects.filter(tag=tag, strong=False)
    if tag.publish_weak:
        weak.filter(is_visible=False, article__in=Article.objects.visible()).update(is_visible=True)
    else:
        weak.filter(is_visible=True).update(is_visible=False)
    recount([tag.pk])


@transaction.atomic
def recount(tag_ids: Iterable[int] | None = None) -> int:
    """Recompute both counts (articles, story entries) from the links; returns how many tags
    were wrong.

    The count rows are locked first, in id order, as every verb here locks them before it
    changes links: a tagger mid-transaction finishes before the links are counted, and none
    starts before the counts are written. (Without the lock, a retag committing between the
    count and its UPDATE had its change to the count overwritten.)"""
    tag_ids = list(Tag.objects.values_list("pk", flat=True)) if tag_ids is None else list(tag_ids)
    lock_tags(tag_ids)

    def counted(**flags: bool) -> Coalesce:
        links = (
            ArticleTag.objects.filter(tag=OuterRef("pk"), is_visible=True, **flags)
            .order_by()
            .values("tag")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return Coalesce(Subquery(links, output_field=IntegerField()), Value(0))

    tags = Tag.objects.filter(pk__in=tag_ids)
    wrong = (
        tags.annotate(exact=counted(), exact_stories=counted(represents=True))
        .exclude(article_count=F("exact"), story_count=F("exact_stories"))
        .only("pk")
    )
    fixed = 0
    for tag in wrong:
        Tag.objects.filter(pk=tag.pk).update(
            article_count=tag.exact,
            story_count=tag.exact_stories,
            content_changed_at=timezone.now(),
        )
        fixed += 1
    return fixed
