"""The story clusterer on a planted set: copies, rewrites, and different events sharing names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stories.clustering import MemoryStore, StoryClusterer, StoryItem, cluster, terms
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


VALDMOOR_STRIKE = [
    "Port workers strike in Valdmoor over pension reform plans",
    "Valdmoor dock strike strands container ships",
    "Container ships wait at anchor as Valdmoor dockworkers walk out",
    "Pension row: Valdmoor port shut by 24-hour strike",
    "Unions threaten more Valdmoor port stoppages",
]


def test_a_one_headline_story_does_not_take_an_item_sharing_only_its_place_name():
    titles = [VALDMOOR_STRIKE[0], "Valdmoor flower show draws record crowds"]
    items = [item(n, title, hours=n) for n, title in enumerate(titles)]
    clusterer = StoryClusterer()
    strike, flowers = (clusterer.add(i) for i in items)
    assert flowers.story != strike.story
    # Under one bar for every story (the clusterer before the bar rose for small stories), the
    # shared name alone was enough: the flower show joined the strike.
    single_bar = StoryClusterer(small_story_margin=0.0)
    strike, flowers = (single_bar.add(i) for i in items)
    assert flowers.story == strike.story
    assert single_bar.threshold <= flowers.score < clusterer.threshold * 2


def test_a_grown_story_takes_a_report_that_a_one_headline_story_would_not():
    report = "Shipping lines divert cargo as strike drags on"
    clusterer = StoryClusterer()
    first = [clusterer.add(item(n, t, hours=n)) for n, t in enumerate(VALDMOOR_STRIKE)]
    late = clusterer.add(item("late", report, hours=6))
    assert late.story == first[0].story
    # It clears the bar of a five-member story, not that of a one-member one.
    bar_of_one = clusterer.threshold * (1 + clusterer.small_story_margin)
    assert clusterer.threshold <= late.score < bar_of_one
    alone = StoryClusterer()
    seed = alone.add(item(0, VALDMOOR_STRIKE[0]))
    assert alone.add(item("late", report, hours=6)).story != seed.story


def test_names_and_numbers_weigh_more_than_common_words_in_a_sentence_case_title():
    bag = terms("Strike closes port of Antwerp for 24 hours")
    assert bag["antwerp"] > bag["port"]
    assert bag["24"] > bag["port"]
    # In Title Case every word is capitalised, so capitals say nothing there.
    title_case = terms("Strike Closes Port Of Antwerp")
    assert title_case["antwerp"] == title_case["port"]


def test_a_stop_word_written_as_an_acronym_is_kept_but_not_weighed_up():
    # "US" is kept (it is not the pronoun), but it is in stories of every kind: weighed up as a
    # name it chained unrelated stories ("US stocks", "US bankruptcy") in the merge pass.
    bag = terms("Bitcoin exchange files for US bankruptcy after NSA probe")
    assert bag["us"] == bag["exchang"]
    assert bag["nsa"] > bag["exchang"]
    assert terms("Court ruling in U.S. case")["us"] == terms("Court ruling in U.S. case")["court"]


PUMP = [
    "Gas prices rise again across Texas",
    "Texas gas prices climb for a third week",
    "Gas prices up 10 cents in Houston",
    "Drivers pay more as gas prices jump in Dallas",
    "Gas prices near a year high in Austin",
    "Weekly gas prices rise in San Antonio",
]
PIPELINE = [
    "Poland urges Europe to buy natural gas from America",
    "Natural gas exports could loosen Russia's grip on Europe",
    "Germany's reliance on Russian natural gas worries Poland",
    "Europe weighs natural gas imports to cut Russian dependence",
    "Lithuania seeks natural gas terminal to counter Russia",
    "Russian natural gas pipeline talks delayed by Europe",
]


def test_a_word_the_stream_writes_in_phrases_counts_through_the_phrase():
    # "gas" in "gas prices" and in "natural gas": two events that share the head of two
    # phrases. Counted alone, it made these two stories 0.18 alike (the merge bar is 0.2, and
    # one bridging headline tipped them over on real headlines); through the phrases, far less.
    clusterer = StoryClusterer()
    for n, (pump, pipeline) in enumerate(zip(PUMP, PIPELINE, strict=True)):
        clusterer.add(item(("pump", n), pump, hours=n))
        clusterer.add(item(("pipeline", n), pipeline, hours=n + 0.5))
    pump, pipeline = clusterer.story_of(("pump", 0)), clusterer.story_of(("pipeline", 0))
    assert pump != pipeline
    assert {clusterer.story_of(("pump", n)) for n in range(len(PUMP))} == {pump}
    assert {clusterer.story_of(("pipeline", n)) for n in range(len(PIPELINE))} == {pipeline}
    assert clusterer._story_similarity(pump, pipeline) < 0.6 * clusterer.merge_threshold
    # Within one headline, the phrase carries what the word gave up.
    vector = clusterer.raw_vector(item("x", "Gas prices rise again across Texas"))
    assert vector["gas price"] > vector["gas"]
    assert vector["texa"] > vector["gas"]


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


# --- A planted set with full texts: four events, eleven articles, two of them copies ----------
# Every text here is written for this test. Two events share Japan and rare earths (the seabed
# find, and the stockpile package a month later); two share Antwerp (the dock strike, and the
# diamond fair ten days later). Titles come in sentence case and in Title Case, as outlets write
# them; two articles are headlines only.

STOCKPILE_REWRITE = (
    "Tokyo is setting aside money for a national stockpile of rare earth metals and for plants "
    "that separate them, the trade ministry said, days after Beijing made exporters of magnet "
    "metals apply for new licences. Part of the package goes to recycling magnets from scrapped "
    "motors, and part to mining ventures in Australia and Vietnam; the reserve is meant to last "
    "sixty days."
)
DIAMONDS = (
    "Antwerp's diamond bourses opened their spring fair on Wednesday with fewer buyers from India "
    "and the Gulf than last year, and dealers said prices for polished stones had slipped for a "
    "third month. The city's diamond office blamed laboratory-grown stones, which now make up "
    "close to a fifth of engagement rings sold in the United States."
)
STRIKE_REWRITE = (
    "Container ships queued in the Scheldt on Tuesday as dockers in Antwerp stopped work for a "
    "day in protest at the government's pension reform. Union leaders warned of more walkouts "
    "next month; the port authority said about forty vessels were delayed."
)
WIRE_FOOTER = " Reporting by a staff correspondent; editing by the desk. All rights reserved."

PLANTED = [
    # (key, event, days after T0, source, title, text)
    ("seabed-wire", "seabed", 0.0, "Wire", "Japan lifts rare earth mud from deep seabed", SEABED),
    (
        "seabed-copy",
        "seabed",
        0.1,
        "Regional Daily",
        "Deep-Sea Breakthrough For Tokyo",
        SEABED + WIRE_FOOTER,
    ),
    (
        "seabed-rewrite",
        "seabed",
        0.3,
        "Science Weekly",
        "Chikyu brings up rare earth sediment off Minamitorishima",
        SEABED_REWRITE,
    ),
    (
        "seabed-headline",
        "seabed",
        0.5,
        "Markets Brief",
        "Japan's Minamitorishima Rare Earth Mud: What The Chikyu Found",
        "",
    ),
    ("strike", "strike", 0.6, "Port News", "Antwerp dockers strike over pensions", STRIKE),
    (
        "strike-rewrite",
        "strike",
        0.7,
        "Benelux Times",
        "Ships Wait In The Scheldt As Antwerp Dockers Walk Out",
        STRIKE_REWRITE,
    ),
    (
        "diamonds",
        "diamonds",
        10.0,
        "Jewellery Trade",
        "Antwerp diamond fair opens to thin crowds",
        DIAMONDS,
    ),
    (
        "stockpile",
        "stockpile",
        31.0,
        "Wire",
        "Japan to fund rare earth stockpile after China export curbs",
        QUOTA,
    ),
    (
        "stockpile-copy",
        "stockpile",
        31.1,
        "Evening Post",
        "Tokyo Answers Beijing",
        QUOTA + WIRE_FOOTER,
    ),
    (
        "stockpile-rewrite",
        "stockpile",
        31.3,
        "Asia Economy",
        "Tokyo sets aside money for rare earth reserve and separation plants",
        STOCKPILE_REWRITE,
    ),
    (
        "diamonds-headline",
        "diamonds",
        11.4,
        "City Desk",
        "Lab-Grown Stones Keep Buyers Away From Antwerp Diamond Fair",
        "",
    ),
]


def planted_items() -> list[StoryItem]:
    """The planted set in arrival order."""
    return planted_within_one_window({})


def test_the_planted_set_clusters_into_its_four_events():
    items = planted_items()
    labels = cluster(items)
    event = {key: event for key, event, *_ in PLANTED}
    events = [event[item.key] for item in items]
    got = {item.key: label for item, label in zip(items, labels, strict=True)}
    # Every event is one story, and no two events share one: the partition is exact.
    assert score(labels, events).f1 == 1.0, got


def test_copies_in_the_planted_set_are_found_as_near_duplicates():
    clusterer = StoryClusterer()
    found = {item.key: clusterer.add(item).near_duplicate_of for item in planted_items()}
    assert found["seabed-copy"] == "seabed-wire"
    assert found["stockpile-copy"] == "stockpile"
    # A rewrite in other words is not a copy: it must join on its terms, not its shingles.
    assert found["seabed-rewrite"] is None
    assert found["stockpile-rewrite"] is None


def planted_within_one_window(shift: dict[str, float]) -> list[StoryItem]:
    """The planted set in arrival order, with some events moved by ``shift`` days."""
    return sorted(
        (
            StoryItem(
                key=key,
                title=title,
                text=text,
                source=source,
                published=T0 + timedelta(days=days + shift.get(event, 0.0)),
            )
            for key, event, days, source, title, text in PLANTED
        ),
        key=lambda item: item.published,
    )


@pytest.mark.xfail(
    strict=True,
    reason="known limit: inside one window, bag-of-words similarity cannot tell a second event "
    "on the same subject from a rewrite of the first (both score about 0.35 against the story)",
)
def test_two_rare_earth_stories_about_japan_two_days_apart_stay_apart():
    items = planted_within_one_window({"stockpile": -29.0})  # two days after the seabed find
    labels = dict(zip([item.key for item in items], cluster(items), strict=True))
    assert labels["seabed-wire"] == labels["seabed-rewrite"]
    assert labels["seabed-wire"] != labels["stockpile"]


def test_two_antwerp_stories_a_day_apart_stay_apart():
    # A known limit before joins asked more of a small story: the diamond fair's headline
    # shares only "Antwerp" with the strike's story of two members, and that used to be enough.
    items = planted_within_one_window({"diamonds": -9.0})  # the day after the strike
    labels = dict(zip([item.key for item in items], cluster(items), strict=True))
    assert labels["strike"] == labels["strike-rewrite"]
    assert labels["strike"] != labels["diamonds"]


def test_an_acronym_in_capitals_is_a_term_even_where_its_lower_case_is_a_stop_word():
    assert "us" in terms("Mt. Gox seeks US court protection")
    assert "us" in terms("Mt.Gox files for bankruptcy in the U.S.")
    assert "us" not in terms("Tell us what you think")


def test_dotted_and_hyphenated_names_meet_their_spaced_forms():
    assert {"mt", "gox"} <= terms("Mt.Gox files for bankruptcy").keys()
    assert {"mt", "gox"} <= terms("Mt. Gox files for bankruptcy").keys()
    assert {"chiquita", "fyff"} <= terms("Chiquita-Fyffes merger").keys()
    assert "7.1" in terms("Apple releases iOS 7.1")


def test_inflections_share_a_stem():
    assert terms("Sbarro files for bankruptcy").keys() & terms(
        "Sbarro filed for bankruptcy"
    ).keys() >= {"file"}
    assert "sanction" in terms("EU prepares sanctions")


class _ReversedStore(MemoryStore):
    """A store that hands centroids back in another order than it was given them, as a
    database does when its plan changes."""

    def centroid(self, story_id):
        return dict(reversed(super().centroid(story_id).items()))

    def partial_centroids(self, story_ids, terms):
        return {
            s: (norm, dict(reversed(weights.items())))
            for s, (norm, weights) in super().partial_centroids(story_ids, terms).items()
        }


def test_decisions_and_exact_scores_do_not_depend_on_the_order_a_store_returns_rows_in():
    runs = []
    for store in (MemoryStore(), _ReversedStore()):
        clusterer = StoryClusterer(store=store)
        placed = [clusterer.add(i) for i in planted_items() * 3]
        merged = clusterer.merge_pass()
        runs.append(([(a.story, a.score, a.near_duplicate_of) for a in placed], merged))
    assert runs[0] == runs[1]
