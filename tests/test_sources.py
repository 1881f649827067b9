"""Sources are publishers named after themselves; their text is shown only where licensed."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from articles.models import Source
from articles.sources import adopt_name, source_for, source_for_site
from tests.pages_fixtures import make_article, make_source, make_tag

pytestmark = pytest.mark.django_db


def test_three_publishers_behind_one_host_are_three_sources():
    ledger = source_for_site("http://127.0.0.1:8765/harbour-ledger/")
    wire = source_for_site("http://127.0.0.1:8765/mineral-wire/", "Mineral Wire")
    again = source_for_site("http://127.0.0.1:8765/harbour-ledger/")
    assert ledger.pk == again.pk != wire.pk
    assert wire.name == "Mineral Wire"
    # An article reached without a feed belongs to its whole host, as before.
    assert source_for("https://example.org/2026/05/story.html").url == "https://example.org/"


def test_a_source_takes_the_best_name_seen_and_keeps_an_editors():
    source = source_for_site("https://ledger.example/")
    assert (source.name, source.name_origin) == ("ledger.example", Source.NameOrigin.HOST)
    assert adopt_name(source.pk, "Ledger: all stories", Source.NameOrigin.FEED)
    assert adopt_name(source.pk, "Harbour  Ledger", Source.NameOrigin.PAGE)
    assert not adopt_name(source.pk, "Ledger again", Source.NameOrigin.FEED)
    source.refresh_from_db()
    assert source.name == "Harbour Ledger"


def test_an_editor_renames_a_source_in_the_admin_and_ingestion_leaves_it(client):
    admin = get_user_model().objects.create_superuser("boss", "boss@example.org", "pw-12345-x")
    client.force_login(admin)
    source = source_for_site("https://ledger.example/")
    url = reverse("admin:articles_source_change", args=[source.pk])
    response = client.post(
        url,
        {
            "name": "The Harbour Ledger",
            "domain": source.domain,
            "url": source.url,
            "full_text_licensed": "on",
            "created_at_0": "2026-01-01",
            "created_at_1": "00:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    source.refresh_from_db()
    assert (source.name, source.name_origin) == ("The Harbour Ledger", Source.NameOrigin.EDITOR)
    assert source.full_text_licensed
    assert not adopt_name(source.pk, "Harbour Ledger", Source.NameOrigin.PAGE)


def _article(licensed: bool):
    source = make_source("Metal Times", f"metal{int(licensed)}.example")
    source.full_text_licensed = licensed
    source.save()
    return make_article(
        "Smelter expands",
        tags=[make_tag(f"Smelting {int(licensed)}")],
        source=source,
        url="https://metaltimes.example/smelter",
        summary="Our own summary of the smelter story.",
        text="The publisher's first paragraph.\n\nThe publisher's second paragraph.",
    )


def test_the_article_page_shows_summary_and_a_link_not_the_publishers_text(client):
    article = _article(licensed=False)
    html = client.get(reverse("article", args=[article.pk])).content.decode()
    assert "Our own summary of the smelter story." in html
    assert "first paragraph" not in html and "second paragraph" not in html
    assert (
        '<p class="read-more read-original"><a href="https://metaltimes.example/smelter" '
        'rel="noopener nofollow">Read the full article at Metal Times</a></p>' in html
    )


def test_the_article_page_shows_the_full_text_of_a_licensed_source(client):
    article = _article(licensed=True)
    html = client.get(reverse("article", args=[article.pk])).content.decode()
    assert "first paragraph" in html and "second paragraph" in html
    assert "https://metaltimes.example/smelter" in html


@pytest.mark.parametrize("name", ["feed_atom", "feed_rss"])
def test_feeds_carry_summary_and_link_only(client, name):
    article = _article(licensed=False)
    body = client.get(reverse(name)).content.decode()
    assert "Our own summary of the smelter story." in body
    assert "first paragraph" not in body
    assert "Read more at" in body and article.url in body
