"""The "Edit" link on public pages: shown to staff who may edit, never in a reader's copy
(issue 15, item 6). The topic page is cached three ways (in-process hot cache, rendered page
by ETag, readers' conditional requests): none may hand the staff copy to a reader."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tags import linking
from tags.models import TagDecision
from tests.factories import staff
from tests.pages_fixtures import make_article, make_many, make_tag

pytestmark = pytest.mark.django_db

TOPIC_EDIT = "Edit this topic"
ARTICLE_EDIT = "Edit this article"


def signed_in(username: str, group: str) -> Client:
    client = Client()
    client.force_login(staff(username, group))
    return client


@pytest.fixture
def hot(settings):
    # Production's caching: the in-process hot cache on, as well as the rendered-page cache.
    settings.NEWSDESK_HOT_PAGE_SECONDS = 10


def test_staff_get_the_edit_link_and_a_reader_after_them_never_does(hot):
    tag = make_tag("Tellurium")
    make_many(tag, 2)
    url = reverse("tag", args=[tag.slug])
    editor = signed_in("eddie", "Editors")
    reader = Client()

    mine = editor.get(url)
    assert TOPIC_EDIT in mine.content.decode()
    assert reverse("admin:tags_tag_change", args=[tag.pk]) in mine.content.decode()
    assert "private" in mine["Cache-Control"]
    assert "Cookie" in mine["Vary"]

    theirs = reader.get(url)
    assert theirs.status_code == 200
    assert TOPIC_EDIT not in theirs.content.decode()
    assert "Cookie" in theirs["Vary"]
    assert "private" not in theirs["Cache-Control"]
    assert theirs["ETag"] != mine["ETag"]
    # A reader revalidating a copy it never should have had gets the reader's page, not a 304.
    revalidated = reader.get(url, headers={"if-none-match": mine["ETag"]})
    assert revalidated.status_code == 200
    assert TOPIC_EDIT not in revalidated.content.decode()
    # Served again from the hot cache: still the reader's copy, still saying Vary: Cookie.
    again = reader.get(url)
    assert TOPIC_EDIT not in again.content.decode() and "Cookie" in again["Vary"]
    # And the staff member after the reader still gets the link (the hot cache is skipped).
    assert TOPIC_EDIT in editor.get(url).content.decode()
    assert editor.get(url, headers={"if-none-match": mine["ETag"]}).status_code == 304


def test_a_reader_first_then_staff_each_get_their_own_copy(hot):
    tag = make_tag("Indium")
    make_many(tag, 1)
    url = reverse("tag", args=[tag.slug])
    reader = Client()
    first = reader.get(url)
    assert TOPIC_EDIT not in first.content.decode()
    editor = signed_in("eddie", "Editors")
    assert editor.get(url, headers={"if-none-match": first["ETag"]}).status_code == 200
    assert TOPIC_EDIT in editor.get(url).content.decode()
    assert TOPIC_EDIT not in reader.get(url).content.decode()


def test_staff_without_the_permission_see_no_edit_link(hot):
    tag = make_tag("Bismuth")
    make_many(tag, 1)
    article = make_article("Bismuth story")
    operator = signed_in("olga", "Operators")
    assert TOPIC_EDIT not in operator.get(reverse("tag", args=[tag.slug])).content.decode()
    assert ARTICLE_EDIT not in operator.get(article.get_absolute_url()).content.decode()


def test_the_article_page_shows_staff_the_edit_link_and_hand_decisions_with_undo():
    tag = make_tag("Cobalt")
    article = make_article("Cobalt story", tags=[tag])
    user = staff("ruth", "Editors")
    linking.remove_tag_by_hand(article, tag, user)
    editor = Client()
    editor.force_login(user)
    page = editor.get(article.get_absolute_url())
    html = page.content.decode()
    assert ARTICLE_EDIT in html
    assert reverse("admin:articles_article_change", args=[article.pk]) in html
    assert "Removed by hand: Cobalt, by ruth" in html
    assert "csrfmiddlewaretoken" in html
    assert "private" in page["Cache-Control"] and "Cookie" in page["Vary"]

    reader = Client().get(article.get_absolute_url())
    assert ARTICLE_EDIT not in reader.content.decode()
    assert "Removed by hand" not in reader.content.decode()
    assert "csrfmiddlewaretoken" not in reader.content.decode()

    decision = TagDecision.objects.get()
    back = editor.post(
        reverse("admin:articles_article_undo_decision", args=[article.pk]),
        {"decision": decision.pk, "next": article.get_absolute_url()},
    )
    assert back["Location"] == article.get_absolute_url()
    assert not TagDecision.objects.exists()
    # Away to another site is refused: the undo goes back to the article's admin page.
    linking.remove_tag_by_hand(article, tag, user)
    elsewhere = editor.post(
        reverse("admin:articles_article_undo_decision", args=[article.pk]),
        {"decision": TagDecision.objects.get().pk, "next": "https://evil.example/"},
    )
    assert elsewhere["Location"] == reverse("admin:articles_article_change", args=[article.pk])
