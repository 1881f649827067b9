"""The story clusterer on a planted set: copies, rewrites, and different events sharing names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stories.clustering import StoryClusterer, StoryItem, cluster, terms
from stories.scoring import score

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

SEABED = (
    "Japan's research vessel Chikyu has recovered mud rich in rare earth elements from a depth "
    "of nearly six thousand metres off Minamitorishima, the government said on Monday, calling "
    "the test a first step towards domestic supply. Officials said the samples held yttrium and "
    "dysprosium at concentrations several times those of mines in southern China, and that a "
    "pilot lifting system would be tried in the coming year before any commercial decision."
)
SEABED_REWRITE = (
    "A Japanese drilling ship has brought up rare earth mud from the seabed near Minamitorishima, "
    "about 1,900 kilometres south-east of Tokyo. The Chikyu lifted the sediment from almost six "
    "kilometres down, and officials hope the deposit can cut reliance on Chinese supplies of "
    "dysprosium and yttrium used in magnets."
)
QUOTA = (
    "Japan will fund a rare earth stockpile and new separation plants under a package announced "
    "in Tokyo, after China tightened export licences for magnet metals last week. The trade "
    "ministry said the money would support recycling of magnets from old motors and joint "
    "ventures in Australia and Vietnam, and that stockpiles would cover sixty days of demand."
)
STRIKE = (
    "Dock workers at the port of Antwerp walked out for twenty-four hours on Tuesday over "
    "pensions, leaving container ships waiting at anchor in the Scheldt estuary. The union said "
    "further stoppages would follow next month if the government kept its reform plan."
)


def item(key, title, text="", *, hours=0.0, days=0, source="") -> StoryItem:
    return StoryItem(
        key=key,
        title=title,
        text=text,
        source=source,
        published=T0 + timedelta(days=days, hours=hours),
    )


def test_a_syndicated_copy_joins_its_original_whatever_its_headline():
    clusterer = StoryClusterer()
    first = clusterer.add(item("wire", "Japan lifts rare earth mud from deep seabed", SEABED))
    copy = clusterer.add(
        item("copy", "Deep-sea breakthrough for Tokyo", SEABED + " (Wire copy)", hours=2)
    )
    assert copy.story == first.story
    assert copy.near_duplicate_of == "wire"


def test_rewrites_of_one_event_by_different_outlets_form_one_story():
    labels = cluster(
        [
            item("a", "Japan recovers rare earth mud near Minamitorishima", SEABED, source="A"),
            item(
                "b",
                "Chikyu brings up rare earth sediment off Minamitorishima",
                SEABED_REWRITE,
                hours=5,
                source="B",
            ),
            item("c", "Antwerp dockers strike over pensions", STRIKE, hours=6, source="C"),
        ]
    )
    assert labels[0] == labels[1]
    assert labels[2] != labels[0]


def test_two_rare_earth_stories_about_japan_a_month_apart_stay_apart():
    labels = cluster(
        [
            item("seabed", "Japan recovers rare earth mud near Minamitorishima", SEABED),
            item(
                "seabed-2",
                "Chikyu brings up rare earth sediment off Minamitorishima",
                SEABED_REWRITE,
                hours=3,
            ),
            item("stockpile", "Japan to fund rare earth stockpile", QUOTA, days=31),
        ]
    )
    assert labels[0] == labels[1]
    assert labels[2] != labels[0]


def test_a_story_stops_taking_items_after_its_window():
    clusterer = StoryClusterer(window=timedelta(days=3))
    first = clusterer.add(item("a", "Antwerp dockers strike over pensions", STRIKE))
    later = clusterer.add(item("b", "Antwerp dockers strike over pensions", STRIKE, days=10))
    assert later.story != first.story
    assert clusterer.live_stories() == 1


def test_the_merge_pass_joins_stories_that_grew_alike():
    clusterer = StoryClusterer(threshold=0.9, merge_threshold=0.3)
    a = clusterer.add(item("a", "Sbarro files for Chapter 11 bankruptcy again"))
    b = clusterer.add(item("b", "Pizza chain Sbarro files for Chapter 11", hours=1))
    assert a.story != b.story  # the high threshold kept them apart in the single pass
    merged = clusterer.merge_pass()
    assert clusterer.story_of("a") == clusterer.story_of("b")
    assert merged


def test_names_and_numbers_weigh_more_than_common_words_in_a_sentence_case_title():
    bag = terms("Strike closes port of Antwerp for 24 hours")
    assert bag["antwerp"] > bag["port"]
    assert bag["24"] > bag["port"]
    # In Title Case every word is capitalised, so capitals say nothing there.
    title_case = terms("Strike Closes Port Of Antwerp")
    assert title_case["antwerp"] == title_case["port"]


def test_possessives_and_plurals_share_a_term():
    assert "snowden" in terms("Snowden's testimony")
    assert "claim" in terms("Japan claims seabed")


def test_bcubed_and_ari_on_known_clusterings():
    perfect = score(["x", "x", "y"], [1, 1, 2])
    assert (perfect.precision, perfect.recall, perfect.f1, perfect.ari) == (1.0, 1.0, 1.0, 1.0)
    lumped = score(["x", "x", "x", "x"], [1, 1, 2, 2])
    assert lumped.recall == 1.0
    assert lumped.precision == pytest.approx(0.5)
    assert lumped.ari == pytest.approx(0.0)
    with pytest.raises(ValueError, match="one predicted label"):
        score(["x"], [1, 2])
