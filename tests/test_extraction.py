"""The extraction step on pages we wrote: text without boilerplate, metadata, encodings."""

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from articles.blocks import blocks_text, sanitize_blocks
from articles.extraction import (
    Extracted,
    clean_blocks,
    clean_text,
    content_hash,
    decode_html,
    extract,
)

PAGES = Path(__file__).parent / "fixtures" / "pages"
URL = "https://www.metalswire.example/markets/gallium-licences-2025?utm_source=rss"


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


@pytest.fixture(scope="module")
def wire() -> Extracted:
    return extract(page("export_controls_wire.html"), URL)


def test_it_keeps_the_article_sentences(wire: Extracted) -> None:
    assert "must now file end-user certificates for every shipment" in wire.text
    assert "Prices for gallium outside China have nearly doubled this year" in wire.text
    assert wire.text.endswith("because Chinese supply was cheaper.")
    assert wire.error == ""


def test_it_leaves_menus_share_bars_newsletters_and_footers_out(wire: Extracted) -> None:
    for boilerplate in ("Tech Insider", "Share on LinkedIn", "Subscribe", "free daily newsletter"):
        assert boilerplate not in wire.text
    assert "All rights reserved" not in wire.text


def test_it_drops_hashtag_lines_and_read_more_links_but_keeps_the_hashtags(
    wire: Extracted,
) -> None:
    assert "#Gallium" not in wire.text
    assert "Read more at" not in wire.text
    keywords = {k.casefold() for k in wire.keywords}
    assert {"gallium", "exportcontrols", "criticalminerals"} <= keywords


def test_it_separates_paragraphs_with_blank_lines(wire: Extracted) -> None:
    assert len(wire.paragraphs) == 5
    assert "\n\n" in wire.text
    assert all(p == p.strip() and "\n" not in p for p in wire.paragraphs)


def test_it_normalises_non_breaking_hyphens(wire: Extracted) -> None:
    assert "rare-earth magnet" in wire.text
    assert "\u2011" not in wire.text


def test_it_reads_the_metadata(wire: Extracted) -> None:
    assert wire.title == "Beijing widens licence rules for gallium and germanium shipments"
    assert wire.author == "Lena Okafor"
    assert wire.site_name == "Metals Wire"
    assert wire.published == datetime(2025, 12, 2, 23, 45, tzinfo=UTC)
    assert wire.published.utcoffset() == timedelta(hours=8)
    assert wire.image == "https://www.metalswire.example/img/2025/gallium-ingots.jpg"
    assert wire.categories == ("Commodities",)
    assert {"gallium", "germanium", "export controls"} <= set(wire.keywords)
    assert wire.language == "en"


def test_it_uses_the_same_site_canonical_without_trackers(wire: Extracted) -> None:
    assert wire.url == "https://www.metalswire.example/markets/gallium-licences-2025"


def test_it_ignores_a_canonical_on_another_site() -> None:
    url = "https://fabweekly.example/equipment/servicing-rules?utm_medium=email"
    result = extract(page("semiconductors_related.html"), url)
    assert result.url == "https://fabweekly.example/equipment/servicing-rules"


def test_it_counts_words_and_hashes_the_normalised_text(wire: Extracted) -> None:
    assert 180 < wire.word_count < 230
    normalised = " ".join(wire.text.split()).casefold()
    assert wire.content_hash == hashlib.sha256(normalised.encode()).hexdigest()


def test_the_same_text_in_other_markup_has_the_same_hash(wire: Extracted) -> None:
    respaced = page("export_controls_wire.html").replace(b"<p>", b"<p>\n   ").replace(b". ", b".  ")
    assert extract(respaced, URL).content_hash == wire.content_hash
    assert content_hash("Rare  EARTHS\n\nmagnets ") == content_hash("rare earths magnets")


def test_the_meta_description_becomes_the_summary_when_the_feed_has_none(
    wire: Extracted,
) -> None:
    assert wire.summary_source == "meta"
    assert wire.summary.startswith("China's commerce ministry added new licence checks")


