"""tags.modelling.plan: how the worker combines an article's rule matches with the model.

Pure (no database): the settings are built by hand as ``topic_settings`` builds them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import sparse

from tags import combining, learning, modelling
from tags.matching import Matcher, Rule
from tests.labelled import records
from tests.test_learning import examples


def constant_model(probability: float, topics=("a", "b")) -> learning.TopicModel:
    """Every article gets ``probability`` for every topic."""
    logit = math.log(probability / (1 - probability))
    return learning.TopicModel(
        version="constant",
        topics=tuple(topics),
        terms=("x",),
        idf=np.ones(1, np.float32),
        coef=sparse.csr_matrix(np.zeros((1, len(topics)), np.float32)),
        intercept=np.full(len(topics), logit, np.float32),
    )


@pytest.mark.parametrize("as_map", [False, True])
def test_a_topic_publishing_below_the_other_topics_review_level_still_publishes(as_map):
    # "a" publishes at 0.2; "b" reviews from 0.5. The model says 0.25 for both.
    settings = {
        1: modelling.TopicSettings("a", combining.MODEL, publish_at=0.2, review_at=0.3),
        2: modelling.TopicSettings("b", combining.MODEL, publish_at=0.9, review_at=0.5),
    }
    topics = modelling.TopicSettingsMap(settings) if as_map else settings
    planned = modelling.plan(
        [], constant_model(0.25), topics, title="anything", summary="", text=""
    )
    assert set(planned.model_links) == {1}
    assert planned.model_links[1][0] == pytest.approx(0.25, abs=1e-3)
    assert planned.reviews == {}


def test_the_settings_map_plans_exactly_as_a_plain_dict():
    model = learning.fit(examples(), ["coffee", "volcano"])
    rules = [
        Rule(tag_id=1, name="Coffee", aliases=("coffee", "arabica")),
        Rule(tag_id=2, name="Volcano", aliases=("volcano", "eruption", "lava")),
        Rule(tag_id=3, name="Tides", aliases=("tide",)),
    ]
    matcher = Matcher(rules)
    settings = {
        1: modelling.TopicSettings("coffee", combining.RULES_AND_MODEL, 0.6, 0.35),
        2: modelling.TopicSettings("volcano", combining.MODEL, 0.5, 0.3),
        3: modelling.TopicSettings("tides", combining.RULES_AND_MODEL, 0.6, 0.35),
    }
    # Topics with no rule match and no model score stand for the other 990 topics a worker has.
    for i in range(10, 1000):
        settings[i] = modelling.TopicSettings(f"t{i}", combining.RULES_AND_MODEL, 0.6, 0.35)
    mapped = modelling.TopicSettingsMap(settings)
    seen = set()
    for r in records(20, seed=3):
        found = matcher.match(title=r["title"], text=r["body"])
        args = {"title": r["title"], "summary": "", "text": r["body"]}
        plain = modelling.plan(found, model, settings, **args)
        fast = modelling.plan(found, model, mapped, **args)
        assert fast.model_links == plain.model_links
        assert fast.reviews == plain.reviews
        assert fast.vetoes == plain.vetoes
        assert sorted(fast.matches, key=lambda m: m.tag_id) == sorted(
            plain.matches, key=lambda m: m.tag_id
        )
        seen.update(("link", t) for t in plain.model_links)
        seen.update(("match", m.tag_id, m.strong) for m in plain.matches)
    # The articles exercised model links and rule matches, not just empty plans.
    assert any(s[0] == "link" for s in seen) and any(s[0] == "match" for s in seen)


def test_a_weak_match_stays_whole_when_recorded_weak():
    matcher = Matcher([Rule(tag_id=1, name="Coffee", aliases=("coffee",))])
    text = "First paragraph about trade.\n\n" + "Later, one passing mention of coffee here."
    (match,) = matcher.match(title="Trade news", text=text)
    assert not match.strong
    settings = modelling.TopicSettingsMap(
        {1: modelling.TopicSettings("a", combining.RULES_AND_MODEL, 0.6, 0.35)}
    )
    planned = modelling.plan(
        [match], constant_model(0.01, ("a",)), settings, title="Trade news", summary="", text=text
    )
    (weak,) = planned.matches
    assert weak == match


def test_each_topic_vetoes_a_strong_match_at_its_own_level():
    matcher = Matcher([Rule(tag_id=1, name="Coffee", aliases=("coffee",))])
    (match,) = matcher.match(title="Coffee prices", text="Coffee rose.")
    assert match.strong
    model = constant_model(0.2, ("a",))
    args = {"title": "Coffee prices", "summary": "", "text": "Coffee rose."}
    # The default veto level (0.1) lets a 0.2 stand; a topic vetoing below 0.3 does not.
    kept = modelling.plan(
        [match],
        model,
        {1: modelling.TopicSettings("a", combining.RULES_AND_MODEL, 0.6, 0.35)},
        **args,
    )
    assert kept.vetoes == {} and kept.matches == [match]
    vetoed = modelling.plan(
        [match],
        model,
        {1: modelling.TopicSettings("a", combining.RULES_AND_MODEL, 0.6, 0.35, veto_at=0.3)},
        **args,
    )
    assert vetoed.vetoes == {1: pytest.approx(0.2, abs=1e-3)}


@pytest.mark.parametrize("mode", [combining.RULES_AND_MODEL, combining.MODEL])
@pytest.mark.parametrize("probability", [0.01, 0.1, 0.2, 0.35, 0.5, 0.6, 0.95])
@pytest.mark.parametrize("veto_at", [0.0, 0.1, 0.3])
def test_plan_publishes_and_vetoes_exactly_as_decide(mode, probability, veto_at):
    matcher = Matcher([Rule(tag_id=1, name="Coffee", aliases=("coffee",))])
    strong_text = "Coffee rose."
    weak_text = "First paragraph about trade.\n\nLater, one passing mention of coffee here."
    settings = {1: modelling.TopicSettings("a", mode, 0.6, 0.35, veto_at)}
    model = constant_model(probability, ("a",))
    # What the model says after float32 rounding (0.35 may come out a hair below it).
    probability = model.score(title="x").probabilities["a"]
    for title, text in (("Coffee prices", strong_text), ("Trade news", weak_text)):
        (match,) = matcher.match(title=title, text=text)
        state = combining.STRONG if match.strong else combining.WEAK
        decision = combining.decide(
            mode, state, probability, publish_at=0.6, review_at=0.35, veto_at=veto_at
        )
        planned = modelling.plan([match], model, settings, title=title, summary="", text=text)
        published = {m.tag_id for m in planned.matches if m.strong} - set(planned.vetoes)
        published |= set(planned.model_links)
        assert (1 in published) == (decision.action == combining.Action.PUBLISH)
        assert (1 in planned.vetoes) == (
            decision.action == combining.Action.WEAK and state == combining.STRONG
        )
        assert (1 in planned.reviews) == (decision.action == combining.Action.REVIEW)
