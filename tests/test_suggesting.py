import itertools

import numpy as np
import pytest

from tags import combining, suggesting

STATES = [combining.STRONG, combining.WEAK, None]
PROBS = [float("nan"), 0.0, 0.05, 0.1, 0.3, 0.6, 0.61, 0.95, 1.0]


@pytest.mark.parametrize("mode", combining.MODES)
@pytest.mark.parametrize("level", [0.3, 0.6, 0.9])
def test_many_at_once_publishes_exactly_what_decide_publishes(mode, level):
    cases = list(itertools.product(STATES, PROBS))
    states = np.asarray([s or "" for s, _ in cases], dtype=object)
    probs = np.asarray([p for _, p in cases])
    many = suggesting.published(mode, states, probs, level)
    one = [
        combining.published(mode, s, None if np.isnan(p) else p, publish_at=level, review_at=level)
        for s, p in cases
    ]
    assert many.tolist() == one


def test_a_topic_whose_rules_say_too_much_is_left_to_the_model():
    # Rules match every article strongly; the model ranks the positives above 0.7.
    labels = [True] * 10 + [False] * 30
    probs = [0.9] * 10 + [0.2] * 30
    states = [combining.STRONG] * 40
    pick = suggesting.suggest(probs, states, labels, modes=[combining.RULES, combining.MODEL])
    assert pick.mode == combining.MODEL
    assert pick.f1 == 1.0
    assert 0.2 < pick.publish_at <= 0.9
    # With rules+model allowed, the model decides there too: it overrules every strong match
    # it scores 0.2 (a veto level above that), which publishes exactly what it alone would.
    pick = suggesting.suggest(probs, states, labels)
    assert pick.mode == combining.RULES_AND_MODEL
    assert pick.f1 == 1.0
    assert 0.2 < pick.veto_at <= 0.9
    assert pick.per_mode[combining.RULES][0] == pytest.approx(2 * 10 / (40 + 10))


def test_rules_that_find_what_the_model_misses_keep_rules_and_model():
    # Half the positives only the rules find; the model finds the other half confidently.
    labels = [True] * 20 + [False] * 20
    probs = [0.9] * 10 + [0.3] * 10 + [0.2] * 20
    states = [None] * 10 + [combining.STRONG] * 10 + [None] * 20
    pick = suggesting.suggest(probs, states, labels)
    assert pick.mode == combining.RULES_AND_MODEL
    assert pick.f1 == 1.0
    # Above the negatives' 0.2, and never a level that publishes them.
    assert pick.publish_at > 0.2


def test_without_probabilities_every_mode_is_the_rules():
    labels = [True, True, False]
    states = [combining.STRONG, None, combining.STRONG]
    pick = suggesting.suggest([float("nan")] * 3, states, labels)
    assert {f1 for f1, _ in pick.per_mode.values()} == {0.5}
    # Ties go to the rules: a model that adds nothing measurable leaves the readable rules.
    assert pick.mode == combining.RULES


def test_a_model_no_better_than_the_rules_leaves_the_topic_on_its_rules():
    # The rules and the model both find exactly the positives.
    labels = [True] * 10 + [False] * 30
    probs = [0.9] * 10 + [0.05] * 30
    states = [combining.STRONG] * 10 + [None] * 30
    pick = suggesting.suggest(probs, states, labels)
    assert pick.f1 == 1.0
    assert pick.mode == combining.RULES


def test_the_veto_level_is_chosen_per_topic_from_its_own_articles():
    # Strong rule matches: 10 right ones the model scores 0.5 and 10 wrong ones it scores
    # 0.2 or 0.25. Only a veto above 0.25 keeps the wrong ones off.
    labels = [True] * 10 + [False] * 10 + [False] * 20
    probs = [0.5] * 10 + [0.2] * 5 + [0.25] * 5 + [0.01] * 20
    states = [combining.STRONG] * 20 + [None] * 20
    pick = suggesting.suggest(probs, states, labels, modes=[combining.RULES_AND_MODEL])
    assert pick.f1 == 1.0
    assert 0.25 < pick.veto_at <= 0.5
    # The same articles, but the model is wrong about the strong matches it scores lowest:
    # overruling them would lose positives, so the veto level stays at or below their 0.01.
    labels = [True] * 10 + [True] * 10 + [False] * 20
    probs = [0.5] * 10 + [0.01] * 10 + [0.0] * 20
    pick = suggesting.suggest(probs, states, labels, modes=[combining.RULES_AND_MODEL])
    assert pick.f1 == 1.0
    assert pick.veto_at <= 0.01


def test_many_at_once_vetoes_as_decide_does():
    states = np.asarray([combining.STRONG] * 4, dtype=object)
    probs = np.asarray([0.05, 0.15, 0.3, 0.7])
    for veto in suggesting.VETO_LEVELS:
        many = suggesting.published(combining.RULES_AND_MODEL, states, probs, 0.6, veto)
        one = [
            combining.published(
                combining.RULES_AND_MODEL, "strong", p, publish_at=0.6, veto_at=veto
            )
            for p in probs
        ]
        assert many.tolist() == one


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="unknown mode"):
        suggesting.published("magic", np.asarray(["strong"], object), np.asarray([0.5]), 0.5)
