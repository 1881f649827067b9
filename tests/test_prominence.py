"""Prominence-aware rules: where an alias occurs decides a strong (published) or weak match."""

from __future__ import annotations

import pytest

from tags.explaining import explain
from tags.matching import Matcher, Rule, TagMatch, lead_end

GOLD = Rule(tag_id=1, name="Gold", aliases=("bullion",))
CRUDE = Rule(tag_id=2, name="Crude oil", aliases=("petroleum", "crude"))
LEAD = "Markets were quiet on Monday as traders waited for the figures.\n\n"


def one(matches: list[TagMatch], tag_id: int = 1) -> TagMatch:
    found = [m for m in matches if m.tag_id == tag_id]
    assert len(found) == 1, matches
    return found[0]


@pytest.fixture
def matcher() -> Matcher:
    return Matcher([GOLD, CRUDE])


def test_a_title_hit_is_strong_and_says_where(matcher: Matcher) -> None:
    match = one(matcher.match(title="Gold hits a record", text=LEAD))
    assert match.strong
    assert [(h.field, h.start, h.end, h.term) for h in match.hits] == [("title", 0, 4, "Gold")]


def test_a_lead_hit_is_strong(matcher: Matcher) -> None:
    text = "Bullion rose 2% in London.\n\nOther metals were flat."
    match = one(matcher.match(title="Metals", text=text))
    assert match.strong
    assert match.where() == {"lead": 1}
    assert text[match.hits[0].start : match.hits[0].end] == "Bullion"


def test_a_single_passing_body_mention_is_weak(matcher: Matcher) -> None:
    text = LEAD + "Shares rose. Analysts said gold was not a factor."
    match = one(matcher.match(title="Shares rise", text=text))
    assert not match.strong
    assert match.where() == {"body": 1}
    hit = match.hits[0]
    assert text[hit.start : hit.end] == "gold"


def test_repeated_body_mentions_are_strong_at_the_topics_threshold() -> None:
    text = LEAD + "Gold rose. Later gold fell, and bullion dealers sold."
    for threshold, strong in ((3, True), (4, False)):
        rule = Rule(tag_id=1, name="Gold", aliases=("bullion",), strong_body_mentions=threshold)
        assert one(Matcher([rule]).match(title="Markets", text=text)).strong is strong


def test_a_capitalised_company_name_containing_the_alias_is_weak(matcher: Matcher) -> None:
    text = (
        "Kiena Gold Mines Ltd said on Monday it would buy a mill.\n\n"
        "Global Petroleum Corp and Kiena Gold Mines agreed terms. Kiena Gold Mines shares rose."
    )
    matches = matcher.match(title="Kiena to buy a mill", text=text)
    gold, crude = one(matches, 1), one(matches, 2)
    assert not gold.strong and not crude.strong
    assert all(h.in_name for h in gold.hits + crude.hits)
    assert gold.where() == {"name": 3}


def test_a_company_suffix_makes_a_name_even_in_a_shouting_title(matcher: Matcher) -> None:
    match = one(matcher.match(title="GLAMIS GOLD LTD SIX MONTHS NET", text=LEAD))
    assert not match.strong
    assert match.hits[0].in_name


def test_a_capitalised_alias_at_a_sentence_start_is_not_a_name(matcher: Matcher) -> None:
    text = "Prices moved. Gold rose sharply, dealers said.\n\nNothing else."
    match = one(matcher.match(title="Markets", text=text))
    assert match.strong
    assert not match.hits[0].in_name


def test_the_name_is_an_alias_only_when_the_topic_says_so() -> None:
    interest = Rule(tag_id=3, name="Interest", aliases=("interest rates",))
    text = "There is strong interest in the new phone."
    assert one(Matcher([interest]).match(title=text), 3).strong
    plain = Rule(tag_id=3, name="Interest", aliases=("interest rates",), name_is_alias=False)
    assert Matcher([plain]).match(title=text) == []
    assert one(Matcher([plain]).match(title="Interest rates rise"), 3).strong


