import pytest

from tags.normalize import match_form, match_form_mapped, normalize, phrase_variants, split_hashtag


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("rare\u2011earth", "rare-earth"),  # non-breaking hyphen
        ("rare\u2013earth", "rare-earth"),  # en dash
        ("rare\u2212earth", "rare-earth"),  # minus sign
        ("rare\ufe63earth", "rare-earth"),  # small hyphen-minus
        ("rare\uff0dearth", "rare-earth"),  # fullwidth hyphen-minus
        ("rare\u00adearths", "rareearths"),  # soft hyphen disappears
        ("rare\u200bearths", "rareearths"),  # zero-width space disappears
        ("China\u2019s", "china's"),
        ("China\u02bcs", "china's"),
        ("China`s", "china's"),
        ("\uff32\uff21\uff32\uff25", "rare"),  # fullwidth letters through NFKC
        ("  Rare\u00a0\u202f earths\u2009\n", "rare earths"),
        ("STRASSE Stra\u00dfe", "strasse strasse"),
        ("", ""),
    ],
)
def test_it_normalizes_unicode_variants(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_it_turns_every_separator_into_one_space_in_the_match_form() -> None:
    assert match_form("Rare\u2011earths, China\u2019s \u2014 \u201cquota\u201d!") == (
        "rare earths china s quota"
    )


@pytest.mark.parametrize("fold_case", [True, False])
def test_it_turns_typographic_quotes_and_dashes_into_word_breaks(fold_case: bool) -> None:
    text = (
        "It\u2019s \u201cA\u201d \u2018B\u2019 \u00abC\u00bb \u201eD\u201c"
        " e\u2013f\u2014g caf\u00e9\u2019s"
    )
    expected = "It s A B C D e f g caf\u00e9 s"
    assert match_form(text, fold_case=fold_case) == (expected.casefold() if fold_case else expected)


def test_it_collapses_long_runs_of_separators_to_one_space() -> None:
    assert match_form("rare \t\n ,;  \u2014 \u201c earth\u201d!!!   x") == "rare earth x"


def test_it_keeps_case_in_the_match_form_when_asked() -> None:
    assert match_form("The US\u2019s plan", fold_case=False) == "The US s plan"


def test_it_drops_emoji_and_variation_selectors_from_the_match_form() -> None:
    assert match_form("\u26a1\ufe0flithium\U0001f469\u200d\U0001f52c") == "lithium"


def test_it_keeps_combining_marks_inside_words() -> None:
    assert match_form("cafe\u0301 a\u0332b") == "caf\u00e9 a\u0332b"


def test_it_returns_nothing_for_text_without_letters() -> None:
    assert match_form("... --- !!! \u2014 \U0001f600") == ""


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("#RareEarths", "rare earths"),
        ("#rare_earths", "rare earths"),
        ("#COVID19", "covid 19"),
        ("#EUTariffs", "eu tariffs"),
        ("#rareearths", "rareearths"),
        ("RareEarths", "rare earths"),
        ("#", ""),
    ],
)
def test_it_splits_hashtags(tag: str, expected: str) -> None:
    assert split_hashtag(tag) == expected


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("rare earth", {"rare earth", "rare earths", "rare-earth", "rare-earths"}),
        ("Supply Chains", {"supply chain", "supply chains", "supply-chain", "supply-chains"}),
        ("policy", {"policy", "policies"}),
        ("tariffs", {"tariff", "tariffs"}),
        ("tax", {"tax", "taxes"}),
        ("mining", {"mining"}),
        ("news", {"news"}),
        ("REE", {"ree", "rees"}),
        ("REEs", {"ree", "rees"}),
        ("COVID-19", {"covid 19", "covid-19"}),
        ('"China"', {"china"}),
        ("", set()),
    ],
)
def test_it_inflects_the_last_word_and_hyphenates(phrase: str, expected: set[str]) -> None:
    assert phrase_variants(phrase) == expected


def test_it_offers_the_joined_form_only_when_asked() -> None:
    assert "rareearths" in phrase_variants("rare earth", joined=True)
    assert "rareearths" not in phrase_variants("rare earth")


def test_it_mixes_hyphens_and_spaces_in_longer_phrases() -> None:
    assert "rare-earth magnets" in phrase_variants("rare earth magnet")


@pytest.mark.parametrize(
    "text",
    ["  Rare-earth,  magnets\u2014today  ", "caf\u00e9 \u201cquoted\u201d", "", "\ufb01ne", "A  B"],
)
def test_the_mapped_form_is_the_match_form(text: str) -> None:
    for fold_case in (True, False):
        form, spaced, stripped = match_form_mapped(text, fold_case=fold_case)
        assert form == match_form(text, fold_case=fold_case)
        if spaced is not None:
            assert len(spaced) + stripped == len(text)