def test_the_feed_summary_wins_and_the_feed_date_too() -> None:
    published = datetime(2025, 12, 3, 1, 0)
    result = extract(
        page("export_controls_wire.html"),
        URL,
        feed_summary="<p>China tightened gallium and germanium export licences again. "
        "Chipmakers abroad are counting their stocks.</p>",
        feed_title="China tightens gallium licences",
        feed_published=published,
    )
    assert result.summary_source == "feed"
    assert result.summary.startswith("China tightened gallium and germanium export licences")
    assert result.title == "China tightens gallium licences"
    assert result.published == published.replace(tzinfo=UTC)


def test_it_drops_a_disclaimer_in_another_script() -> None:
    result = extract(page("rare_earths_disclaimer.html"), "https://oceanminerals.example/a")
    assert "免责声明" not in result.text
    assert "strengthen the country's hand in talks over magnet exports." in result.text
    assert "Popular" not in result.text
    assert "Cobalt glut" not in result.text
    assert result.author == "Kenji Marlow"
    assert result.published == datetime(2025, 11, 18, 9, 30, tzinfo=UTC)
    assert result.categories == ("Deep Sea Mining",)
    assert result.site_name == "Ocean Minerals Review"


def test_it_leaves_related_stories_printed_twice_out() -> None:
    result = extract(page("semiconductors_related.html"), "https://fabweekly.example/a")
    assert "Suppliers of lithography and etching machines expect new limits" in result.text
    assert "Dutch export licences" not in result.text
    assert "Korean memory makers" not in result.text
    assert result.title.startswith("Chip tool makers brace")
    assert result.text.count("Chip tool makers brace") == 0
    assert result.published == datetime(2025, 10, 2, tzinfo=UTC)
    assert result.summary_source == "lead"
    assert result.summary.startswith("Suppliers of lithography")


def test_it_reads_a_blog_post_without_its_comments() -> None:
    result = extract(page("blog_wordpress.html"), "https://batterynotes.example/cobalt/")
    assert "hydrometallurgical plants have become cheaper to build" in result.text
    assert "energy used by the leaching step" not in result.text
    assert "Posted in" not in result.text
    assert result.author == "Mara Lindqvist"
    assert result.categories == ("Batteries",)
    assert {"cobalt", "recycling"} <= set(result.keywords)
    # "Read more…" is no summary; a naive date is taken as UTC.
    assert result.summary_source == "lead"
    assert result.published == datetime(2025, 9, 14, 16, 20, tzinfo=UTC)


def test_a_teaser_is_kept_with_an_error() -> None:
    result = extract(page("teaser_paywall.html"), "https://metals.example/lithium")
    assert result.error
    assert result.title == "Lithium refiners rethink expansion plans"
    assert "delay new plants" in result.text
    assert result.word_count < 50


def test_it_decodes_shift_jis_declared_in_a_meta_tag() -> None:
    body = page("japanese_sjis.html").decode("utf-8").encode("shift_jis")
    result = extract(body, "https://keizai.example/rare-earths")
    assert "レアアースの調達先を広げるため" in result.text
    assert "トップ" not in result.text
    assert result.language == "ja"
    assert result.title == "レアアース供給網の多様化、政府が新たな支援策"
    assert result.error == ""
    assert "。 " not in result.summary


def test_it_decodes_utf8_with_a_bom_even_against_a_wrong_header() -> None:
    body = b"\xef\xbb\xbf" + page("rare_earths_disclaimer.html")
    assert decode_html(body, "iso-8859-1").startswith("<!DOCTYPE html>")
    assert "know-how" in extract(body, "https://oceanminerals.example/a").text


def test_it_decodes_windows_1252_declared_only_by_the_http_header() -> None:
    html = (
        "<html><head><title>Caf\u00e9 talks</title></head><body><article><p>"
        + "The d\u00e9tente over gallium \u2013 and \u201cgermanium\u201d \u2013 held. " * 20
        + "</p></article></body></html>"
    )
    body = html.encode("cp1252")
    assert decode_html(body, "windows-1252") == html
    assert decode_html(body, "ISO-8859-1") == html
    result = extract(body, "https://metals.example/cafe", http_charset="windows-1252")
    assert "d\u00e9tente over gallium \u2013 and \u201cgermanium\u201d" in result.text


def test_a_utf8_page_mislabelled_latin1_stays_utf8() -> None:
    body = "<p>Neodym \u2013 \u00e9t\u00e9</p>".encode()
    assert decode_html(body, "iso-8859-1") == "<p>Neodym \u2013 \u00e9t\u00e9</p>"


