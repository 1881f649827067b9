"""The topic form refuses what it cannot keep, and says why (issue 15 item 5)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tags.models import Tag
from tests.factories import make_tag
from tests.test_admin import tag_form

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _only_test_tags():
    Tag.objects.all().delete()


def add(client, data):
    response = client.post(reverse("admin:tags_tag_add"), data)
    return response, response.content.decode()


def test_a_long_alias_is_refused_with_its_length_not_cut(editor):
    form = editor.get(reverse("admin:tags_tag_add")).content.decode()
    # A browser silently cuts pasted text at maxlength: the server says what is wrong instead.
    assert 'name="aliases-0-phrase" maxlength' not in form
    assert 'maxlength="200" id="id_aliases-0-phrase"' not in form
    response, html = add(editor, tag_form("cobalt", ["cobalt " * 40]))
    assert response.status_code == 200
    assert "An alias can be at most 200 characters; this one has 279." in html
    assert not Tag.objects.exists()


def test_case_variant_duplicate_aliases_in_a_topic_are_refused(editor):
    response, html = add(editor, tag_form("magnets", ["Neodymium magnets", "neodymium Magnets"]))
    assert response.status_code == 200
    assert "“neodymium Magnets” repeats the alias “Neodymium magnets”" in html
    assert not Tag.objects.exists()


def test_a_case_variant_topic_name_is_refused_naming_the_clash(editor):
    make_tag("Magnets")
    response, html = add(editor, tag_form("magnets"))
    assert response.status_code == 200
    assert "The topic “Magnets” already has this name" in html
    assert Tag.objects.count() == 1


def test_a_name_held_by_a_merged_away_topic_says_where_it_went(editor):
    target = make_tag("rare earths")
    make_tag("REE", merged_into=target, is_active=False)
    _, html = add(editor, tag_form("ree"))
    assert "The topic “REE” (merged into rare earths) already has this name" in html


def test_a_negative_minimum_score_is_refused(editor):
    response, html = add(editor, tag_form("cobalt", min_score="-1"))
    assert response.status_code == 200
    assert "Ensure this value is greater than or equal to 0" in html
    assert not Tag.objects.exists()


def test_a_refused_admin_page_is_the_admins_styled_page(editor):
    response = editor.get(reverse("admin:articles_feed_changelist"))
    assert response.status_code == 403
    html = response.content.decode()
    assert "admin/css/base.css" in html
    assert "You do not have permission" in html
    assert "eddie" in html.lower() or "log out" in html.lower()


def test_the_admin_says_newsdesk_topics_and_counts_in_good_english(editor):
    from tests.factories import make_article

    home = editor.get(reverse("admin:index")).content.decode()
    assert "Newsdesk administration" in home
    assert "Django administration" not in home
    assert ">Topics</a>" in home
    # The site says "topics" and editors decide by hand: no "tags" left in the sidebar.
    assert ">Hand decisions</a>" in home and "Tag decisions" not in home
    article = make_article(title="A quiet day")
    response = editor.post(
        reverse("admin:articles_article_changelist"),
        {"action": "hide", "_selected_action": [article.pk]},
        follow=True,
    )
    assert "Hid 1 article." in response.content.decode()
