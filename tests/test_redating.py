"""An article's date can move after it is first stored: the publisher corrects it, or a page
fetched again carries one the first fetch lacked. Topic pages and stories read copies of the
date (on the links, on the memberships) so they stay one index range scan; those copies must
follow the article, through the path an operator takes (fetch again, extract, announce)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import unescape

import pytest

from articles import ingest
from articles.models import Article
from stories.models import Story, StoryMembership
from tags import linking
from tags.models import ArticleTag, Tag
from tests.factories import article_html, make_feed, rss

pytestmark = pytest.mark.django_db

LEAD = (
    "Japan said on Tuesday that mud dredged from the seabed near Minami-Torishima holds enough "
    "neodymium and dysprosium to supply its magnet makers for decades, and that a trial ship "
    "would start lifting it from a depth of 5,500 metres next January."
)
FIRST = ("Japan finds rare earth mud near Minami-Torishima", LEAD)
SECOND = (
    "Rare earth mud found off Minami-Torishima, Japan says",
    LEAD + " The trade ministry did not say what the project would cost.",
)


def serve(httpserver, first_date: str, second_date: str) -> str:
    httpserver.clear()
    httpserver.no_handler_status_code = 404  # clear() forgets it: no robots.txt is a 404
    for path, (title, lead), date in (
        ("/a/first", FIRST, first_date),
        ("/a/second", SECOND, second_date),
    ):
        httpserver.expect_request(path).respond_with_data(
            article_html(title, [lead], published=date), content_type="text/html; charset=utf-8"
        )
    # Undated entries: the page's own date is the article's.
    items = [
        {"title": FIRST[0], "link": httpserver.url_for("/a/first"), "published": None},
        {"title": SECOND[0], "link": httpserver.url_for("/a/second"), "published": None},
    ]
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss(items), content_type="application/rss+xml"
    )
    return httpserver.url_for("/feed.xml")


def fetch_again(article: Article) -> Article:
    """What the article admin's "Fetch again" action queues, run by the fetch verb."""
    Article.objects.filter(pk=article.pk).update(
        status=Article.Status.PENDING, fetch_attempts=0, queued_at=None
    )
    return ingest.fetch_article(Article.objects.get(pk=article.pk))


def entries(client, tag: Tag) -> tuple[list[str], str, str]:
    response = client.get(f"/tags/{tag.slug}/")
    assert response.status_code == 200
    html = response.content.decode()
    titles = re.findall(r'class="entry-title" dir="auto"><a href="[^"]+">([^<]+)</a>', html)
    total = re.search(r'<p class="total">([^<]+)</p>', html).group(1)
    return [unescape(t) for t in titles], total, response["ETag"]


def test_a_corrected_date_moves_the_article_on_topic_pages_and_in_its_story(httpserver, client):
    tag = Tag.objects.get(slug="rare-earths")
    feed = make_feed(serve(httpserver, "2026-11-02T09:00:00+00:00", "2026-11-03T09:00:00+00:00"))
    ingest.ingest_feeds([feed])
    first = Article.objects.get(title=FIRST[0])
    second = Article.objects.get(title=SECOND[0])
    story = StoryMembership.objects.get(article=first).story
    assert StoryMembership.objects.get(article=second).story == story
    story.refresh_from_db()
    assert story.lead_id == first.pk  # the earliest full report
    titles, total, etag = entries(client, tag)
    assert (titles, total) == ([FIRST[0]], "Total: 2 articles found in 1 story")

    # The publisher corrects the first report's date to after the second's; an operator
    # fetches it again.
    serve(httpserver, "2026-11-04T09:00:00+00:00", "2026-11-03T09:00:00+00:00")
    first = fetch_again(first)
    corrected = datetime(2026, 11, 4, 9, tzinfo=UTC)
    assert first.published_at == corrected

    assert ArticleTag.objects.get(article=first, tag=tag).published_at == corrected
    assert StoryMembership.objects.get(article=first).published_at == corrected
    story = Story.objects.get(pk=story.pk)
    assert story.first_published_at == datetime(2026, 11, 3, 9, tzinfo=UTC)
    assert story.last_published_at == corrected
    assert story.lead_id == second.pk  # now the earliest full report
    titles, total, _ = entries(client, tag)
    assert (titles, total) == ([SECOND[0]], "Total: 2 articles found in 1 story")
    assert linking.recount([tag.pk]) == 0
    # A reader holding the page from before the correction gets the new one.
    assert client.get(f"/tags/{tag.slug}/", HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_a_date_that_did_not_move_leaves_links_and_stories_alone(
    httpserver, django_assert_max_num_queries
):
    feed = make_feed(serve(httpserver, "2026-11-02T09:00:00+00:00", "2026-11-03T09:00:00+00:00"))
    ingest.ingest_feeds([feed])
    first = Article.objects.get(title=FIRST[0])
    story = StoryMembership.objects.get(article=first).story
    before = Story.objects.filter(pk=story.pk).values_list("updated_at", flat=True).get()
    assert linking.redate_links(first) == set()
    from stories import assignment

    with django_assert_max_num_queries(1):  # one look, no lock
        assert assignment.redate(first) is False
    assert Story.objects.filter(pk=story.pk).values_list("updated_at", flat=True).get() == before
