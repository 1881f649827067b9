"""How a topic's rule match and its model's probability combine into one decision. Pure.

Per topic the editor picks a mode:
- ``rules``: the rules alone; the model (if any) is ignored.
- ``rules+model``: strong rule matches are published unless the model is very sure the article
  is not about the topic (below ``veto_at``: the match is kept as weak and the reason says the
  model vetoed it); the model confirms or vetoes weak ones and adds articles the rules missed
  when it is confident.
- ``model``: the model alone; a rule match is only recorded.

Two confidence levels per topic: at or above ``publish_at`` the model publishes, between
``review_at`` and ``publish_at`` the article goes to the editors' review queue.
A topic without a model (too few labelled articles) behaves as ``rules`` whatever its mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

RULES = "rules"
RULES_AND_MODEL = "rules+model"
MODEL = "model"
MODES = (RULES, RULES_AND_MODEL, MODEL)

DEFAULT_PUBLISH_AT = 0.6
DEFAULT_REVIEW_AT = 0.35
# Below this (calibrated) probability the model overrules a strong rule match in rules+model.
# Chosen on the benchmark's training part (out-of-fold): 0.1-0.25 score alike; the lowest is kept.
DEFAULT_VETO_AT = 0.1


class Action(StrEnum):
    PUBLISH = "publish"  # a visible link on the topic page
    WEAK = "weak"  # recorded for explanations and learning, not published
    REVIEW = "review"  # borderline: an editor decides
    DROP = "drop"


# A rule match: "strong" (the rules would publish it), "weak" (a passing mention) or None.
STRONG, WEAK = "strong", "weak"


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str
    # Who made the published link: "rule" or "model" (empty when nothing is published).
    by: str = ""


def decide(
    mode: str,
    rule: str | None,
    probability: float | None,
    *,
    publish_at: float = DEFAULT_PUBLISH_AT,
    review_at: float = DEFAULT_REVIEW_AT,
    veto_at: float = DEFAULT_VETO_AT,
) -> Decision:
    """One topic, one article: what to do, and why."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
    if mode == RULES or probability is None:
        return _rules_alone(rule, no_model=mode != RULES)
    p = f"{probability:.2f}"
    confident = probability >= publish_at
    borderline = review_at <= probability < publish_at
    if mode == RULES_AND_MODEL:
        if rule == STRONG:
            if probability < veto_at:
                return Decision(Action.WEAK, f"strong rule match vetoed by the model ({p})")
            return Decision(Action.PUBLISH, "rule match", "rule")
        if confident:
            why = "weak rule match confirmed" if rule == WEAK else "rules missed it"
            return Decision(Action.PUBLISH, f"{why}; model {p}", "model")
        if borderline:
            return Decision(Action.REVIEW, f"model unsure ({p})")
        if rule == WEAK:
            return Decision(Action.WEAK, f"weak rule match vetoed by the model ({p})")
        return Decision(Action.DROP, "no rule match; model below review level")
    # Model only.
    if confident:
        return Decision(Action.PUBLISH, f"model {p}", "model")
    if borderline:
        return Decision(Action.REVIEW, f"model unsure ({p})")
    if rule is not None:
        return Decision(Action.WEAK, f"{rule} rule match, model {p} (model-only topic)")
    return Decision(Action.DROP, f"model {p}")


def act(
    mode: str,
    rule: str | None,
    probability: float | None,
    publish_at: float,
    review_at: float,
    veto_at: float,
) -> tuple[Action, str]:
    """``decide``'s action and author (``Decision.by``) without its reason: the worker decides
    ~40 matched topics an article, and building a reason (a formatted probability, a frozen
    dataclass) for each was most of the cost. ``mode`` must be valid (``decide`` checks it).
    Kept equal to ``decide`` by a test over every branch."""
    if mode == RULES or probability is None:
        if rule == STRONG:
            return Action.PUBLISH, "rule"
        return (Action.WEAK, "") if rule == WEAK else (Action.DROP, "")
    if mode == RULES_AND_MODEL and rule == STRONG:
        return (Action.WEAK, "") if probability < veto_at else (Action.PUBLISH, "rule")
    if probability >= publish_at:
        return Action.PUBLISH, "model"
    if probability >= review_at:
        return Action.REVIEW, ""
    return (Action.WEAK, "") if rule is not None else (Action.DROP, "")


def _rules_alone(rule: str | None, *, no_model: bool) -> Decision:
    note = " (no model for this topic)" if no_model else ""
    if rule == STRONG:
        return Decision(Action.PUBLISH, f"rule match{note}", "rule")
    if rule == WEAK:
        return Decision(Action.WEAK, f"passing mention only{note}")
    return Decision(Action.DROP, f"no rule match{note}")


def published(mode: str, rule: str | None, probability: float | None, **levels: float) -> bool:
    """Whether the decision puts the article on the topic page (for scoring modes)."""
    return decide(mode, rule, probability, **levels).action == Action.PUBLISH


def explain_model_link(probability: float, terms: dict[str, float]) -> str:
    """How an editor reads a model-made link: its probability and the terms that weighed most."""
    top = ", ".join(term for term, _ in sorted(terms.items(), key=lambda tw: -tw[1]))
    return f"model, probability {probability:.2f}" + (f"; top terms: {top}" if top else "")
