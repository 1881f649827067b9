"""Which articles carry which tags, and a tag's count staying exact through every change."""

from __future__ import annotations

import pytest

from articles.models import Article, Feed
from tags import linking, retagging
from tags.merging import MergeError, merge_tags
from tags.models import Alias, ArticleTag, RetagJob, Tag, TagDecision
from tests.factories import make_article, make_tag

pytestmark = pytest.mark.django_db


def count_of(tag: Tag) -> int:
    tag.refresh_from_db()
    exact = ArticleTag.objects.filter(tag=tag, is_visible=True).count()
    assert tag.article_count == exact, "the stored count drifted from the links"
    return tag.article_count


@pytest.fixture(autouse=True)
def _no_starter_tags():
    """Only the topics each test makes, so counts and matches are the test's own."""
    Tag.objects.all().delete()


@pytest.fixture
def rare_earths():
    linking.rules_changed()
    return make_tag("rare earths", aliases=["neodymium"], exclusions=["rare earth quiz"])


def tagged(title: str, text: str = "") -> Article:
    article = make_article(title=title, text=text)
    linking.tag_article(article)
    return article


def test_rules_tag_an_article_and_record_the_matched_terms(rare_earths):
    article = tagged("Rare-earth prices jump", "Neodymium oxide rose again.")
    link = ArticleTag.objects.get(article=article, tag=rare_earths)
    assert link.origin == ArticleTag.Origin.RULE
    assert link.score > 0
    assert sum(link.terms.values()) >= 2
    assert count_of(rare_earths) == 1


def test_a_tag_found_only_in_the_articles_own_categories_says_so(rare_earths):
    article = make_article(title="Quarterly results", categories=["Neodymium"])
    linking.tag_article(article)
    assert ArticleTag.objects.get(article=article).origin == ArticleTag.Origin.CATEGORY


def test_an_exclusion_vetoes_the_tag(rare_earths):
    article = tagged("Our rare earth quiz", "How much do you know about neodymium?")
    assert not ArticleTag.objects.filter(article=article).exists()
    assert count_of(rare_earths) == 0


def test_a_child_topic_also_lists_the_article_under_its_parent(rare_earths):
    minerals = make_tag("critical minerals")
    rare_earths.parent = minerals
    rare_earths.save()
    article = tagged("Neodymium supply tightens")
    link = ArticleTag.objects.get(article=article, tag=minerals)
    assert link.origin == ArticleTag.Origin.PARENT
    assert count_of(minerals) == 1


def test_a_feeds_default_topic_applies_to_its_articles(rare_earths):
    feed = Feed.objects.create(url="https://mining.example/feed")
    feed.default_tags.add(rare_earths)
    article = make_article(title="Quarterly results")
    article.feed_entries.create(feed=feed, guid="g1")
    linking.tag_article(article)
    assert ArticleTag.objects.get(article=article).origin == ArticleTag.Origin.FEED


def test_an_editors_removal_sticks_when_the_rules_run_again(rare_earths):
    article = tagged("Neodymium output falls")
    linking.remove_tag_by_hand(article, rare_earths)
    assert count_of(rare_earths) == 0
    linking.tag_article(article)
    assert not ArticleTag.objects.filter(article=article, tag=rare_earths).exists()
    assert TagDecision.objects.get(article=article).decision == TagDecision.Decision.REMOVE


def test_an_editors_addition_is_never_removed_by_a_rerun(rare_earths):
    article = tagged("Quarterly results of a shipping firm")
    linking.add_tag_by_hand(article, rare_earths)
    assert count_of(rare_earths) == 1
    linking.tag_article(article)
    link = ArticleTag.objects.get(article=article, tag=rare_earths)
    assert link.origin == ArticleTag.Origin.EDITOR
    assert count_of(rare_earths) == 1


def test_hiding_and_unhiding_keeps_the_count_exact(rare_earths):
    article = tagged("Neodymium magnets in demand")
    tagged("Neodymium recycling plant opens")
    assert count_of(rare_earths) == 2
    linking.set_hidden([article], True)
    assert count_of(rare_earths) == 1
    linking.set_hidden([article], True)  # hiding twice changes nothing
    assert count_of(rare_earths) == 1
    linking.set_hidden([article], False)
    assert count_of(rare_earths) == 2