def test_a_case_sensitive_alias_is_located_and_never_taken_for_a_name() -> None:
    opec = Rule(tag_id=4, name="oil cartel", case_sensitive_aliases=("OPEC",))
    text = LEAD + "The OPEC Secretary General spoke. Then OPEC met. OPEC agreed."
    match = one(Matcher([opec]).match(title="Talks", text=text), 4)
    assert match.strong
    assert [text[h.start : h.end] for h in match.hits] == ["OPEC"] * 3
    assert not any(h.in_name for h in match.hits)
    assert Matcher([opec]).match(title="talks", text=LEAD + "opec opec opec") == []


def test_prominence_off_keeps_the_old_behaviour() -> None:
    rule = Rule(tag_id=1, name="Gold", prominence=False)
    match = one(Matcher([rule]).match(title="Shares", text=LEAD + "Kiena Gold Mines rose."))
    assert match.strong
    assert match.hits[0].in_name  # still recorded, for explanations


def test_weak_and_vetoed_matches_are_told_apart() -> None:
    rule = Rule(tag_id=1, name="Gold", exclusions=("gold medal",), min_score=2)
    m = Matcher([rule])
    assert m.match(title="Sport", text=LEAD + "She won a gold medal.") == []
    vetoed = one(m.match(title="Sport", text=LEAD + "She won a gold medal.", explain=True))
    assert vetoed.vetoed_by == "gold medal"
    # Below min_score: only with explain=True, never as a weak match.
    assert m.match(title="Shares", text=LEAD + "Gold was flat.") == []


def test_positions_survive_unicode_and_punctuation(matcher: Matcher) -> None:
    text = "\u201cBullion\u201d \u2014 said traders\u00a0\u2014 crude\u2011oil and caf\u00e9 gold."
    matches = matcher.match(title="", text=text)
    spans = sorted(text[h.start : h.end] for m in matches for h in m.hits)
    assert spans == ["Bullion", "crude\u2011oil", "gold"]


def test_the_lead_is_the_first_paragraph() -> None:
    assert lead_end("First line\n    Second paragraph") == len("First line")
    assert lead_end("One.\n\nTwo.") == len("One.")
    assert lead_end("No break at all") == len("No break at all")
    long = "word " * 400
    assert 500 < lead_end(long) <= 600


def test_an_explanation_says_strong_or_weak_and_where(matcher: Matcher) -> None:
    text = LEAD + "Kiena Gold Mines Ltd rose."
    match = one(matcher.match(title="Shares", text=text))
    why = explain("rule", match.strong, match.terms, [h.as_list() for h in match.hits], False)
    assert why.startswith("weak rule match")
    assert "“Gold” in body (1 inside a name)" in why
    assert why.endswith("not published")
    strong = one(matcher.match(title="Gold and bullion", text=LEAD + "gold"))
    why = explain("rule", strong.strong, strong.terms, [h.as_list() for h in strong.hits])
    assert why == "strong rule match: “Gold” in title, body; “bullion” in title"


@pytest.mark.parametrize(
    "text",
    [
        "Re\u00adports say gold rose and gold fell.",  # soft hyphen: words no longer line up
        "\ufb01nal word: gold rose and gold fell.",  # a ligature NFKC expands
        "Stra\u00dfe gold rose and gold fell.",  # ß case-folds to two letters
    ],
)
def test_positions_are_exact_whichever_way_they_are_mapped(text: str) -> None:
    match = one(Matcher([GOLD]).match(title="x", text=text))
    assert [text[h.start : h.end] for h in match.hits] == ["gold", "gold"]


def test_positions_in_an_unspaced_script() -> None:
    text = "中国稀土出口下降。"
    match = one(Matcher([Rule(tag_id=1, name="稀土")]).match(text=text))
    assert [text[h.start : h.end] for h in match.hits] == ["稀土"]