def test_bad_bytes_decode_with_replacement_and_never_raise() -> None:
    body = b"<html><meta charset='utf-8'><body><p>ok \xff\xfe\xfa bytes</p></body></html>"
    text = decode_html(body)
    assert "ok" in text
    assert "bytes" in text
    assert decode_html(body, "no-such-charset")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        "",
        b"   \n\t",
        b"\x00\x01\x02\xff\xfe" * 200,
        b"%PDF-1.7 binary junk \x89\x90",
        b"<html><body></body></html>",
        b"<<<<>>>>" * 1000,
        "<p>" * 5000,
        b'{"json": "not html"}',
    ],
)
def test_empty_or_garbage_input_gives_an_error_not_an_exception(body: bytes | str) -> None:
    result = extract(body, "https://example.com/x?utm_source=a")
    assert isinstance(result, Extracted)
    assert result.error
    assert result.url == "https://example.com/x"


def test_a_failed_page_still_carries_the_feed_summary() -> None:
    result = extract(
        b"",
        "https://example.com/x",
        feed_title="Cobalt prices jump",
        feed_summary="Cobalt prices jumped after Congo extended its export quota system again.",
        feed_published=datetime(2025, 6, 1, 8, 0, tzinfo=UTC),
    )
    assert result.error
    assert result.published == datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
    assert result.title == "Cobalt prices jump"
    assert result.summary_source == "feed"


def test_the_result_is_immutable(wire: Extracted) -> None:
    with pytest.raises(AttributeError):
        wire.title = "changed"  # type: ignore[misc]


def test_a_published_time_with_an_offset_keeps_its_zone() -> None:
    result = extract(page("export_controls_wire.html"), URL)
    assert result.published is not None
    assert result.published.tzinfo is not None
    assert result.published.astimezone(UTC).hour == 23


def test_a_related_coverage_list_left_at_the_end_is_dropped():
    raw = "\n".join(
        [
            "Tokyo will double its reserve of rare earths, officials said on Monday.",
            "The plan needs parliament's approval.",
            "Related coverage",
            "Korean Battery Makers Race to Qualify Graphite",
            "Taipei Tightens Rules on Chip Processes",
        ]
    )
    text, _ = clean_text(raw)
    assert text.endswith("The plan needs parliament's approval.")


def test_a_closing_paragraph_after_a_more_heading_is_kept():
    raw = "\n".join(
        [
            "Tokyo will double its reserve of rare earths, officials said on Monday.",
            "More to come",
            "Officials will brief reporters on Tuesday.",
        ]
    )
    text, _ = clean_text(raw)
    assert text.endswith("Officials will brief reporters on Tuesday.")


# --- The over-extraction guard, other scripts and the article's shape ---------------------------

LISTING_URL = "https://mineralsdaily.example/mining/refinery-approved"


@pytest.mark.parametrize("name", ["listing_dressed_as_article", "listing_without_article_body"])
def test_a_listing_dressed_as_an_article_gives_the_article_not_the_listing(name: str) -> None:
    result = extract(page(f"{name}.html"), LISTING_URL)
    assert "approved a new refinery for rare earth oxides" in result.text
    assert "the first oxide should ship in two years" in result.text
    for teaser in ("Port strike delays nickel shipments", "Bismuth shortage", "item 7 soon"):
        assert teaser not in result.text
    assert result.word_count < 120
    assert result.path == "precision"
    assert result.signals["fast"]["words"] > 5 * result.word_count
    assert result.signals["reasons"]


def test_the_page_s_own_article_body_is_a_signal() -> None:
    result = extract(page("listing_dressed_as_article.html"), LISTING_URL)
    assert result.signals["ld_words"] == 78
    assert any("ld_words" in reason for reason in result.signals["reasons"])
    bare = extract(page("listing_without_article_body.html"), LISTING_URL)
    assert bare.signals["ld_words"] == 0
    assert any("link texts" in reason for reason in bare.signals["reasons"])


def test_a_long_comment_thread_stays_out_of_the_text() -> None:
    result = extract(page("comment_thread.html"), "https://mineralsdaily.example/refinery")
    assert result.text.startswith("The regional council approved a new refinery")
    assert result.text.endswith("signed a supply agreement with a magnet maker.")
    for comment in ("Reply number", "responses", "Ines Varga", "hours ago"):
        assert comment not in result.text
    assert result.path == "fast"


