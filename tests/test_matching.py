import pickle

import pytest

from tags.matching import Matcher, Rule, TagMatch

RARE_EARTHS = Rule(tag_id=1, name="Rare earths", aliases=("REE",))
CHINA = Rule(tag_id=2, name="China")
LITHIUM = Rule(tag_id=3, name="lithium")


def tag_ids(matches: list[TagMatch]) -> list[int]:
    return [m.tag_id for m in matches]


def only(matches: list[TagMatch]) -> TagMatch:
    assert len(matches) == 1, matches
    return matches[0]


@pytest.fixture
def matcher() -> Matcher:
    return Matcher([RARE_EARTHS, CHINA, LITHIUM])


@pytest.mark.parametrize(
    "text",
    [
        "rare\u2011earth magnets",  # non-breaking hyphen
        "rare\u2013earth magnets",  # en dash
        "rare\u2212earth magnets",  # minus sign
        "rare\u00adearth magnets",  # soft hyphen: rare·earth is one word, see below
        "\uff52\uff41\uff52\uff45 \uff45\uff41\uff52\uff54\uff48",  # fullwidth letters
        "RARE   EARTHS\n",
        "rare-earths",
        "rare earth\u2019s",
    ],
)
def test_it_finds_an_alias_in_every_unicode_spelling(matcher: Matcher, text: str) -> None:
    found = matcher.match(text=text)
    if "\u00ad" in text:
        # A soft hyphen only marks a line-break opportunity: the word is "rareearth".
        assert tag_ids(found) == []
    else:
        assert tag_ids(found) == [1]


def test_it_matches_a_possessive_with_a_curly_apostrophe(matcher: Matcher) -> None:
    assert tag_ids(matcher.match(text="China\u2019s quotas")) == [2]


def test_it_does_not_match_a_plural_it_was_told_to_keep_exact() -> None:
    exact = Matcher([Rule(tag_id=2, name='"China"')])
    assert tag_ids(exact.match(text="Chinas")) == []
    assert tag_ids(exact.match(text="China\u2019s")) == [2]


def test_it_matches_singular_and_plural_of_the_last_word() -> None:
    m = Matcher([Rule(tag_id=5, name="supply chains"), Rule(tag_id=6, name="policy")])
    assert tag_ids(m.match(text="one supply chain, new policies")) == [5, 6]


@pytest.mark.parametrize("text", ["a street party", "the reel", "Greek", "rare earthquake"])
def test_it_matches_whole_words_only(matcher: Matcher, text: str) -> None:
    assert matcher.match(text=text) == []


def test_it_counts_an_acronym_and_its_plural(matcher: Matcher) -> None:
    assert only(matcher.match(text="REE supply; REEs demand")).terms == {"REE": 2}


def test_it_reports_terms_as_the_editor_wrote_them(matcher: Matcher) -> None:
    found = only(matcher.match(text="rare earth, rare-earths and Rare Earth"))
    assert found.terms == {"Rare earths": 3}


def test_it_weighs_a_title_hit_more_than_a_body_hit(matcher: Matcher) -> None:
    in_title = only(matcher.match(title="Lithium prices", text="nothing"))
    in_body = only(matcher.match(title="Prices", text="lithium"))
    assert in_title.score > in_body.score
    assert in_title.in_title
    assert not in_body.in_title


def test_it_caps_a_repeated_term(matcher: Matcher) -> None:
    spam = only(matcher.match(text="lithium " * 500))
    assert spam.terms == {"lithium": 500}
    assert spam.score == 3.0
    assert spam.score == only(matcher.match(title="lithium")).score


def test_it_sorts_by_score_then_tag_id(matcher: Matcher) -> None:
    found = matcher.match(title="China", text="lithium rare earths")
    assert tag_ids(found) == [2, 1, 3]


def test_it_vetoes_a_topic_when_an_exclusion_occurs() -> None:
    rule = Rule(tag_id=1, name="rare earths", exclusions=("rare earth trivia night",))
    m = Matcher([rule, LITHIUM])
    text = "Join our rare-earth trivia nights! Lithium too."
    assert tag_ids(m.match(text=text)) == [3]
    vetoed = next(x for x in m.match(text=text, explain=True) if x.tag_id == 1)
    assert vetoed.vetoed_by == "rare earth trivia night"
    assert vetoed.terms == {"rare earths": 1}


def test_it_vetoes_even_when_the_exclusion_is_in_the_title_only() -> None:
    m = Matcher([Rule(tag_id=1, name="lithium", exclusions=("quiz",))])
    assert m.match(title="Weekly quiz", text="lithium lithium") == []


def test_it_filters_by_min_score_unless_explaining() -> None:
    m = Matcher([Rule(tag_id=3, name="lithium", min_score=3.0)])
    assert m.match(text="lithium and lithium") == []
    below = only(m.match(text="lithium and lithium", explain=True))
    assert below.score == 2.0
    assert below.vetoed_by is None
    assert tag_ids(m.match(text="lithium lithium lithium")) == [3]


def test_it_ignores_the_body_for_a_title_and_summary_only_topic() -> None:
    m = Matcher([Rule(tag_id=3, name="lithium", title_and_summary_only=True)])
    assert m.match(text="lithium lithium") == []
    found = only(m.match(summary="About lithium.", text="lithium"))
    assert found.terms == {"lithium": 1}
    assert found.score == 2.0


