"""The topic models' database side: training data, trained versions, and serving them.

Training data: imported labelled examples (`LabelledExample`) and editors' hand decisions
(`TagDecision`: an addition is a positive, a removal a negative, for that topic only; accepting
or rejecting a review item records such a decision). A trained version replaces the current one
only when its cross-validated micro-F1 is not worse. Every process loads the current version
when the token in the shared cache changes, as `tags.linking` does for the matcher.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from articles.models import Article
from tags import combining, learning, suggesting
from tags.matching import Matcher, TagMatch
from tags.models import (
    ArticleTag,
    LabelledExample,
    ReviewItem,
    Tag,
    TagDecision,
    TaggingMode,
    TopicModelVersion,
    TrainingRun,
)

log = logging.getLogger(__name__)

MODEL_VERSION_KEY = "tags:model-version"
PUBLISH, WEAK, REVIEW = combining.Action.PUBLISH, combining.Action.WEAK, combining.Action.REVIEW
CV_FOLDS = 5
TOP_TERMS = 5


# --- Training data -------------------------------------------------------------------------------


@dataclass
class TrainingSet:
    examples: list[learning.LabelledText]
    counts: dict[str, int] = field(default_factory=dict)


def training_set(slugs: Iterable[str] | None = None) -> TrainingSet:
    """Imported examples plus articles editors decided on, as plain labelled texts."""
    wanted = set(slugs) if slugs is not None else None
    examples: list[learning.LabelledText] = []
    labels: dict[int, set[str]] = {}
    for example_id, slug in LabelledExample.tags.through.objects.values_list(
        "labelledexample_id", "tag__slug"
    ):
        labels.setdefault(example_id, set()).add(slug)
    imported = 0
    for pk, title, body, date in LabelledExample.objects.order_by("pk").values_list(
        "pk", "title", "body", "date"
    ):
        examples.append(learning.LabelledText(title, "", body, frozenset(labels.get(pk, ())), date))
        imported += 1
    added: dict[int, set[str]] = {}
    known: dict[int, set[str]] = {}
    n_add = n_remove = 0
    for article_id, slug, decision in TagDecision.objects.values_list(
        "article_id", "tag__slug", "decision"
    ):
        if wanted is not None and slug not in wanted:
            continue
        known.setdefault(article_id, set()).add(slug)
        if decision == TagDecision.Decision.ADD:
            added.setdefault(article_id, set()).add(slug)
            n_add += 1
        else:
            n_remove += 1
    for article in Article.objects.filter(pk__in=list(known)).only(
        "pk", "title", "summary", "text", "published_at"
    ):
        examples.append(
            learning.LabelledText(
                article.title,
                article.summary,
                article.text,
                frozenset(added.get(article.pk, ())),
                article.published_at,
                only=frozenset(known[article.pk]),
            )
        )
    return TrainingSet(
        examples, {"imported": imported, "editor_added": n_add, "editor_removed": n_remove}
    )


# --- Cross-validated figures per mode ------------------------------------------------------------


def rule_states(
    matcher: Matcher, examples: Sequence[learning.LabelledText], tag_ids: dict[str, int]
) -> list[dict[str, str]]:
    """Per example, each topic's rule match: "strong" or "weak" (absent: no match)."""
    by_id = {tag_id: slug for slug, tag_id in tag_ids.items()}
    states = []
    for e in examples:
        found = matcher.match(title=e.title, summary=e.summary, text=e.text)
        states.append({by_id[m.tag_id]: match_state(m) for m in found if m.tag_id in by_id})
    return states


def match_state(match: TagMatch) -> str:
    # Prominence-aware rules mark passing mentions weak; older matchers publish every match.
    return combining.STRONG if getattr(match, "strong", True) else combining.WEAK