def test_deleting_articles_keeps_the_count_exact(rare_earths):
    first = tagged("Neodymium magnets in demand")
    tagged("Neodymium recycling plant opens")
    first.delete()
    assert count_of(rare_earths) == 1
    Article.objects.all().delete()
    assert count_of(rare_earths) == 0


def test_a_hidden_articles_link_does_not_count_and_deleting_it_changes_nothing(rare_earths):
    article = tagged("Neodymium magnets in demand")
    linking.set_hidden([article], True)
    article.delete()
    assert count_of(rare_earths) == 0


def test_retagging_after_a_rule_change_adds_and_removes_links(rare_earths):
    dysprosium = tagged("Dysprosium shortage looms")
    neodymium = tagged("Neodymium magnets in demand")
    assert count_of(rare_earths) == 1
    Alias.objects.create(tag=rare_earths, phrase="dysprosium")
    Alias.objects.filter(tag=rare_earths, phrase="neodymium").delete()
    linking.rules_changed()
    job = retagging.run(RetagJob.objects.create(tag=rare_earths, total=2))
    assert (job.state, job.done, job.changed) == (RetagJob.State.DONE, 2, 2)
    assert ArticleTag.objects.filter(tag=rare_earths, article=dysprosium).exists()
    assert not ArticleTag.objects.filter(tag=rare_earths, article=neodymium).exists()
    assert count_of(rare_earths) == 1


def test_retagging_respects_editor_decisions(rare_earths):
    article = tagged("Neodymium magnets in demand")
    linking.remove_tag_by_hand(article, rare_earths)
    retagging.run(RetagJob.objects.create())
    assert count_of(rare_earths) == 0


def test_starting_a_retag_job_runs_it_in_process_without_a_broker(
    rare_earths, django_capture_on_commit_callbacks
):
    tagged("Neodymium magnets in demand")
    with django_capture_on_commit_callbacks(execute=True):
        job = retagging.start(rare_earths)
    job.refresh_from_db()
    assert job.state == RetagJob.State.DONE
    assert job.percent == 100


def test_merging_moves_links_rules_and_decisions_and_counts_stay_exact(rare_earths):
    ree = make_tag("REE", aliases=["lanthanides"])
    both = tagged("Neodymium and lanthanides")
    only_ree = tagged("Lanthanides explained")
    removed = tagged("Neodymium magnets in demand")
    linking.remove_tag_by_hand(removed, rare_earths)
    linking.add_tag_by_hand(removed, ree)
    assert (count_of(rare_earths), count_of(ree)) == (1, 3)

    merge_tags(ree, rare_earths)

    ree.refresh_from_db()
    assert ree.merged_into == rare_earths
    assert not ree.is_active
    assert count_of(ree) == 0
    assert set(Alias.objects.filter(tag=rare_earths).values_list("phrase", flat=True)) >= {
        "neodymium",
        "lanthanides",
        "REE",
    }
    assert set(rare_earths.article_tags.values_list("article", flat=True)) == {
        both.pk,
        only_ree.pk,
    }
    # The target's own decision wins over the merged tag's.
    assert TagDecision.objects.get(article=removed).decision == TagDecision.Decision.REMOVE
    assert count_of(rare_earths) == 2


def test_a_tag_cannot_be_merged_into_itself(rare_earths):
    with pytest.raises(MergeError):
        merge_tags(rare_earths, rare_earths)


def test_recount_repairs_a_count_that_drifted(rare_earths):
    tagged("Neodymium magnets in demand")
    Tag.objects.filter(pk=rare_earths.pk).update(article_count=42)
    assert linking.recount() == 1
    assert count_of(rare_earths) == 1


def test_a_failed_extraction_hides_the_articles_links(rare_earths):
    article = tagged("Neodymium magnets in demand")
    article.status = Article.Status.FAILED
    article.save()
    linking.sync_visibility(article)
    assert count_of(rare_earths) == 0


def test_tagging_an_article_that_recovered_shows_its_links_again(rare_earths):
    article = tagged("Neodymium magnets in demand")
    article.status = Article.Status.FAILED
    article.save()
    linking.sync_visibility(article)
    assert count_of(rare_earths) == 0
    article.status = Article.Status.OK
    article.save()
    linking.tag_article(article)
    assert count_of(rare_earths) == 1