def test_it_matches_keywords_like_a_title_hit(matcher: Matcher) -> None:
    found = matcher.match(keywords=["#RareEarths", "Mining"])
    assert tag_ids(found) == [1]
    assert found[0].score == 3.0
    assert not found[0].in_title


@pytest.mark.parametrize("keyword", ["#RareEarths", "#rare_earths", "#rareearths", "rare earth"])
def test_it_reads_every_hashtag_spelling(matcher: Matcher, keyword: str) -> None:
    assert only(matcher.match(keywords=[keyword])).terms == {"Rare earths": 1}


def test_it_does_not_match_run_together_forms_in_body_text(matcher: Matcher) -> None:
    assert matcher.match(text="rareearths") == []


def test_it_counts_an_alias_inside_a_longer_alias_only_once() -> None:
    m = Matcher([Rule(tag_id=1, name="rare earth", aliases=("rare earth elements", "earth"))])
    found = only(m.match(text="rare earth elements and rare earth, earth"))
    assert found.terms == {"rare earth elements": 1, "rare earth": 1, "earth": 1}


def test_it_shares_an_alias_between_a_topic_with_nested_aliases_and_a_plain_one() -> None:
    nested = Rule(tag_id=1, name="rare earth", aliases=("earth",))
    plain = Rule(tag_id=2, name="earth")
    found = {m.tag_id: m.terms for m in Matcher([nested, plain]).match(text="rare earth, earth")}
    assert found == {1: {"rare earth": 1, "earth": 1}, 2: {"earth": 2}}


def test_it_reports_terms_in_the_order_the_editor_wrote_them() -> None:
    m = Matcher([Rule(tag_id=1, name="lithium", aliases=("cobalt", "nickel"))])
    assert list(only(m.match(text="nickel, cobalt and lithium")).terms) == [
        "lithium",
        "cobalt",
        "nickel",
    ]


def test_it_lets_two_topics_share_an_occurrence() -> None:
    m = Matcher([Rule(tag_id=1, name="rare earth"), Rule(tag_id=2, name="earth")])
    assert tag_ids(m.match(text="rare earth")) == [1, 2]


def test_it_matches_case_sensitive_aliases_exactly() -> None:
    m = Matcher([Rule(tag_id=7, name="United States", case_sensitive_aliases=("US",))])
    assert m.match(text="tell us more") == []
    assert only(m.match(text="The US\u2019s tariffs and us")).terms == {"US": 1}


def test_it_finds_aliases_in_scripts_without_spaces() -> None:
    m = Matcher([Rule(tag_id=8, name="\u7a00\u571f")])
    assert tag_ids(m.match(text="\u4e2d\u56fd\u7a00\u571f\u51fa\u53e3")) == [8]


def test_it_matches_right_to_left_text_with_bidi_marks() -> None:
    lithium = "\u0644\u064a\u062b\u064a\u0648\u0645"
    m = Matcher([Rule(tag_id=9, name=lithium)])
    # RLM mark, "prices of the-lithium" (article glued on: another word), then "lithium" + comma.
    text = f"\u200f\u0623\u0633\u0639\u0627\u0631 \u0627\u0644{lithium} {lithium}\u060c"
    assert only(m.match(text=text)).terms == {lithium: 1}


def test_it_treats_a_combining_mark_as_part_of_the_word() -> None:
    m = Matcher([Rule(tag_id=10, name="cafe"), Rule(tag_id=11, name="caf\u00e9")])
    assert tag_ids(m.match(text="cafe\u0301")) == [11]


def test_it_survives_emoji_and_text_without_letters(matcher: Matcher) -> None:
    assert matcher.match(title="", summary="", text="") == []
    assert matcher.match(text="!!! ... \u2014 123 \U0001f600\U0001f600") == []
    assert tag_ids(matcher.match(text="\u26a1\ufe0flithium\U0001f50b")) == [3]


def test_it_counts_correctly_in_a_five_megabyte_text(matcher: Matcher) -> None:
    chunk = "Filler words about markets \u2014 lithium, China\u2019s REE output; streets. "
    text = chunk * (5_000_000 // len(chunk))
    repeats = text.count(chunk)
    found = {m.tag_id: m.terms for m in matcher.match(text=text)}
    assert found == {1: {"REE": repeats}, 2: {"China": repeats}, 3: {"lithium": repeats}}


def test_it_highlights_spans_over_the_original_text(matcher: Matcher) -> None:
    text = "\uff23hina\u2019s rare\u2011earth\u00a0magnets and cafe\u0301 lithium"
    spans = matcher.highlight_terms(text)
    assert [(text[s:e], tag) for s, e, tag in spans] == [
        ("\uff23hina", 2),
        ("rare\u2011earth", 1),
        ("lithium", 3),
    ]


def test_it_highlights_only_the_requested_topics(matcher: Matcher) -> None:
    spans = matcher.highlight_terms("China and lithium", tag_ids=[3])
    assert spans == [(10, 17, 3)]


def test_it_survives_pickling(matcher: Matcher) -> None:
    clone = pickle.loads(pickle.dumps(matcher))
    assert clone.match(title="REE") == matcher.match(title="REE")


def test_it_refuses_duplicate_tag_ids() -> None:
    with pytest.raises(ValueError, match="duplicate tag ids"):
        Matcher([Rule(tag_id=1, name="a b"), Rule(tag_id=1, name="c d")])


def test_it_works_with_no_rules() -> None:
    assert Matcher([]).match(title="anything", keywords=["#x"]) == []
    assert Matcher([]).highlight_terms("anything") == []