def mode_figures(
    examples: Sequence[learning.LabelledText],
    topics: Sequence[str],
    probs: np.ndarray,
    states: Sequence[dict[str, str]],
    levels: dict[str, tuple[float, ...]],
) -> dict[str, dict[str, learning.Counts]]:
    """topic -> mode -> counts, from out-of-fold probabilities and the rules' matches;
    ``levels``: topic -> (publish level, review level[, veto level])."""
    figures: dict[str, dict[str, learning.Counts]] = {}
    for col, topic in enumerate(topics):
        publish_at, review_at, veto_at, *_ = (
            *levels.get(topic, (combining.DEFAULT_PUBLISH_AT, combining.DEFAULT_REVIEW_AT)),
            combining.DEFAULT_VETO_AT,
        )
        per_mode = {mode: learning.Counts() for mode in combining.MODES}
        for row, e in enumerate(examples):
            if e.only is not None and topic not in e.only:
                continue
            p = probs[row, col]
            probability = None if np.isnan(p) else float(p)
            for mode, counts in per_mode.items():
                counts.add(
                    combining.published(
                        mode,
                        states[row].get(topic),
                        probability,
                        publish_at=publish_at,
                        review_at=review_at,
                        veto_at=veto_at,
                    ),
                    topic in e.topics,
                )
        figures[topic] = per_mode
    return figures


def suggest_modes(
    examples: Sequence[learning.LabelledText],
    topics: Sequence[str],
    probs: np.ndarray,
    states: Sequence[dict[str, str]],
) -> dict[str, suggesting.Suggestion]:
    """topic -> the mode and publish level with the best out-of-fold F1 (``tags.suggesting``),
    over the articles labelled for that topic."""
    found = {}
    for col, topic in enumerate(topics):
        rows = [i for i, e in enumerate(examples) if e.only is None or topic in e.only]
        if not rows:
            continue
        found[topic] = suggesting.suggest(
            probs[rows, col],
            [states[i].get(topic) for i in rows],
            [topic in examples[i].topics for i in rows],
        )
    return found


# --- Training ------------------------------------------------------------------------------------


@dataclass
class TrainResult:
    version: TopicModelVersion
    accepted: bool
    message: str


def train(progress: Callable[[str], None] | None = None, topic: str | None = None) -> TrainResult:
    """Fit a model for every active topic, cross-validate it per mode, store it, and make it
    current unless its CV micro-F1 is worse than the current version's."""
    from tags.linking import current_matcher

    tags = {t.slug: t for t in Tag.objects.active()}
    if topic is not None and topic not in tags:
        raise ValueError(f"no active topic with slug {topic!r}")
    data = training_set(tags)
    slugs = sorted(tags)
    counts = learning.topic_counts(data.examples)
    learnable = [s for s in slugs if counts.get(s, 0) >= learning.MIN_POSITIVES]
    if progress:
        progress(f"cross-validating {len(learnable)} topics on {len(data.examples)} articles")
    probs = learning.out_of_fold(
        data.examples, learnable, learning.kfold(len(data.examples), CV_FOLDS)
    )
    states = rule_states(current_matcher(), data.examples, {s: tags[s].pk for s in learnable})
    levels = {
        s: (tags[s].model_publish_at, tags[s].model_review_at, tags[s].model_veto_at)
        for s in learnable
    }
    figures = mode_figures(data.examples, learnable, probs, states, levels)
    suggestions = suggest_modes(data.examples, learnable, probs, states)
    model = learning.fit(data.examples, slugs, progress=progress)
    per_topic: dict[str, dict] = {}
    for slug in slugs:
        suggestion = suggestions.get(slug)
        per_topic[slug] = {
            "suggested_mode": suggestion.mode if suggestion else None,
            "suggested_mode_publish_at": suggestion.publish_at if suggestion else None,
            "suggested_mode_f1": suggestion.f1 if suggestion else None,
            "suggested_mode_veto_at": (
                suggestion.veto_at
                if suggestion and suggestion.mode == combining.RULES_AND_MODEL
                else None
            ),
            "positives": counts.get(slug, 0),
            "skipped": model.skipped.get(slug),
            "suggested_publish_at": model.publish_at.get(slug),
            "cv": {
                mode: {"precision": c.precision, "recall": c.recall, "f1": c.f1, "n": c.tp + c.fn}
                for mode, c in figures.get(slug, {}).items()
            },
        }
    # The figure a new version must not make worse: the model-only micro-F1 over its topics.
    cv_f1 = learning.micro({s: f[combining.MODEL] for s, f in figures.items()}).f1
    with transaction.atomic():
        current = TopicModelVersion.objects.select_for_update().filter(is_current=True).first()
        accepted = current is None or cv_f1 >= current.cv_f1
        if accepted:
            note = "replaced " + current.version if current else "first model"
        else:
            note = f"kept {current.version}: CV F1 {cv_f1:.3f} < {current.cv_f1:.3f}"
        if accepted and current is not None:
            TopicModelVersion.objects.filter(pk=current.pk).update(is_current=False)
        version = TopicModelVersion.objects.create(
            version=model.version,
            data=model.to_bytes(),
            n_examples=model.n_examples,
            trained_on=data.counts,
            topics=per_topic,
            cv_f1=cv_f1,
            is_current=accepted,
            note=note,
        )
        if accepted:
            transaction.on_commit(model_changed)
    return TrainResult(version, accepted, note)


