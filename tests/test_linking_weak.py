"""Weak rule links: recorded with why, listed and counted only when their topic says so."""

from __future__ import annotations

import pytest

from articles.models import Article
from tags import linking, retagging
from tags.models import ArticleTag, RetagJob, Tag, TagDecision
from tags.queries import tags_by_article
from tests.factories import make_article, make_tag

pytestmark = pytest.mark.django_db

LEAD = "Markets were quiet on Monday as traders waited.\n\n"
PASSING = LEAD + "Analysts at an Australian bank said shares would rise."


def count_of(tag: Tag) -> int:
    tag.refresh_from_db()
    exact = ArticleTag.objects.filter(tag=tag, is_visible=True).count()
    assert tag.article_count == exact, "the stored count drifted from the links"
    assert linking.recount([tag.pk]) == 0, "a recount disagrees"
    return tag.article_count


@pytest.fixture(autouse=True)
def _no_starter_tags():
    Tag.objects.all().delete()
    linking.rules_changed()


@pytest.fixture
def australia() -> Tag:
    return make_tag("Australia", aliases=["Australian"])


def tagged(title: str, text: str) -> Article:
    article = make_article(title=title, text=text)
    linking.tag_article(article)
    return article


def test_a_passing_mention_is_recorded_weak_but_not_listed_or_counted(australia):
    article = tagged("US tariffs rise", PASSING)
    link = ArticleTag.objects.get(article=article, tag=australia)
    assert (link.strong, link.is_visible, link.origin) == (False, False, "rule")
    field, start, end, term, in_name = link.hits[0]
    assert (field, article.text[start:end], term, in_name) == (
        "body",
        "Australian",
        "Australian",
        0,
    )
    assert count_of(australia) == 0
    assert tags_by_article([article.pk]) == {}
    strong = tagged("Australian dollar falls", LEAD)
    assert ArticleTag.objects.get(article=strong, tag=australia).is_visible
    assert count_of(australia) == 1


def test_a_topic_that_publishes_weak_matches_lists_and_counts_them(australia):
    article = tagged("US tariffs rise", PASSING)
    australia.publish_weak = True
    australia.save()
    linking.relist_weak(australia)
    assert ArticleTag.objects.get(article=article).is_visible
    assert count_of(australia) == 1
    australia.publish_weak = False
    australia.save()
    linking.relist_weak(australia)
    assert count_of(australia) == 0
    # A retag under the changed rules agrees with the quick relisting.
    australia.publish_weak = True
    australia.save()
    retagging.run(RetagJob.objects.create(tag=australia))
    assert ArticleTag.objects.get(article=article).is_visible
    assert count_of(australia) == 1


def test_hiding_and_unhiding_keeps_weak_links_unlisted(australia):
    weak = tagged("US tariffs rise", PASSING)
    strong = tagged("Australian dollar falls", LEAD)
    assert count_of(australia) == 1
    assert linking.set_hidden([weak, strong], True) == 2
    assert count_of(australia) == 0
    assert linking.set_hidden([weak, strong], False) == 2
    assert count_of(australia) == 1
    assert not ArticleTag.objects.get(article=weak).is_visible
    linking.tag_article(weak)
    assert count_of(australia) == 1


def test_an_editor_confirming_a_weak_link_lists_it_and_it_sticks(australia):
    article = tagged("US tariffs rise", PASSING)
    linking.add_tag_by_hand(article, australia)
    link = ArticleTag.objects.get(article=article)
    assert (link.origin, link.strong, link.is_visible) == ("editor", True, True)
    assert count_of(australia) == 1
    linking.tag_article(article)
    assert ArticleTag.objects.get(article=article).is_visible
    assert count_of(australia) == 1


def test_an_editor_removing_a_weak_link_removes_the_record_too(australia):
    article = tagged("US tariffs rise", PASSING)
    linking.remove_tag_by_hand(article, australia)
    linking.tag_article(article)
    assert not ArticleTag.objects.filter(article=article).exists()
    assert TagDecision.objects.get(article=article).decision == "remove"
    assert count_of(australia) == 0


def test_a_weak_link_becomes_strong_when_the_threshold_drops(australia):
    article = tagged("US tariffs rise", PASSING)
    assert count_of(australia) == 0
    australia.strong_body_mentions = 1
    australia.save()
    linking.rules_changed()
    linking.tag_article(article)
    link = ArticleTag.objects.get(article=article)
    assert (link.strong, link.is_visible) == (True, True)
    assert count_of(australia) == 1
    australia.strong_body_mentions = 2
    australia.save()
    linking.tag_article(article)
    assert count_of(australia) == 0


def test_a_weak_link_gives_its_parent_nothing():
    region = make_tag("Oceania", aliases=["Pacific region"])
    make_tag("Australia", aliases=["Australian"], parent=region)
    article = tagged("US tariffs rise", PASSING)
    assert set(ArticleTag.objects.filter(article=article).values_list("tag__name", "strong")) == {
        ("Australia", False)
    }
    assert count_of(region) == 0


def test_a_feed_default_outranks_a_weak_match(australia):
    article = make_article(title="US tariffs rise", text=PASSING)
    linking.apply_links(
        article,
        linking.desired_links(
            article,
            linking.current_matcher().match(title=article.title, text=article.text),
            [australia.pk],
            {},
        ),
    )
    link = ArticleTag.objects.get(article=article)
    assert (link.origin, link.is_visible) == ("feed", True)
    assert count_of(australia) == 1
