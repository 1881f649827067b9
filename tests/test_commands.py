"""The operators' shell commands."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from articles.models import Article, Feed
from tags.models import RetagJob, Tag
from tests.factories import article_html, make_article, make_feed, rss

pytestmark = pytest.mark.django_db

TEXT = "Cobalt exports from Congo fell sharply as the government extended its quota system."


@pytest.fixture
def feed(httpserver):
    httpserver.expect_request("/a/1").respond_with_data(
        article_html("Cobalt quota extended", [TEXT]), content_type="text/html"
    )
    httpserver.expect_request("/a/2").respond_with_data("missing", status=404)
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss(
            [
                {"title": "Cobalt quota extended", "link": httpserver.url_for("/a/1")},
                {"title": "Gone", "link": httpserver.url_for("/a/2")},
            ]
        ),
        content_type="application/rss+xml",
    )
    return make_feed(httpserver.url_for("/feed.xml"))


def test_ingest_prints_a_table_of_what_happened(feed, capsys):
    call_command("ingest", "--all")
    out = capsys.readouterr().out
    assert "feeds ok                                     1" in out
    assert "new articles                                 2" in out
    assert "article errors                               1" in out
    assert "404" in out


def test_ingest_one_feed_by_url_and_an_unknown_feed_is_an_error(feed):
    call_command("ingest", "--feed", feed.url)
    assert Article.objects.count() == 2
    with pytest.raises(CommandError, match="No feed"):
        call_command("ingest", "--feed", "https://nowhere.example/feed")


def test_addfeed_accepts_a_feed_url_with_a_default_topic(feed, capsys):
    feed.delete()
    call_command("addfeed", feed.url, "--tag", "china")
    added = Feed.objects.get()
    assert list(added.default_tags.values_list("slug", flat=True)) == ["china"]
    assert "Added feed" in capsys.readouterr().out


def test_addfeed_explains_a_page_without_a_feed(httpserver):
    httpserver.expect_request("/").respond_with_data(
        "<html><body>hi</body></html>", content_type="text/html"
    )
    with pytest.raises(CommandError, match="names no feed"):
        call_command("addfeed", httpserver.url_for("/"))


def test_opml_round_trip_through_the_commands(tmp_path):
    make_feed("https://ore.example/rss", title="Ore Daily")
    out = tmp_path / "feeds.opml"
    call_command("exportopml", "--output", str(out))
    Feed.objects.all().delete()
    call_command("importopml", str(out))
    assert Feed.objects.get().url == "https://ore.example/rss"


def test_importopml_reports_an_unreadable_file(tmp_path):
    bad = tmp_path / "bad.opml"
    bad.write_text("not xml at all <")
    with pytest.raises(CommandError):
        call_command("importopml", str(bad))


def test_reextract_and_retag_and_recount(feed, capsys):
    call_command("ingest", "--all")
    call_command("reextract", "--failed")
    call_command("retag", "--tag", "china")
    assert RetagJob.objects.get().state == RetagJob.State.DONE
    Tag.objects.filter(slug="china").update(article_count=99)
    call_command("recount")
    assert "1 topic counts corrected" in capsys.readouterr().out


def test_prune_reports_what_it_deleted(capsys):
    make_article()
    call_command("prune")
    assert "deleted 0 raw pages" in capsys.readouterr().out