def start_training(reason: str = "") -> TrainingRun:
    """Queue a training run for a worker unless one is already waiting."""
    from tags.tasks import run_training

    waiting = TrainingRun.objects.filter(state=TrainingRun.State.QUEUED).first()
    if waiting is not None:
        return waiting
    run = TrainingRun.objects.create(reason=reason[:200])
    transaction.on_commit(lambda: run_training.delay(run.pk))
    return run


def run_training_run(run: TrainingRun) -> TrainingRun:
    """Run one queued training run; a run already taken (or finished) is left alone."""
    claimed = TrainingRun.objects.filter(pk=run.pk, state=TrainingRun.State.QUEUED).update(
        state=TrainingRun.State.RUNNING
    )
    if not claimed:
        return run
    try:
        result = train()
    except Exception as exc:  # recorded on the run for operators, then re-raised
        log.exception("training run %s failed", run.pk)
        TrainingRun.objects.filter(pk=run.pk).update(
            state=TrainingRun.State.FAILED, message=str(exc), finished_at=timezone.now()
        )
        raise
    TrainingRun.objects.filter(pk=run.pk).update(
        state=TrainingRun.State.DONE,
        result=result.version,
        accepted=result.accepted,
        message=result.message,
        finished_at=timezone.now(),
    )
    if result.accepted:
        apply_to_archive()
    run.refresh_from_db()
    return run


def apply_to_archive() -> None:
    """Re-tag the archive with the new model through the same batched retag path as rules."""
    from tags import retagging

    if Tag.objects.active().exclude(tagging_mode=TaggingMode.RULES).exists():
        transaction.on_commit(lambda: retagging.start(None))


def decisions_since_current() -> int:
    current = TopicModelVersion.objects.filter(is_current=True).only("created_at").first()
    decisions = TagDecision.objects.all()
    if current is not None:
        decisions = decisions.filter(decided_at__gt=current.created_at)
    return decisions.count()


def maybe_start_training() -> TrainingRun | None:
    """After enough new hand decisions, queue a training run."""
    threshold = getattr(settings, "NEWSDESK_TRAIN_AFTER_DECISIONS", 50)
    if threshold <= 0 or decisions_since_current() < threshold:
        return None
    if TrainingRun.objects.filter(
        state__in=[TrainingRun.State.QUEUED, TrainingRun.State.RUNNING]
    ).exists():
        return None
    return start_training(f"{threshold} new editor decisions")


# --- Serving -------------------------------------------------------------------------------------


def model_changed() -> None:
    cache.set(MODEL_VERSION_KEY, uuid.uuid4().hex, timeout=None)


_model_cache: dict[str, object] = {"token": None, "model": None, "version": None}


def current_model() -> learning.TopicModel | None:
    """The current model, reloaded when another process trained a new one; None if there is
    none or it cannot be read (then the rules tag alone, and the error is logged)."""
    token = cache.get(MODEL_VERSION_KEY)
    if token is None:
        cache.add(MODEL_VERSION_KEY, uuid.uuid4().hex, timeout=None)
        token = cache.get(MODEL_VERSION_KEY)
    if _model_cache["token"] != token:
        _model_cache.update(token=token, model=load_current(), version=None)
    return _model_cache["model"]  # type: ignore[return-value]


