"""A real Celery worker places ingested articles in stories: two publishers retelling one event
land in one story, an unrelated page in another, and a re-delivered article changes nothing."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from articles.models import Article, Source
from stories.models import Story, StoryMembership
from tests.factories import article_html, make_feed, rss
from tests.test_worker import send_poll, wait_for, worker, worker_settles  # noqa: F401 - the worker fixture

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

# Written for this test: one event (a ferry aground) told twice in different words, and
# something else entirely.
KUSTKRANT = [
    "The passenger ferry Friesland Star ran aground on a sandbank off Vlieland early on Sunday "
    "in thick fog, and lifeboats from Terschelling and Harlingen brought all 212 people aboard "
    "safely ashore, the coast guard said.",
    "The operator, Doeksen, said divers had found a breach in the hull below the waterline. "
    "Salvage tugs will try to refloat the vessel at the next high tide.",
]
HAVENBLAD = [
    "Lifeboats took 212 passengers off the Doeksen ferry Friesland Star after it struck a "
    "sandbank near Vlieland on Sunday morning. Nobody was injured, according to the coast guard.",
    "Fog had closed in minutes after the ship left the harbour. Its hull was holed below the "
    "waterline, and tugs are standing by to pull it free when the tide rises.",
]
ORCHARD = [
    "Frost in late April destroyed most of the cherry blossom in the orchards of the Betuwe, "
    "growers said, and the harvest in Gelderland could be the smallest in thirty years.",
    "Some farmers ran sprinklers through the night to coat the buds in ice, but the temperature "
    "fell to minus five degrees before dawn.",
]
SUNDAY = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def publish(httpserver, prefix: str, name: str, pages: list[tuple[str, str, list[str]]]):
    """A publisher at its own path: article pages and its feed."""
    items = []
    for slug, title, paragraphs in pages:
        httpserver.expect_request(f"/{prefix}/{slug}").respond_with_data(
            article_html(title, paragraphs, published=SUNDAY.isoformat()),
            content_type="text/html; charset=utf-8",
        )
        items.append(
            {"title": title, "link": httpserver.url_for(f"/{prefix}/{slug}"), "published": SUNDAY}
        )
    httpserver.expect_request(f"/{prefix}/feed.xml").respond_with_data(
        rss(items, title=name, link=httpserver.url_for(f"/{prefix}/")),
        content_type="application/rss+xml",
    )
    source = Source.objects.create(
        name=name, domain="127.0.0.1", url=httpserver.url_for(f"/{prefix}/")
    )
    return make_feed(httpserver.url_for(f"/{prefix}/feed.xml"), source=source)


def test_a_worker_puts_two_publishers_retelling_one_event_in_one_story(httpserver, worker):  # noqa: F811
    kust = publish(
        httpserver,
        "kustkrant",
        "Kustkrant",
        [
            ("ferry", "Ferry Friesland Star aground off Vlieland, 212 rescued", KUSTKRANT),
            ("frost", "Frost wipes out Betuwe cherry blossom", ORCHARD),
        ],
    )
    haven = publish(
        httpserver,
        "havenblad",
        "Havenblad",
        [("veerboot", "Lifeboats take 212 off stranded Friesland Star", HAVENBLAD)],
    )
    send_poll(kust.pk)
    send_poll(haven.pk)

    def all_placed() -> bool:
        return StoryMembership.objects.count() == 3

    assert wait_for(all_placed, timeout=90), (
        f"placed {StoryMembership.objects.count()} of "
        f"{Article.objects.filter(status=Article.Status.OK).count()} extracted articles"
    )
    story_of = {
        m.article.source.name + ":" + m.article.url.rsplit("/", 1)[-1]: m.story_id
        for m in StoryMembership.objects.select_related("article__source")
    }
    assert story_of["Kustkrant:ferry"] == story_of["Havenblad:veerboot"]
    assert story_of["Kustkrant:frost"] != story_of["Kustkrant:ferry"]
    story = Story.objects.get(pk=story_of["Kustkrant:ferry"])
    assert (story.article_count, story.source_count) == (2, 2)
    assert story.lead_id is not None

    # The extraction's signal delivered again (the sweep's re-announce): nothing changes.
    from articles.ingest import announce

    before = list(StoryMembership.objects.order_by("pk").values_list("pk", "story_id"))
    for article in Article.objects.all():
        announce(article)
    time.sleep(0.5)
    assert list(StoryMembership.objects.order_by("pk").values_list("pk", "story_id")) == before
    assert Story.objects.count() == 2
