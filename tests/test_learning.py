"""The pure learner and the combination rules, without the database."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tags import combining, learning
from tags.combining import MODEL, RULES, RULES_AND_MODEL, STRONG, WEAK, Action, decide
from tests.labelled import records

CODES = {"cof": "coffee", "volc": "volcano"}


def examples(n_each: int = 14, seed: int = 1) -> list[learning.LabelledText]:
    return [
        learning.LabelledText(
            r["title"],
            "",
            r["body"],
            frozenset(CODES[c] for c in r["topics"] if c in CODES),
        )
        for r in records(n_each, seed)
    ]


@pytest.fixture(scope="module")
def model() -> learning.TopicModel:
    return learning.fit(examples(), ["coffee", "volcano", "tides"])


def test_fit_learns_each_topic_and_skips_one_without_positives(model):
    assert model.topics == ("coffee", "volcano")
    assert "tides" in model.skipped
    assert "0 labelled articles" in model.skipped["tides"]
    assert model.positives == {"coffee": 14, "tides": 0, "volcano": 14}
    assert model.n_examples == 56


def test_predict_gives_probabilities_and_the_terms_that_weighed_most(model):
    scores = model.predict(
        title="Harvest worries",
        text="Arabica growers fear frost; roasters pay more for beans and espresso blends.",
    )
    assert set(scores) == {"coffee", "volcano"}
    assert scores["coffee"].probability > 0.6
    assert scores["volcano"].probability < 0.4
    terms = [t for t, _ in scores["coffee"].terms]
    assert terms and set(terms) & {"arabica", "roasters", "espresso", "beans", "frost"}
    weights = [w for _, w in scores["coffee"].terms]
    assert weights == sorted(weights, reverse=True)


def test_min_probability_leaves_out_unlikely_topics(model):
    scores = model.predict(text="Ash and lava: the volcano erupted.", min_probability=0.5)
    assert list(scores) == ["volcano"]


def test_batch_and_single_predictions_agree(model):
    docs = ["Coffee beans and roasters.", "Lava and magma under the crater.", "Bus contract."]
    batch = model.probabilities(model.vectorize(docs))
    for row, doc in enumerate(docs):
        single = model.predict(text=doc)
        assert single["coffee"].probability == pytest.approx(batch[row, 0], abs=1e-5)


def test_features_match_scikit_learn(model):
    vec = learning._vectorizer(model.options)
    docs = [learning.document(e.title, e.summary, e.text) for e in examples()]
    vec.fit(docs)
    assert tuple(vec.get_feature_names_out()) == model.terms
    ours = model.vectorize(docs[:5]).toarray()
    theirs = vec.transform(docs[:5]).toarray()
    np.testing.assert_allclose(ours, theirs, atol=1e-6)


def test_round_trip_keeps_predictions_and_metadata(model):
    loaded = learning.TopicModel.from_bytes(model.to_bytes())
    assert loaded.version == model.version
    assert loaded.topics == model.topics
    assert loaded.skipped == model.skipped
    assert loaded.positives == model.positives
    text = "Roasters buy beans while lava reaches the village."
    a, b = model.predict(text=text), loaded.predict(text=text)
    for topic in model.topics:
        assert a[topic].probability == pytest.approx(b[topic].probability)
        assert a[topic].terms == b[topic].terms


def test_versions_differ_between_fits():
    a = learning.fit(examples(), ["coffee"])
    b = learning.fit(examples(), ["coffee"])
    assert a.version != b.version


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b"not a zip at all", "not a topic model file"),
        (lambda b: b[: len(b) // 2], "not a topic model file"),
    ],
)
def test_a_damaged_file_fails_with_a_clear_error(model, damage, message):
    with pytest.raises(learning.ModelLoadError, match=message):
        learning.TopicModel.from_bytes(damage(model.to_bytes()))


# 1: the format before calibration (bigram features, no suggested publish levels).
@pytest.mark.parametrize("version", [1, 99])
def test_a_file_from_another_format_version_is_refused(model, tmp_path, version):
    import io
    import json

    with np.load(io.BytesIO(model.to_bytes()), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(arrays["header"].tobytes())
    header["format_version"] = version
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with pytest.raises(learning.ModelLoadError, match=f"format version {version}.*retrain"):
        learning.TopicModel.from_bytes(buf.getvalue())


def test_pruning_keeps_the_strongest_terms_per_topic():
    small = learning.fit(examples(), ["coffee"], learning.Options(max_terms_per_topic=5))
    assert small.coef.nnz <= 5
    coffee = small.predict(title="Bean prices move", text="Roasters buy more.")
    council = small.predict(text="The council approved a budget for road repairs.")
    assert coffee["coffee"].probability > council["coffee"].probability


def test_decisions_label_only_their_topic():
    base = examples()
    # An editor added "coffee" to an article about lava: it says nothing about "volcano".
    extra = learning.LabelledText(
        "Lava note", "", "Lava flows and ash.", frozenset({"coffee"}), only=frozenset({"coffee"})
    )
    model = learning.fit([*base, extra], ["coffee", "volcano"])
    assert model.positives["coffee"] == 15


def test_kfold_covers_every_example_once():
    tests = [test for _, test in learning.kfold(23, 5)]
    assert sorted(np.concatenate(tests).tolist()) == list(range(23))
    for train, test in learning.kfold(23, 5):
        assert not set(train) & set(test)


def test_time_split_trains_on_the_older_part():
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 1, 1, tzinfo=UTC)
    items = [
        learning.LabelledText(str(i), date=start + timedelta(days=(i * 7) % 10)) for i in range(10)
    ]
    train, test = learning.time_split(items, 0.8)
    assert len(train) == 8 and len(test) == 2
    assert max(items[i].date for i in train) <= min(items[i].date for i in test)


def test_out_of_fold_probabilities_never_come_from_a_model_that_saw_the_example():
    items = examples(n_each=20)
    probs = learning.out_of_fold(items, ["coffee"], learning.kfold(len(items), 4))
    assert probs.shape == (len(items), 1)
    assert not np.isnan(probs).any()
    per = {"coffee": learning.Counts()}
    for row, e in enumerate(items):
        per["coffee"].add(probs[row, 0] >= 0.5, "coffee" in e.topics)
    assert per["coffee"].f1 > 0.8


def test_out_of_fold_leaves_nan_where_a_fold_had_too_few_positives():
    items = examples(n_each=11)
    probs = learning.out_of_fold(items, ["coffee"], learning.kfold(len(items), 2))
    assert np.isnan(probs).any()


def test_counts_give_precision_recall_and_f1():
    c = learning.Counts(tp=8, fp=2, fn=8)
    assert (c.precision, c.recall) == (0.8, 0.5)
    assert c.f1 == pytest.approx(2 * 0.8 * 0.5 / 1.3)
    assert learning.Counts().f1 == 0.0


# --- combining -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "rule", "p", "action", "by"),
    [
        (RULES, STRONG, 0.01, Action.PUBLISH, "rule"),
        (RULES, WEAK, 0.99, Action.WEAK, ""),
        (RULES, None, 0.99, Action.DROP, ""),
        (RULES_AND_MODEL, STRONG, 0.2, Action.PUBLISH, "rule"),
        # The model vetoes a strong match only when very sure (below the veto level).
        (RULES_AND_MODEL, STRONG, 0.01, Action.WEAK, ""),
        (RULES_AND_MODEL, WEAK, 0.9, Action.PUBLISH, "model"),
        (RULES_AND_MODEL, WEAK, 0.5, Action.REVIEW, ""),
        (RULES_AND_MODEL, WEAK, 0.1, Action.WEAK, ""),
        (RULES_AND_MODEL, None, 0.9, Action.PUBLISH, "model"),
        (RULES_AND_MODEL, None, 0.5, Action.REVIEW, ""),
        (RULES_AND_MODEL, None, 0.1, Action.DROP, ""),
        (MODEL, STRONG, 0.1, Action.WEAK, ""),
        (MODEL, None, 0.9, Action.PUBLISH, "model"),
        (MODEL, None, 0.5, Action.REVIEW, ""),
        (MODEL, None, 0.1, Action.DROP, ""),
        # No model for the topic: the rules decide, whatever the mode.
        (MODEL, STRONG, None, Action.PUBLISH, "rule"),
        (RULES_AND_MODEL, WEAK, None, Action.WEAK, ""),
    ],
)
def test_decide(mode, rule, p, action, by):
    decision = decide(mode, rule, p, publish_at=0.6, review_at=0.35)
    assert decision.action == action
    assert decision.by == by
    assert decision.reason


def test_decide_says_why():
    assert "vetoed" in decide(RULES_AND_MODEL, WEAK, 0.1).reason
    assert "missed" in decide(RULES_AND_MODEL, None, 0.9).reason
    assert "no model" in decide(MODEL, None, None).reason
    assert "0.90" in decide(MODEL, None, 0.9).reason


def test_the_publish_level_itself_publishes():
    assert decide(MODEL, None, 0.6, publish_at=0.6, review_at=0.35).action == Action.PUBLISH
    assert decide(MODEL, None, 0.35, publish_at=0.6, review_at=0.35).action == Action.REVIEW


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="unknown mode"):
        decide("magic", None, 0.5)


def test_published_helper_matches_decide():
    assert combining.published(MODEL, None, 0.9)
    assert not combining.published(RULES, WEAK, 0.9)


def test_the_model_vetoes_a_strong_rule_match_only_below_the_veto_level_and_says_so():
    vetoed = decide(RULES_AND_MODEL, STRONG, 0.03, veto_at=0.05)
    assert vetoed.action == Action.WEAK
    assert vetoed.reason == "strong rule match vetoed by the model (0.03)"
    assert decide(RULES_AND_MODEL, STRONG, 0.05, veto_at=0.05).action == Action.PUBLISH
    assert decide(RULES_AND_MODEL, STRONG, 0.03, veto_at=0.0).action == Action.PUBLISH
    # The editor's mode choice stays: on rules alone the model never vetoes.
    assert decide(RULES, STRONG, 0.001).action == Action.PUBLISH


def test_fit_calibrates_and_suggests_a_publish_level_per_topic(model):
    assert set(model.publish_at) == {"coffee", "volcano"}
    assert all(0.05 <= level <= 0.95 for level in model.publish_at.values())
    loaded = learning.TopicModel.from_bytes(model.to_bytes())
    assert loaded.publish_at == model.publish_at
    uncalibrated = learning.fit(examples(), ["coffee"], learning.Options(calibration_folds=0))
    assert uncalibrated.publish_at == {"coffee": 0.5}


def test_score_then_explain_agrees_with_predict(model):
    article = {"title": "Harvest worries", "text": "Arabica growers fear frost; roasters pay more."}
    scored = model.score(**article, min_probability=0.99, include=["volcano"])
    assert "volcano" in scored.probabilities
    full = model.predict(**article)
    assert scored.probabilities["volcano"] == pytest.approx(full["volcano"].probability)
    # Equal weights may come in either order.
    assert dict(model.explain(scored, ["coffee"])["coffee"]) == dict(full["coffee"].terms)


def test_bigram_models_still_work():
    bigrams = learning.fit(examples(), ["coffee"], learning.Options(ngram_max=2))
    assert any(" " in term for term in bigrams.terms)
    loaded = learning.TopicModel.from_bytes(bigrams.to_bytes())
    doc = {"title": "Harvest", "text": "Arabica growers and coffee roasters."}
    assert loaded.predict(**doc)["coffee"].probability == pytest.approx(
        bigrams.predict(**doc)["coffee"].probability
    )


def test_act_is_decide_without_the_reason():
    from tags.combining import MODES, STRONG, WEAK, act, decide

    for mode, rule, probability, levels in itertools.product(
        MODES,
        (STRONG, WEAK, None),
        (None, 0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.6, 0.9),
        ((0.6, 0.35, 0.1), (0.3, 0.3, 0.0), (0.5, 0.2, 0.3), (0.9, 0.5, 0.5)),
    ):
        publish_at, review_at, veto_at = levels
        decision = decide(
            mode, rule, probability, publish_at=publish_at, review_at=review_at, veto_at=veto_at
        )
        assert act(mode, rule, probability, *levels) == (decision.action, decision.by), (
            mode,
            rule,
            probability,
            levels,
        )