def load_current() -> learning.TopicModel | None:
    row = TopicModelVersion.objects.filter(is_current=True).first()
    if row is None:
        return None
    try:
        return learning.TopicModel.from_bytes(bytes(row.data))
    except learning.ModelLoadError as exc:
        log.error("topic model %s cannot be loaded, tagging by rules only: %s", row.version, exc)
        return None


@dataclass(frozen=True)
class TopicSettings:
    slug: str
    mode: str
    publish_at: float
    review_at: float
    veto_at: float = combining.DEFAULT_VETO_AT


def topic_settings() -> TopicSettingsMap:
    """Active topics that use their model, by id."""
    return TopicSettingsMap(
        {
            pk: TopicSettings(slug, mode, publish_at, review_at, veto_at)
            for pk, slug, mode, publish_at, review_at, veto_at in Tag.objects.active()
            .exclude(tagging_mode=TaggingMode.RULES)
            .values_list(
                "pk",
                "slug",
                "tagging_mode",
                "model_publish_at",
                "model_review_at",
                "model_veto_at",
            )
        }
    )


@dataclass
class Plan:
    """What the model changes about an article's links."""

    matches: list[TagMatch]
    model_links: dict[int, tuple[float, dict[str, float]]] = field(default_factory=dict)
    reviews: dict[int, tuple[float, dict[str, float], str]] = field(default_factory=dict)
    # Strong rule matches the model overruled (rules+model): the model's probability.
    vetoes: dict[int, float] = field(default_factory=dict)


def plan(
    matches: list[TagMatch],
    model: learning.TopicModel | None,
    topics: dict[int, TopicSettings],
    *,
    title: str,
    summary: str,
    text: str,
) -> Plan:
    """Combine the rules' matches with the model for every topic not on rules alone."""
    if model is None or not topics:
        return Plan(matches)
    if not isinstance(topics, TopicSettingsMap):
        topics = TopicSettingsMap(topics)
    served = topics.served_by(model)
    # The article is vectorised once and every topic scored in one pass over its terms'
    # coefficients; only the candidates below are ever turned into Python floats.
    idx, values = model.features(learning.document(title, summary, text))
    probs = model.article_probabilities(idx, values)
    kept: list[TagMatch] = []
    by_tag: dict[int, TagMatch] = {}
    for match in matches:
        if match.tag_id in topics:
            by_tag[match.tag_id] = match
        else:
            kept.append(match)
    result = Plan(kept)
    # Only a topic the rules matched or the model scored at or above its own lowest level can
    # lead to anything but a drop: with a thousand topics, deciding the rest one by one was
    # most of the cost of an article.
    # (float32 probabilities against float64 levels: compared in float64, as ``act`` does.)
    above = served.tag_ids[np.flatnonzero(probs >= served.floors)].tolist()
    levels, act, strong, weak = served.levels, combining.act, combining.STRONG, combining.WEAK
    both, probability_at, vetoes = combining.RULES_AND_MODEL, probs.item, result.vetoes
    explained: dict[int, int] = {}  # tag id -> model column
    for tag_id in sorted(by_tag.keys() | set(above)):
        mode, publish_at, review_at, veto_at, col = levels[tag_id]
        match = by_tag.get(tag_id)
        if mode == both and col >= 0 and match is not None:
            # ``act`` for a rule match in rules+model, the most common candidate by far.
            probability = probability_at(col)
            if getattr(match, "strong", True):
                # The match stays; a probability below the veto level overrules it (kept
                # whole, to be explained as vetoed).
                kept.append(match)
                if probability < veto_at:
                    vetoes[tag_id] = round(probability, 4)
                continue
            if probability < publish_at and probability < review_at:
                # A weak match the model does not raise to a link or a review: recorded weak.
                kept.append(match)
                continue
        probability = None if col < 0 else probability_at(col)
        # match_state(), inline: this runs for every matched topic of every article.
        state = None if match is None else strong if getattr(match, "strong", True) else weak
        # The action alone (``combining.act``); the reason is built only for review items.
        action, by = act(mode, state, probability, publish_at, review_at, veto_at)
        if action == PUBLISH:
            if by == "rule" and match is not None:
                kept.append(match)
            else:
                result.model_links[tag_id] = (round(float(probability or 0), 4), {})
                explained[tag_id] = col
        elif action == WEAK and match is not None:
            if state == combining.STRONG and probability is not None:
                # The model overruled a strong match: kept whole, to be explained as vetoed.
                result.vetoes[tag_id] = round(float(probability), 4)
            # Otherwise the rules already found it weak: recorded as it is.
            kept.append(match)
        elif action == REVIEW:
            reason = combining.decide(
                mode,
                state,
                probability,
                publish_at=publish_at,
                review_at=review_at,
                veto_at=veto_at,
            ).reason
            result.reviews[tag_id] = (float(probability or 0), {}, reason)
            explained[tag_id] = col
    # The terms that weighed most, only for what an editor will see explained: computing them
    # for every candidate topic was most of the model's cost with many topics.
    if explained:
        terms = model.explain_columns(idx, values, sorted(set(explained.values())), TOP_TERMS)
        for tag_id, col in explained.items():
            found = dict(terms.get(model.topics[col], ()))
            if tag_id in result.model_links:
                result.model_links[tag_id] = (result.model_links[tag_id][0], found)
            else:
                p, _, reason = result.reviews[tag_id]
                result.reviews[tag_id] = (p, found, reason)
    return result


