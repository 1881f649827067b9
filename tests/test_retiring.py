"""Retiring topics in the admin: archived with a redirect, deleted through the background job,
and merged-away topics kept out of editors' hands (issue 15 item 4)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from tags import linking
from tags.merging import merge_tags
from tags.models import ArticleTag, RetagJob, Tag, TagDecision
from tests.factories import make_article, make_tag

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _only_test_tags():
    Tag.objects.all().delete()


def tagged(title: str):
    article = make_article(title=title)
    linking.tag_article(article)
    return article


def test_an_editor_archives_a_topic_and_its_page_redirects_to_the_parent(editor):
    metals = make_tag("critical minerals")
    cobalt = make_tag("cobalt", aliases=["cobalt"], parent=metals)
    tagged("Cobalt prices slide")
    response = editor.post(
        reverse("admin:tags_tag_changelist"),
        {"action": "archive", "_selected_action": [cobalt.pk]},
        follow=True,
    )
    assert "Archived 1 topic:" in response.content.decode()
    cobalt.refresh_from_db()
    assert not cobalt.is_active
    page = editor.get(reverse("tag", args=[cobalt.slug]))
    assert (page.status_code, page["Location"]) == (302, reverse("tag", args=[metals.slug]))
    # Its links stay (bringing it back needs no retag) but readers no longer see the topic.
    assert ArticleTag.objects.filter(tag=cobalt).exists()


def test_an_archived_topic_without_a_parent_redirects_to_the_index(client):
    tag = make_tag("cobalt", is_active=False)
    page = client.get(reverse("tag", args=[tag.slug]))
    assert (page.status_code, page["Location"]) == (302, reverse("tag_index"))
    assert client.get(reverse("tag_feed_rss", args=[tag.slug])).status_code == 404


def test_an_editor_deletes_a_topic_with_articles_through_the_job(
    editor, django_capture_on_commit_callbacks
):
    tag = make_tag("cobalt", aliases=["cobalt"])
    tagged("Cobalt prices slide")
    tagged("Cobalt output rises")
    url = reverse("admin:tags_tag_delete", args=[tag.pk])
    confirm = editor.get(url)
    assert confirm.status_code == 200
    assert "its 2 article links, removed in the background" in confirm.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = editor.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Tag.objects.filter(pk=tag.pk).exists()
    assert RetagJob.objects.get(kind="delete").state == RetagJob.State.DONE
    assert not ArticleTag.objects.exists()


def test_merged_away_topics_are_listed_apart(editor):
    old, target = make_tag("REE"), make_tag("rare earths")
    make_tag("cobalt", is_active=False)
    merge_tags(old, target)
    changelist = reverse("admin:tags_tag_changelist")
    default = editor.get(changelist).context["cl"].result_list
    assert {t.name for t in default} == {"rare earths", "cobalt"}
    merged = editor.get(changelist, {"state": "merged"}).context["cl"].result_list
    assert [t.name for t in merged] == ["REE"]
    found = editor.get(
        reverse("admin:autocomplete"),
        {"app_label": "tags", "model_name": "articletag", "field_name": "tag", "term": "R"},
    )
    assert found.status_code == 200
    assert [r["text"] for r in found.json()["results"]] == ["rare earths"]


def test_a_merged_away_topic_cannot_be_added_to_an_article_by_hand(editor):
    old, target = make_tag("REE"), make_tag("rare earths")
    merge_tags(old, target)
    article = make_article(title="A quiet day")
    data = {
        "is_hidden": "",
        "editor_summary": "",
        "article_tags-TOTAL_FORMS": "1",
        "article_tags-INITIAL_FORMS": "0",
        "article_tags-0-article": str(article.pk),
        "article_tags-0-tag": str(old.pk),
        "feed_entries-TOTAL_FORMS": "0",
        "feed_entries-INITIAL_FORMS": "0",
    }
    response = editor.post(reverse("admin:articles_article_change", args=[article.pk]), data)
    assert response.status_code == 200
    assert "REE was merged into rare earths; add rare earths." in response.content.decode()
    assert not ArticleTag.objects.filter(article=article).exists()
    decision = editor.post(
        reverse("admin:tags_tagdecision_add"),
        {"article": article.pk, "tag": old.pk, "decision": "add"},
    )
    assert "REE was merged into rare earths" in decision.content.decode()
    assert not TagDecision.objects.exists()


def test_a_decisions_editor_and_date_are_recorded_not_typed(editor):
    tag = make_tag("cobalt")
    article = make_article(title="A quiet day")
    other = User.objects.create_user("mallory")
    response = editor.post(
        reverse("admin:tags_tagdecision_add"),
        {"article": article.pk, "tag": tag.pk, "decision": "add", "editor": other.pk},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    decision = TagDecision.objects.get()
    assert decision.editor.username == "eddie"
    assert ArticleTag.objects.filter(article=article, tag=tag, origin="editor").exists()
    form = editor.get(reverse("admin:tags_tagdecision_change", args=[decision.pk]))
    assert 'name="editor"' not in form.content.decode()
    assert 'name="decided_at' not in form.content.decode()


def test_the_article_list_shows_and_filters_by_topic(editor):
    cobalt = make_tag("cobalt", aliases=["cobalt"])
    make_tag("nickel", aliases=["nickel"])
    on_cobalt = tagged("Cobalt prices slide")
    tagged("Nickel output rises")
    changelist = reverse("admin:articles_article_changelist")
    html = editor.get(changelist).content.decode()
    assert '<td class="field-topics">cobalt</td>' in html
    filtered = editor.get(changelist, {"topic": cobalt.slug}).context["cl"].result_list
    assert [a.pk for a in filtered] == [on_cobalt.pk]