def test_an_ordinary_article_takes_the_fast_pass_with_its_signals(wire: Extracted) -> None:
    assert wire.path == "fast"
    assert wire.signals["fast"]["words"] >= wire.word_count
    assert "reasons" not in wire.signals
    assert wire.signals["main_words"] > 0


def test_a_teaser_takes_the_fallback_pass_when_it_finds_more() -> None:
    result = extract(page("teaser_paywall.html"), "https://metals.example/lithium")
    assert result.path in ("fast", "fallback")
    assert result.signals["reasons"] == [f"only {result.signals['fast']['words']} words"]
    assert "fallback" in result.signals


def test_arabic_quotations_inside_an_indonesian_article_are_kept() -> None:
    result = extract(page("indonesian_arabic_quote.html"), "https://kabartambang.example/nikel")
    assert "وَلَا تُفْسِدُوا فِي الْأَرْضِ بَعْدَ إِصْلَاحِهَا" in result.text
    assert {"type": "blockquote", "text": "إِنَّ اللَّهَ لَا يُحِبُّ الْمُفْسِدِينَ"} in result.blocks
    assert "Para ulama dan pengusaha tambang nikel bertemu di Kendari" in result.text
    assert "免责声明" not in result.text


def test_latin_commands_inside_a_russian_article_are_kept_and_an_english_disclaimer_goes() -> None:
    result = extract(page("russian_latin_commands.html"), "https://gornyi.example/karta")
    assert "pip install geopandas shapely pyproj" in result.text
    code = [b for b in result.blocks if b["type"] == "pre"]
    assert code == [
        {
            "type": "pre",
            "text": "import geopandas as gpd\n"
            'deposits = gpd.read_file("deposits.geojson")\n'
            'deposits.to_crs(epsg=3857).to_file("map.gpkg")',
        }
    ]
    assert "Disclaimer" not in result.text
    assert "investment advice" not in result.text
    assert result.text.endswith("исправляют старые ошибки.")
    assert result.language == "ru"


def test_other_script_paragraphs_go_only_at_the_edges():
    blocks = [
        {"type": "p", "text": "免责声明本文仅供参考。"},
        {"type": "p", "text": "Jakarta menambah cadangan nikel tahun ini, kata pejabat."},
        {"type": "p", "text": "إِنَّ اللَّهَ مَعَ الصَّابِرِينَ"},
        {"type": "p", "text": "Rencana itu masih menunggu persetujuan parlemen bulan depan."},
        {"type": "p", "text": "Hak cipta dilindungi; semua isi ditulis oleh redaksi."},
        {"type": "p", "text": "本网站不对其准确性负责。"},
    ]
    kept, _ = clean_blocks(blocks)
    assert [b["text"] for b in kept] == [b["text"] for b in blocks[1:5]]


def test_a_bilingual_page_keeps_both_languages():
    blocks = [
        {"type": "p", "text": "The ministry published new quotas for rare earth mining today."},
        {"type": "p", "text": "Министерство опубликовало новые квоты на добычу редкоземельных."},
        {"type": "p", "text": "Quotas for the heavy rare earths were cut by a tenth this year."},
        {"type": "p", "text": "Квоты на тяжёлые редкоземельные металлы сократили на десятую."},
    ]
    kept, _ = clean_blocks(blocks)
    assert kept == blocks


@pytest.fixture(scope="module")
def structured() -> Extracted:
    return extract(page("structured_article.html"), "https://www.metalswire.example/magnets")


def test_headings_lists_and_quotes_are_kept_as_blocks(structured: Extracted) -> None:
    assert structured.blocks == (
        {
            "type": "p",
            "text": "Magnet makers in Europe and North America are signing supply contracts with "
            "new rare earth refiners, hoping to reduce their dependence on a single country for "
            "the metals.",
        },
        {"type": "h2", "text": "Domestic capacity grows, unevenly"},
        {
            "type": "p",
            "text": "Three refineries opened this year, but together they can meet only a small "
            "share of demand, and two of them still buy their feedstock abroad.",
        },
        {
            "type": "ul",
            "items": [
                "A refinery in Estonia that separates neodymium and praseodymium",
                "A plant in Texas that makes metal and alloy from imported oxide",
                "A pilot line in Quebec that recycles old magnets",
            ],
        },
        {"type": "h3", "text": "What buyers ask for"},
        {
            "type": "p",
            "text": "Buyers say they will pay a premium only for material that they can trace "
            "from the mine to the magnet, and only for contracts longer than five years.",
        },
        {
            "type": "ol",
            "items": [
                "Traceable origin",
                "Stable prices over several years",
                "Delivery within three months of an order",
            ],
        },
        {
            "type": "blockquote",
            "text": "We cannot build a factory on a supply that may disappear next quarter.",
        },
        {
            "type": "p",
            "text": "Analysts expect the premium to shrink as more plants open, but say that the "
            "first buyers will pay far more than they would for Chinese supply.",
        },
    )


