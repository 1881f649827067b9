"""Summaries: editor's, feed's, meta description's or the lead, in whole sentences."""

import pytest

from articles.summary import (
    MAX_SUMMARY_CHARS,
    clean_feed_summary,
    make_summary,
    split_sentences,
    strip_dateline,
)

TEXT = (
    "Refiners in Malaysia processed more neodymium oxide this quarter than in any quarter "
    "on record. The plant's owner said new solvent extraction lines were running at full rate. "
    "Buyers in Japan signed two long-term contracts. Analysts expect a further expansion next "
    "year.\n\nA second paragraph talks about magnet makers."
)
FEED = (
    "<p>Malaysian output of separated rare earths hit a record as new lines started. "
    "Japanese buyers locked in supply for five years.</p>"
)


def test_it_prefers_the_editors_summary() -> None:
    assert make_summary(editor=" Our own  words. ", feed=FEED, text=TEXT) == (
        "Our own words.",
        "editor",
    )


def test_it_uses_a_real_feed_summary_with_html_stripped() -> None:
    summary, source = make_summary(feed=FEED, description="Meta text here.", text=TEXT)
    assert source == "feed"
    assert summary.startswith("Malaysian output of separated rare earths hit a record")
    assert "<p>" not in summary


@pytest.mark.parametrize(
    "feed",
    [
        "Refiners in Malaysia processed more neodymium oxide this quarter than in any […]",
        "Refiners in Malaysia processed more neodymium oxide this quarter than in any...",
        "Refiners in Malaysia processed more neodymium oxide this quarter than in any quarter",
        "Read more…",
        "Continue reading",
        "Short teaser.",
        "Record rare earth output in Malaysia",
        "Refiners in Malaysia processed more neodymium oxide this quarter &#8230; "
        "<p>The post Record output appeared first on Metals Blog.</p>",
    ],
)
def test_it_skips_feed_text_that_is_not_a_real_summary(feed: str) -> None:
    summary, source = make_summary(
        feed=feed, text=TEXT, title="Record rare earth output in Malaysia"
    )
    assert source == "lead"
    assert summary.startswith("Refiners in Malaysia processed more neodymium oxide")


def test_it_strips_a_wordpress_trailer_and_keeps_the_real_summary() -> None:
    feed = (
        "Malaysian output of separated rare earths hit a record as new lines started. "
        "The post Record output appeared first on Metals Blog."
    )
    summary, source = make_summary(feed=feed, text=TEXT)
    assert (summary, source) == (
        "Malaysian output of separated rare earths hit a record as new lines started.",
        "feed",
    )


def test_it_falls_back_to_the_meta_description() -> None:
    description = (
        "Malaysia refined record volumes of rare earths; Japanese buyers signed contracts."
    )
    assert make_summary(feed="Read more…", description=description, text=TEXT) == (
        description,
        "meta",
    )


def test_the_lead_is_at_most_three_whole_sentences() -> None:
    summary, source = make_summary(text=TEXT)
    assert source == "lead"
    assert len(split_sentences(summary)) <= 3
    assert summary.endswith("contracts.")
    assert len(summary) <= MAX_SUMMARY_CHARS


def test_it_never_cuts_a_long_sentence_mid_word() -> None:
    text = "Gallium " + " ".join(["supply from refiners"] * 40) + " fell."
    summary, _ = make_summary(text=text)
    assert len(summary) <= MAX_SUMMARY_CHARS
    assert summary.endswith("…")
    assert summary[:-1].split()[-1] in {"supply", "from", "refiners"}


def test_it_skips_bylines_before_the_lead() -> None:
    summary, _ = make_summary(text="By Ana Ruiz\n\nUpdated 3 hours ago\n\n" + TEXT)
    assert summary.startswith("Refiners in Malaysia")


@pytest.mark.parametrize(
    ("dateline", "rest"),
    [
        ("TOKYO, Dec 23 (Reuters) - ", "Japan will fund a seabed trial."),
        ("WASHINGTON (AP) — ", "The Commerce Department added chip tools."),
        ("LONDON, March 3 - ", "Tin prices rose."),
        ("(Reuters) - ", "Lynas said output rose."),
        ("SAN JOSE, Calif. (AP) — ", "A chipmaker said orders slowed."),
    ],
)
def test_it_strips_datelines(dateline: str, rest: str) -> None:
    assert strip_dateline(dateline + rest) == rest
    summary, _ = make_summary(text=dateline + rest + " " + TEXT)
    assert summary.startswith(rest)


def test_it_leaves_ordinary_openings_alone() -> None:
    assert (
        strip_dateline("China - the largest refiner - said") == "China - the largest refiner - said"
    )


def test_split_sentences_handles_abbreviations_and_decimals() -> None:
    text = (
        "Mr. Tanaka met U.S. officials on Dec. 23 in Washington. Exports fell 3.5% in "
        "November. The rule is No. 5 on the list! Was it enough? J. Smith said no."
    )
    assert split_sentences(text) == [
        "Mr. Tanaka met U.S. officials on Dec. 23 in Washington.",
        "Exports fell 3.5% in November.",
        "The rule is No. 5 on the list!",
        "Was it enough?",
        "J. Smith said no.",
    ]


def test_split_sentences_handles_japanese_punctuation() -> None:
    assert split_sentences("輸出が減少した。政府は対策を発表した\uff01") == [
        "輸出が減少した。",
        "政府は対策を発表した\uff01",
    ]


def test_clean_feed_summary_strips_tags_scripts_and_entities() -> None:
    html = "<div>Rare&nbsp;earths &amp; <b>magnets</b>\n<script>alert(1)</script> &#8211; ok</div>"
    assert clean_feed_summary(html) == "Rare earths & magnets \u2013 ok"


def test_nothing_in_gives_nothing_out() -> None:
    assert make_summary() == ("", "")
