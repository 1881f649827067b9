from pathlib import Path

import pytest

from articles.opml import OpmlFeed, build_opml, parse_opml

NESTED = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My subscriptions</title></head>
  <body>
    <outline text="Loose feed" type="rss" xmlUrl="https://loose.example/feed" />
    <outline text="News">
      <outline text="Shipping" title="Shipping news" type="rss"
               xmlUrl="https://ships.example/rss" htmlUrl="https://ships.example/" />
      <outline text="Regional">
        <outline text="Coast Daily" xmlurl="https://coast.example/atom.xml" />
      </outline>
      <outline text="A folder label only, no feed" />
      <outline text="Bad scheme" xmlUrl="javascript:alert(1)" />
      <outline text="Shipping again" xmlUrl="https://ships.example/rss" />
    </outline>
    <outline text="Old style" xmlUrl="feed://old.example/rss" category="/Tech/Tools,/Misc" />
  </body>
</opml>
"""


def test_it_flattens_nested_folders_into_categories() -> None:
    assert parse_opml(NESTED) == [
        OpmlFeed("https://loose.example/feed", "Loose feed", "", ""),
        OpmlFeed("https://ships.example/rss", "Shipping news", "https://ships.example/", "News"),
        OpmlFeed("https://coast.example/atom.xml", "Coast Daily", "", "News / Regional"),
        OpmlFeed("http://old.example/rss", "Old style", "", "Tech / Tools"),
    ]


def test_it_skips_outlines_without_a_usable_xml_url() -> None:
    urls = [feed.url for feed in parse_opml(NESTED)]
    assert not any("javascript" in url for url in urls)
    assert len(urls) == len(set(urls))


def test_it_round_trips_through_build_opml() -> None:
    feeds = [
        OpmlFeed("https://a.example/feed", "A & B <news>", "https://a.example/", ""),
        OpmlFeed("https://b.example/rss", "B", "", "Science"),
        OpmlFeed("https://c.example/rss", "C", "https://c.example/", "Science / Space"),
        OpmlFeed("https://d.example/rss", "", "", "Science / Space"),
    ]
    document = build_opml(feeds, title="Newsdesk feeds")
    assert document.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert b"<title>Newsdesk feeds</title>" in document
    assert parse_opml(document) == feeds


def test_it_rejects_garbage_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="not well-formed OPML"):
        parse_opml(b"<opml><body><outline text='x'></body>")
    with pytest.raises(ValueError, match="empty"):
        parse_opml(b"  ")
    with pytest.raises(ValueError, match="root element is <rss>"):
        parse_opml(b'<rss version="2.0"><channel/></rss>')
    with pytest.raises(ValueError, match="not well-formed OPML"):
        parse_opml(b"\x89PNG\r\n\x1a\n\x00\x00")


def test_it_does_not_resolve_external_entities(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    document = f"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY xxe SYSTEM "file://{secret}">]>
<opml version="2.0"><head><title>&xxe;</title></head><body>
  <outline text="x" xmlUrl="https://x.example/rss">&xxe;</outline>
</body></opml>""".encode()
    feeds = parse_opml(document)
    assert feeds == [OpmlFeed("https://x.example/rss", "x", "", "")]
    assert "TOP-SECRET" not in repr(feeds)


def test_it_refuses_external_entities_in_attributes(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    document = f"""<?xml version="1.0"?>
<!DOCTYPE opml [<!ENTITY xxe SYSTEM "file://{secret}">]>
<opml version="2.0"><body><outline text="&xxe;" xmlUrl="https://x.example/rss"/></body></opml>
""".encode()
    with pytest.raises(ValueError, match="not well-formed OPML"):
        parse_opml(document)


def test_it_refuses_an_entity_expansion_bomb() -> None:
    entities = '<!ENTITY e0 "lollollollollollollollollollol">' + "".join(
        f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, 10)
    )
    document = (
        f'<?xml version="1.0"?><!DOCTYPE opml [{entities}]><opml version="2.0"><body>'
        '<outline text="&e9;" xmlUrl="https://x.example/rss"/></body></opml>'
    ).encode()
    with pytest.raises(ValueError, match="not well-formed OPML"):
        parse_opml(document)