def test_the_plain_text_holds_the_same_words_one_paragraph_a_line(structured: Extracted) -> None:
    assert structured.text == blocks_text(structured.blocks)
    assert "Domestic capacity grows, unevenly\n\nThree refineries" in structured.text
    assert "\n\nTraceable origin\n\nStable prices over several years\n\n" in structured.text
    assert all("\n" not in p for p in structured.paragraphs)
    assert structured.summary.startswith("Magnet makers in Europe")


def test_blocks_from_anywhere_are_checked_before_use():
    hostile = [
        {"type": "script", "text": "alert(1)"},
        {"type": "p", "text": 42},
        {"type": "ul", "items": ["one", 2, "", None]},
        {"type": "h2", "text": "  <b>bold</b>  "},
        "not a block",
        {"type": "ol", "items": "not a list"},
        {"type": "p", "text": "   "},
    ]
    assert sanitize_blocks(hostile) == [
        {"type": "ul", "items": ["one"]},
        {"type": "h2", "text": "<b>bold</b>"},
    ]
    assert sanitize_blocks({"type": "p"}) == []
    assert sanitize_blocks(None) == []


def test_a_related_heading_with_a_list_of_titles_at_the_end_is_dropped():
    blocks = [
        {"type": "p", "text": "Tokyo will double its reserve of rare earths, officials said."},
        {"type": "h2", "text": "Related coverage"},
        {"type": "ul", "items": ["Korean Battery Makers Race", "Taipei Tightens Chip Rules"]},
    ]
    kept, _ = clean_blocks(blocks)
    assert kept == blocks[:1]
    closing = [*blocks[:2], {"type": "p", "text": "Officials will brief reporters on Tuesday."}]
    assert clean_blocks(closing)[0] == closing


def test_text_shorter_than_the_page_s_own_description_tries_the_fallbacks():
    lead = "Gallium exporters now need a licence for every shipment, the ministry said. " * 8
    description = "A long description. " * 70
    html = (
        f'<html><head><meta name="description" content="{description}"></head><body>'
        f"<article><p>{lead}</p></article></body></html>"
    )
    result = extract(html, "https://metals.example/gallium")
    assert result.signals["description_words"] == 210
    assert result.signals["reasons"] == [
        f"{result.signals['fast']['words']} words, fewer than the page's description"
    ]
    assert "fallback" in result.signals
    assert "Gallium exporters now need a licence" in result.text


def test_a_lead_summary_is_made_of_paragraphs_not_headings_or_lists():
    html = (
        "<html><head><title>Magnet deals</title></head><body><article><h1>Magnet deals</h1>"
        "<p>Magnet makers signed three supply deals this week.</p>"
        "<h2>Domestic capacity grows, unevenly</h2>"
        "<ul><li>Estonia separates oxides</li><li>Texas makes metal</li></ul>"
        "<p>Three refineries opened this year, and two of them still buy feedstock abroad.</p>"
        f"<p>{FILLER_SENTENCES}</p></article></body></html>"
    )
    result = extract(html, "https://metals.example/deals")
    assert result.summary_source == "lead"
    assert result.summary.startswith(
        "Magnet makers signed three supply deals this week. Three refineries opened this year"
    )
    assert "Domestic capacity" not in result.summary
    assert "Estonia" not in result.summary
    assert "Domestic capacity grows, unevenly" in result.text


FILLER_SENTENCES = (
    "Officials said the measures would be reviewed at the end of the quarter. Analysts noted "
    "that shipments had already slowed in recent weeks, and several manufacturers were looking "
    "for other suppliers."
)