@dataclass(frozen=True)
class Served:
    """What ``plan`` needs to read one model's probabilities for a settings map."""

    # tag id -> (mode, publish level, review level, veto level, column in the model or -1):
    # one lookup a candidate topic rather than its settings' attributes one by one.
    levels: dict[int, tuple[str, float, float, float, int]]
    # Per model column: the topic's tag id, and the probability from which the model alone
    # can publish it or send it to review (+inf: not a topic of the map).
    tag_ids: np.ndarray
    floors: np.ndarray


class TopicSettingsMap(dict):
    """Topics that use their model, by id, with what ``plan`` needs per article worked out
    once (the map is built once per rules version, and served by one model at a time): with a
    thousand topics, a step per topic per article was most of the model's cost. Not to be
    changed after it is built."""

    @functools.cached_property
    def by_slug(self) -> dict[str, int]:
        return {t.slug: tag_id for tag_id, t in self.items()}

    def served_by(self, model: learning.TopicModel) -> Served:
        """The map's topics as columns of ``model``, worked out once per model."""
        cached = self.__dict__.get("_served")
        if cached is None or cached[0] is not model:
            index = {slug: col for col, slug in enumerate(model.topics)}
            levels = {
                tag_id: (t.mode, t.publish_at, t.review_at, t.veto_at, index.get(t.slug, -1))
                for tag_id, t in self.items()
            }
            tag_ids = np.zeros(len(model.topics), np.int64)
            floors = np.full(len(model.topics), np.inf)
            for slug, tag_id in self.by_slug.items():
                if slug in index:
                    topic = self[tag_id]
                    tag_ids[index[slug]] = tag_id
                    floors[index[slug]] = min(topic.review_at, topic.publish_at)
            cached = self.__dict__["_served"] = (model, Served(levels, tag_ids, floors))
        return cached[1]


def sync_reviews(
    article: Article,
    reviews: dict[int, tuple[float, dict[str, float], str]],
    only: Collection[int] | None = None,
) -> None:
    """Keep the article's review items (of the topics `only`, by default all) in line with
    the plan; decided articles never return."""
    decided = set(article.tag_decisions.values_list("tag_id", flat=True))
    linked = set(ArticleTag.objects.filter(article=article).values_list("tag_id", flat=True))
    wanted = {k: v for k, v in reviews.items() if k not in decided and k not in linked}
    items = ReviewItem.objects.filter(article=article)
    if only is not None:
        items = items.filter(tag_id__in=list(only))
    items.exclude(tag_id__in=list(wanted)).delete()
    for tag_id, (probability, terms, reason) in wanted.items():
        ReviewItem.objects.update_or_create(
            article=article,
            tag_id=tag_id,
            defaults={"probability": probability, "terms": terms, "reason": reason[:200]},
        )
