"""The admin as editors and operators use it: permissions, rules, preview, merges, feeds."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from articles.models import Feed
from tags import linking
from tags.models import ArticleTag, RetagJob, Tag, TagDecision
from tests.factories import make_article, make_feed, make_tag, rss

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _only_test_tags():
    Tag.objects.all().delete()


def test_an_editor_can_curate_topics_but_not_touch_feeds(editor):
    feed = make_feed("https://example.org/feed")
    assert editor.get(reverse("admin:tags_tag_changelist")).status_code == 200
    assert editor.get(reverse("admin:articles_feed_changelist")).status_code == 403
    response = editor.post(
        reverse("admin:articles_feed_change", args=[feed.pk]), {"url": "https://evil.example/"}
    )
    assert response.status_code == 403
    feed.refresh_from_db()
    assert feed.url == "https://example.org/feed"


def test_an_operator_can_manage_feeds_but_not_change_topics(operator):
    tag = make_tag("tariffs")
    assert operator.get(reverse("admin:articles_feed_changelist")).status_code == 200
    response = operator.post(reverse("admin:tags_tag_change", args=[tag.pk]), {"name": "x"})
    assert response.status_code == 403


def tag_form(name: str, aliases=(), exclusions=(), **extra) -> dict:
    data = {
        "name": name,
        "slug": name.replace(" ", "-"),
        "description": "",
        "is_active": "on",
        "min_score": "1",
        "name_is_alias": "on",
        "strong_body_mentions": "3",
        "tagging_mode": "rules",
        "model_publish_at": "0.6",
        "model_review_at": "0.35",
        "model_veto_at": "0.1",
        "aliases-TOTAL_FORMS": str(len(aliases)),
        "aliases-INITIAL_FORMS": "0",
        "exclusions-TOTAL_FORMS": str(len(exclusions)),
        "exclusions-INITIAL_FORMS": "0",
    }
    for i, phrase in enumerate(aliases):
        data[f"aliases-{i}-phrase"] = phrase
    for i, phrase in enumerate(exclusions):
        data[f"exclusions-{i}-phrase"] = phrase
    data.update(extra)
    return data


def test_saving_new_rules_retags_existing_articles(editor, django_capture_on_commit_callbacks):
    article = make_article(title="Cobalt prices slide", text="Cobalt output in Congo rose.")
    with django_capture_on_commit_callbacks(execute=True):
        response = editor.post(reverse("admin:tags_tag_add"), tag_form("cobalt", ["cobalt"]))
    assert response.status_code == 302
    tag = Tag.objects.get(name="cobalt")
    assert ArticleTag.objects.filter(article=article, tag=tag).exists()
    assert RetagJob.objects.get(tag=tag).state == RetagJob.State.DONE
    tag.refresh_from_db()
    assert tag.article_count == 1


def test_the_topic_form_keeps_the_veto_level_at_or_below_the_publish_level(editor):
    data = tag_form("cobalt", ["cobalt"], tagging_mode="rules+model", model_veto_at="0.7")
    response = editor.post(reverse("admin:tags_tag_add"), data)
    assert response.status_code == 200
    assert "The veto level must not be above the publish level." in response.content.decode()
    assert not Tag.objects.filter(name="cobalt").exists()
    data["model_veto_at"] = "0.3"
    assert editor.post(reverse("admin:tags_tag_add"), data).status_code == 302
    assert Tag.objects.get(name="cobalt").model_veto_at == 0.3


def test_a_bad_tag_form_says_what_is_wrong(editor):
    make_tag("cobalt")
    response = editor.post(reverse("admin:tags_tag_add"), tag_form("cobalt", ["cobalt"]))
    assert response.status_code == 200
    assert "The topic “cobalt” already has this name." in response.content.decode()


def test_preview_shows_matches_with_terms_highlighted_and_saves_nothing(editor):
    make_article(title="Cobalt <b>prices</b> slide", summary="Congo's cobalt exports fell.")
    make_article(title="Cobalt quiz", summary="Test your cobalt knowledge.")
    make_article(title="Weather", summary="Rain.")
    data = tag_form("cobalt", ["cobalt"], ["quiz"])
    response = editor.post(reverse("admin:tags_tag_preview"), data)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<strong>1</strong> of the 3 most recent" in html
    assert "exclusions veto 1 more" in html
    assert "<mark>Cobalt</mark> &lt;b&gt;prices&lt;/b&gt; slide" in html
    assert not Tag.objects.filter(name="cobalt").exists()


def test_removing_a_topic_in_the_article_admin_is_remembered(editor):
    tag = make_tag("cobalt", aliases=["cobalt"])
    article = make_article(title="Cobalt prices slide")
    linking.tag_article(article)
    link = ArticleTag.objects.get(article=article)
    url = reverse("admin:articles_article_change", args=[article.pk])
    data = {
        "is_hidden": "",
        "editor_summary": "",
        "article_tags-TOTAL_FORMS": "1",
        "article_tags-INITIAL_FORMS": "1",
        "article_tags-0-id": str(link.pk),
        "article_tags-0-article": str(article.pk),
        "article_tags-0-tag": str(tag.pk),
        "article_tags-0-DELETE": "on",
        "feed_entries-TOTAL_FORMS": "0",
        "feed_entries-INITIAL_FORMS": "0",
    }
    response = editor.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert TagDecision.objects.get(article=article, tag=tag).decision == "remove"
    linking.tag_article(article)
    assert not ArticleTag.objects.filter(article=article).exists()


def test_bulk_actions_add_a_topic_and_hide_articles(editor):
    tag = make_tag("cobalt")
    first, second = make_article(), make_article()
    changelist = reverse("admin:articles_article_changelist")
    editor.post(
        changelist,
        {"action": "add_topic", "tag": tag.pk, "_selected_action": [first.pk, second.pk]},
    )
    tag.refresh_from_db()
    assert tag.article_count == 2
    editor.post(changelist, {"action": "hide", "_selected_action": [first.pk]})
    tag.refresh_from_db()
    assert tag.article_count == 1


def test_merging_in_the_admin_moves_articles_and_redirects_the_old_page(editor):
    old = make_tag("cobalt metal", aliases=["cobalt"])
    new = make_tag("cobalt")
    linking.tag_article(make_article(title="Cobalt prices slide"))
    response = editor.post(
        reverse("admin:tags_tag_changelist"),
        {"action": "merge_into", "apply": "1", "target": new.pk, "_selected_action": [old.pk]},
    )
    assert response.status_code == 302
    new.refresh_from_db()
    assert new.article_count == 1
    page = editor.get(reverse("tag", args=[old.slug]))
    assert page.status_code == 301
    assert page["Location"].endswith(reverse("tag", args=[new.slug]))


def test_an_operator_adds_a_feed_by_its_sites_address(
    operator, httpserver, django_capture_on_commit_callbacks
):
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss([{"title": "Hello", "link": "http://example.test/a"}], title="Cobalt Weekly"),
        content_type="application/rss+xml",
    )
    httpserver.expect_request("/").respond_with_data(
        '<html><head><link rel="alternate" type="application/rss+xml" href="/feed.xml">'
        "</head><body>Home</body></html>",
        content_type="text/html",
    )
    with django_capture_on_commit_callbacks() as queued:
        response = operator.post(
            reverse("admin:articles_feed_add"),
            {
                "url": httpserver.url_for("/"),
                "title": "",
                "is_active": "on",
                "poll_interval": "3600",
            },
        )
    assert response.status_code == 302, response.context["adminform"].form.errors
    # The request itself made no request: the address is stored as typed, the work queued.
    assert len(httpserver.log) == 0
    assert Feed.objects.get().url == httpserver.url_for("/")
    for callback in queued:
        callback()  # what the worker does
    feed = Feed.objects.get()
    assert feed.url == httpserver.url_for("/feed.xml")
    assert feed.last_status == Feed.Status.OK
    assert feed.articles.count() == 1


def test_importing_a_broken_opml_file_says_why(operator):
    upload = SimpleUploadedFile("feeds.opml", b"<opml><body><outline", "text/xml")
    response = operator.post(reverse("admin:articles_feed_import_opml"), {"file": upload})
    assert response.status_code == 200
    assert "not a readable OPML file" in response.content.decode()
    assert not Feed.objects.exists()


def test_importing_and_exporting_opml_in_the_admin(operator):
    opml = (
        b'<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>'
        b'<outline text="Mining" title="Mining"><outline type="rss" text="Ore Daily" '
        b'xmlUrl="https://ore.example/rss" htmlUrl="https://ore.example/"/></outline>'
        b"</body></opml>"
    )
    upload = SimpleUploadedFile("feeds.opml", opml, "text/xml")
    response = operator.post(reverse("admin:articles_feed_import_opml"), {"file": upload})
    assert response.status_code == 200
    assert "Added 1 feeds; 0 were known; 0 refused." in response.content.decode()
    assert Feed.objects.get().url == "https://ore.example/rss"
    exported = operator.get(reverse("admin:articles_feed_export_opml"))
    assert b"https://ore.example/rss" in exported.content


def test_poll_now_polls_the_chosen_feeds(operator, httpserver):
    httpserver.expect_request("/feed.xml").respond_with_data("gone", status=410)
    feed = make_feed(httpserver.url_for("/feed.xml"))
    operator.post(
        reverse("admin:articles_feed_changelist"),
        {"action": "poll_now", "_selected_action": [feed.pk]},
    )
    feed.refresh_from_db()
    assert feed.last_status == Feed.Status.DISABLED
    page = operator.get(reverse("admin:articles_feed_change", args=[feed.pk]))
    assert "gone for good" in page.content.decode()


PASSING_GOLD = "Markets were quiet on Monday.\n\nAnalysts said gold was not a factor in the rally."


def test_the_topic_form_edits_prominence_settings_and_retags(
    editor, django_capture_on_commit_callbacks
):
    tag = make_tag("gold", aliases=["bullion"])
    article = make_article(title="Shares rally", text=PASSING_GOLD)
    linking.tag_article(article)
    assert not ArticleTag.objects.get(article=article).is_visible
    page = editor.get(reverse("admin:tags_tag_change", args=[tag.pk])).content.decode()
    assert "Match the name" in page and "Body mentions to publish" in page
    assert "Publish weak matches" in page
    data = tag_form("gold", strong_body_mentions="1")
    with django_capture_on_commit_callbacks(execute=True):
        response = editor.post(reverse("admin:tags_tag_change", args=[tag.pk]), data)
    assert response.status_code == 302
    tag.refresh_from_db()
    assert (tag.strong_body_mentions, tag.name_is_alias, tag.publish_weak) == (1, True, False)
    assert RetagJob.objects.filter(tag=tag, state=RetagJob.State.DONE).exists()
    assert ArticleTag.objects.get(article=article).is_visible
    assert tag.article_count == 1
    data = tag_form("gold", strong_body_mentions="0")
    response = editor.post(reverse("admin:tags_tag_change", args=[tag.pk]), data)
    assert response.status_code == 200
    assert "greater than or equal to 1" in response.content.decode()


def test_publishing_weak_matches_from_the_form_lists_them_at_once(editor):
    tag = make_tag("gold")
    article = make_article(title="Shares rally", text=PASSING_GOLD)
    linking.tag_article(article)
    tag.refresh_from_db()
    assert tag.article_count == 0
    editor.post(
        reverse("admin:tags_tag_change", args=[tag.pk]), tag_form("gold", publish_weak="on")
    )
    tag.refresh_from_db()
    assert tag.publish_weak and tag.article_count == 1
    assert ArticleTag.objects.get(article=article).is_visible


def test_preview_shows_what_a_change_adds_and_drops_with_the_passage(editor):
    tag = make_tag("gold", aliases=["bullion"])
    passing = make_article(title="Shares rally", text=PASSING_GOLD)
    titled = make_article(title="Gold <i>shines</i>", text="Dealers were busy.")
    named = make_article(title="Miner results", text="Kiena Gold Mines Ltd said profit rose.")
    for article in (passing, titled, named):
        linking.tag_article(article)
    # Today: only the title hit is listed; now the editor drops the name as an alias and
    # lets one body mention publish.
    data = tag_form("gold", ["bullion", "gold"], strong_body_mentions="1", _tag_id=str(tag.pk))
    data["name_is_alias"] = ""
    data["aliases-0-phrase"], data["aliases-1-phrase"] = "bullion", "precious metal"
    response = editor.post(reverse("admin:tags_tag_preview"), data)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="preview-added">0<' in html
    assert 'id="preview-dropped">1<' in html
    assert "Gold &lt;i&gt;shines&lt;/i&gt;" in html
    data["name_is_alias"] = "on"
    html = editor.post(reverse("admin:tags_tag_preview"), data).content.decode()
    assert 'id="preview-added">1<' in html
    assert 'id="preview-dropped">0<' in html
    assert "Analysts said <mark>gold</mark> was not a factor" in html
    assert "strong rule match: “gold” in body" in html
    # The company name stays weak whatever the threshold.
    assert 'id="preview-weak">1<' in html
    tag.refresh_from_db()
    assert tag.strong_body_mentions == 3


def test_the_article_admin_explains_every_link(editor):
    make_tag("gold")
    article = make_article(title="Gold rises", text="Markets.\n\nKiena Gold Mines Ltd rose.")
    linking.tag_article(article)
    html = editor.get(reverse("admin:articles_article_change", args=[article.pk])).content
    assert "strong rule match: “gold” in title, body (1 inside a name)" in html.decode()
    weak = make_article(title="Shares", text=PASSING_GOLD)
    linking.tag_article(weak)
    html = editor.get(reverse("admin:articles_article_change", args=[weak.pk])).content.decode()
    assert "weak rule match (one passing mention or a name): “gold” in body" in html
    assert "not published" in html
    listing = editor.get(reverse("admin:tags_articletag_changelist")).content.decode()
    assert "not published" in listing
