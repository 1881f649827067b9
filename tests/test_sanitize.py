import pytest

from articles.sanitize import html_to_text, sanitize_html


def test_it_keeps_simple_structure_and_links() -> None:
    cleaned = sanitize_html(
        "<p>One <em>two</em> <strong>three</strong></p><ul><li>a</li></ul>"
        '<blockquote>q</blockquote><a href="https://example.org/x">link</a>'
    )
    assert "<p>One <em>two</em> <strong>three</strong></p>" in cleaned
    assert "<ul><li>a</li></ul>" in cleaned
    assert "<blockquote>q</blockquote>" in cleaned
    assert '<a href="https://example.org/x" rel="nofollow noopener">link</a>' in cleaned


@pytest.mark.parametrize(
    ("hostile", "gone"),
    [
        ("<script>alert('x')</script>", "alert"),
        ("<style>body{display:none}</style>", "display"),
        ('<iframe src="https://evil.example/">inner</iframe>', "evil.example"),
        ('<object data="movie.swf"><param name="x"></object>', "movie"),
        ('<embed src="https://evil.example/x.swf">', "evil.example"),
        ('<applet code="Evil.class">inner</applet>', "Evil"),
        ('<img src="x" onerror="alert(1)">', "onerror"),
        ('<p onclick="steal()">text</p>', "onclick"),
        ('<a href="javascript:alert(1)">x</a>', "javascript"),
        ('<a href="JaVaScRiPt:alert(1)">x</a>', "alert"),
        ('<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>', "data:"),
        ('<a href="vbscript:msgbox(1)">x</a>', "vbscript"),
        ("<svg><script>alert(1)</script></svg>", "alert"),
        ('<form action="https://evil.example/"><input name="pw"></form>', "evil.example"),
        ('<p style="position:fixed">x</p>', "position"),
    ],
)
def test_it_removes_hostile_markup(hostile: str, gone: str) -> None:
    assert gone not in sanitize_html(f"<p>before</p>{hostile}<p>after</p>")


def test_it_keeps_the_text_of_unknown_tags() -> None:
    assert sanitize_html("<div><span>kept text</span></div>") == "kept text"


def test_it_resolves_relative_links_against_the_base() -> None:
    cleaned = sanitize_html('<a href="../b/c">x</a>', base_url="https://example.org/a/page")
    assert 'href="https://example.org/b/c"' in cleaned


def test_it_drops_relative_links_when_there_is_no_base() -> None:
    cleaned = sanitize_html('<a href="/local">x</a>')
    assert "href" not in cleaned
    assert "x" in cleaned


def test_it_drops_relative_links_when_the_base_is_unparseable() -> None:
    cleaned = sanitize_html('<a href="/x">x</a>', base_url="http://bad\u00a0host.example/")
    assert cleaned == '<a rel="nofollow noopener">x</a>'


def test_it_keeps_mailto_links() -> None:
    assert 'href="mailto:desk@example.org"' in sanitize_html(
        '<a href="mailto:desk@example.org">m</a>'
    )


def test_it_returns_empty_for_empty_input() -> None:
    assert sanitize_html("") == ""
    assert html_to_text("") == ""


def test_it_flattens_html_to_text_with_entities_decoded() -> None:
    assert (
        html_to_text("Caf&eacute; &amp; bar&nbsp;&#8211; <b>open</b>")
        == "Caf\u00e9 & bar \u2013 open"
    )


def test_it_puts_blocks_on_their_own_lines() -> None:
    text = html_to_text(
        "<p>First\n   paragraph</p><p>Second</p>Line<br>break<ul><li>a</li><li>b</li></ul>"
    )
    assert text == "First paragraph\nSecond\nLine\nbreak\na\nb"


def test_it_hides_script_and_style_text() -> None:
    assert html_to_text("<p>x</p><script>var a = 1;</script><style>p{}</style>y") == "x\ny"


def test_it_leaves_lone_angle_brackets_and_ampersands_as_text() -> None:
    assert html_to_text("a < b & c > d, AT&T") == "a < b & c > d, AT&T"


def test_it_separates_table_cells() -> None:
    assert html_to_text("<table><tr><td>a</td><td>b</td></tr></table>") == "a b"
