"""OPML import checks every outline with the client's URL rules and reports each one."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from articles.feedlist import import_opml
from articles.models import Feed

pytestmark = pytest.mark.django_db


def opml(*urls: str) -> bytes:
    outlines = "".join(
        f'<outline type="rss" text="Feed {n}" xmlUrl="{url}"/>' for n, url in enumerate(urls)
    )
    return (
        f'<?xml version="1.0"?><opml version="2.0"><head><title>t</title></head><body>'
        f'<outline text="Folder">{outlines}</outline></body></opml>'
    ).encode()


@pytest.fixture
def hostile_opml(httpserver) -> tuple[bytes, str]:
    good = httpserver.url_for("/good.xml")
    other_port = httpserver.port + 1 if httpserver.port < 65535 else httpserver.port - 1
    body = opml(
        good,
        good + "?utm_source=opml",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http://169.254.169.254/latest/meta-data/",
        f"http://localhost:{other_port}/feed.xml",
        f"http://127.0.0.1:{httpserver.port}/good.xml",
        "http://10.0.0.8/feed.xml",
        "https://news.invalid/feed.xml",
    ).replace(b"&", b"&amp;")
    return body, good


def test_every_outline_is_added_known_or_refused_with_a_reason(hostile_opml) -> None:
    body, good = hostile_opml
    report = import_opml(body)
    outcomes = [(r.outcome, r.detail) for r in report.results]
    assert outcomes[0] == ("added", "")
    assert outcomes[1] == ("known", "already subscribed")
    assert outcomes[2] == ("refused", "the file: scheme is refused; only http and https")
    assert outcomes[3] == ("refused", "the javascript: scheme is refused; only http and https")
    assert outcomes[4][0] == "refused" and "cloud metadata" in outcomes[4][1]
    assert outcomes[5][0] == "refused" and "loopback" in outcomes[5][1]
    assert outcomes[6][0] == "refused" and "loopback" in outcomes[6][1]
    assert outcomes[7][0] == "refused" and "private" in outcomes[7][1]
    assert outcomes[8][0] == "added" and "could not resolve news.invalid" in outcomes[8][1]
    assert sorted(Feed.objects.values_list("url", flat=True)) == sorted(
        [good, "https://news.invalid/feed.xml"]
    )
    assert report.summary() == "Added 2 feeds; 1 were known; 6 refused."


def test_a_tracking_variant_of_a_known_feed_is_skipped(httpserver) -> None:
    Feed.objects.create(url=httpserver.url_for("/good.xml"))
    report = import_opml(
        opml(httpserver.url_for("/good.xml") + "?utm_source=x").replace(b"&", b"&amp;")
    )
    assert [r.outcome for r in report.results] == ["known"]
    assert Feed.objects.count() == 1


def test_the_command_prints_each_outline(hostile_opml, tmp_path, capsys) -> None:
    body, good = hostile_opml
    path = tmp_path / "feeds.opml"
    path.write_bytes(body)
    call_command("importopml", str(path))
    out = capsys.readouterr().out
    assert f"added    {good}" in out
    assert "refused  file:///etc/passwd  (the file: scheme is refused" in out
    assert "refused  http://169.254.169.254/latest/meta-data/  (refused: " in out
    assert "Added 2 feeds; 1 were known; 6 refused." in out


def test_the_admin_page_lists_each_outline(hostile_opml, admin_client) -> None:
    body, _ = hostile_opml
    upload = SimpleUploadedFile("feeds.opml", body, "text/xml")
    response = admin_client.post(reverse("admin:articles_feed_import_opml"), {"file": upload})
    assert response.status_code == 200
    page = response.content.decode()
    assert page.count('class="opml-refused"') == 6
    assert page.count('class="opml-added"') == 2
    assert "javascript:alert(1)" in page
    assert "cloud metadata" in page
