"""ETag and Last-Modified change whenever anything a topic page or feed shows changes.

A reader's cache revalidates with If-None-Match or, for many feed readers, If-Modified-Since
alone; either must get the new body, never a 304, after an editor's change.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tags import linking
from tests.pages_fixtures import make_article, make_source, make_tag

pytestmark = pytest.mark.django_db

PAGES = ["tag", "tag_feed_atom", "tag_feed_rss", "feed_atom", "feed_rss"]


def _url(name: str, slug: str) -> str:
    return reverse(name, args=[slug]) if name.startswith("tag") else reverse(name)


def _stale(client, url: str, before) -> list[str]:
    """Which validators of the earlier response the server still accepts (answers 304 to)."""
    stale = []
    if client.get(url, headers={"if-none-match": before["ETag"]}).status_code == 304:
        stale.append("ETag")
    if client.get(url, headers={"if-modified-since": before["Last-Modified"]}).status_code == 304:
        stale.append("Last-Modified")
    return stale


def _backdate(*objects) -> None:
    """Rows written a while ago, so a second-granular Last-Modified can tell later edits."""
    from articles.models import Article
    from tags.models import Tag

    past = timezone.now() - timedelta(hours=1)
    # Creating a topic moves every topic's stamp (its name may show anywhere): all of it is old.
    Tag.objects.update(content_changed_at=past)
    for obj in objects:
        model = Article if isinstance(obj, Article) else Tag
        fields = (
            {"updated_at": past}
            if model is Article
            else {"content_changed_at": past, "rules_changed_at": past, "created_at": past}
        )
        model.objects.filter(pk=obj.pk).update(**fields)


@pytest.fixture
def shown():
    tag = make_tag("Tungsten", description="Latest on tungsten")
    now = timezone.now()
    newest = make_article(
        "Newest tungsten story", tags=[tag], published_at=now - timedelta(hours=2)
    )
    older = make_article("Older tungsten story", tags=[tag], published_at=now - timedelta(hours=5))
    _backdate(newest, older, tag)
    return tag, newest, older


@pytest.mark.parametrize("name", PAGES)
def test_an_editors_summary_changes_the_validators(client, shown, name):
    tag, _newest, older = shown
    url = _url(name, tag.slug)
    before = client.get(url)
    assert _stale(client, url, before) == ["ETag", "Last-Modified"]

    older.editor_summary = "An editor's better summary."
    older.save()

    assert _stale(client, url, before) == []
    assert "better summary." in client.get(url).content.decode()


@pytest.mark.parametrize("name", PAGES)
def test_hiding_an_article_that_is_not_the_newest_changes_the_validators(client, shown, name):
    tag, _newest, older = shown
    url = _url(name, tag.slug)
    before = client.get(url)

    linking.set_hidden([older], True)

    assert _stale(client, url, before) == []
    assert "Older tungsten story" not in client.get(url).content.decode()


@pytest.mark.parametrize("name", PAGES)
def test_a_title_edit_changes_the_validators(client, shown, name):
    tag, _newest, older = shown
    url = _url(name, tag.slug)
    before = client.get(url)

    older.title = "Retitled tungsten story"
    older.save()

    assert _stale(client, url, before) == []
    assert "Retitled tungsten story" in client.get(url).content.decode()


@pytest.mark.parametrize("name", ["tag", "tag_feed_atom", "tag_feed_rss"])
def test_a_topics_description_changes_the_validators(client, shown, name):
    tag, _newest, _older = shown
    url = _url(name, tag.slug)
    before = client.get(url)

    tag.description = "Everything about tungsten, daily"
    tag.save()

    assert _stale(client, url, before) == []
    assert "Everything about tungsten, daily" in client.get(url).content.decode()


@pytest.mark.parametrize("name", PAGES)
def test_a_renamed_source_changes_the_validators(client, shown, name):
    tag, newest, _older = shown
    source = make_source("Old Name Gazette", "gazette.example")
    newest.source = source
    newest.save()
    _backdate(newest, tag)
    url = _url(name, tag.slug)
    before = client.get(url)

    source.name = "New Name Gazette"
    source.save()

    assert _stale(client, url, before) == []
    assert "New Name Gazette" in client.get(url).content.decode()


def test_another_topics_new_name_changes_the_page_showing_it(client, shown):
    tag, newest, _older = shown
    other = make_tag("Wolfram ore")
    linking.add_tag_by_hand(newest, other)
    _backdate(newest, tag, other)
    url = reverse("tag", args=[tag.slug])
    before = client.get(url)
    assert "Wolfram ore" in before.content.decode()

    other.name = "Wolframite"
    other.save()

    assert _stale(client, url, before) == []
    assert "Wolframite" in client.get(url).content.decode()


def test_a_revalidation_still_costs_one_query(client, shown, django_assert_num_queries):
    tag, _newest, _older = shown
    url = reverse("tag", args=[tag.slug])
    etag = client.get(url)["ETag"]
    with django_assert_num_queries(1):
        assert client.get(url, headers={"if-none-match": etag}).status_code == 304
