"""bench/tagging_quality.py: the taggers choose their thresholds, modes and levels from the
training part only. Pure (no database), on the invented archive of ``tests.labelled``."""

from __future__ import annotations

from dataclasses import replace

from bench import tagging_quality as tq
from tests.labelled import records

TOPICS = [
    tq.Topic("cof", "Coffee", ("coffee", "arabica"), (), ()),
    tq.Topic("volc", "Volcano", ("volcano", "eruption"), (), ()),
]


def stories() -> list[tq.Story]:
    return [
        tq.Story(
            r["id"], r["title"], r["body"], frozenset(r["topics"]) & {"cof", "volc"}, r["date"]
        )
        for r in records(30, seed=5)
    ]


def test_the_test_parts_labels_change_nothing_any_tagger_publishes():
    [(train, test)] = tq.time_split(stories())
    # Every label of the test part flipped: a tagger that looked at them would change.
    flipped = [replace(s, topics=frozenset({"cof", "volc"}) - s.topics) for s in test]
    for name, make in tq.build_taggers(TOPICS).items():
        predict = make(train)
        before = [predict(s) for s in test]
        # A fresh table of taggers, so nothing is cached from the first run.
        predict_again = tq.build_taggers(TOPICS)[name](train)
        assert [predict_again(s) for s in flipped] == before, name


def test_the_validation_split_lies_inside_the_older_part():
    everything = stories()
    [(older, newest)] = tq.time_split(everything)
    [(inner_train, inner_test)] = tq.time_split(older)
    assert {s.id for s in inner_train} | {s.id for s in inner_test} == {s.id for s in older}
    assert max(s.date for s in inner_test) <= min(s.date for s in newest)
