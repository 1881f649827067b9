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


def test_a_topic_whose_rules_say_too_much_is_suggested_the_model_alone():
    # Rules match every article strongly; the model ranks the positives above 0.7.
    labels = [True] * 10 + [False] * 30
    probs = [0.9] * 10 + [0.2] * 30
    states = [combining.STRONG] * 40
    pick = suggesting.suggest(probs, states, labels)
    assert pick.mode == combining.MODEL
    assert pick.f1 == 1.0
    assert 0.2 < pick.publish_at <= 0.9
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
    # Ties go to the default mode.
    assert pick.mode == combining.RULES_AND_MODEL


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="unknown mode"):
        suggesting.published("magic", np.asarray(["strong"], object), np.asarray([0.5]), 0.5)
