"""Merges keep data right: hand decisions, case-sensitive aliases, exclusions, a retag after."""

from __future__ import annotations

import pytest

from tags import linking
from tags.merging import merge, merge_tags
from tags.models import Alias, ArticleTag, Exclusion, RetagJob, Tag, TagDecision
from tests.factories import make_article, make_tag

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _only_test_tags():
    Tag.objects.all().delete()


def count_of(tag: Tag) -> int:
    tag.refresh_from_db()
    assert tag.article_count == ArticleTag.objects.filter(tag=tag, is_visible=True).count()
    return tag.article_count


def tagged(title: str):
    article = make_article(title=title)
    linking.tag_article(article)
    return article


def test_a_hand_removal_of_the_old_topic_does_not_remove_the_target():
    ev = make_tag("electric vehicles", aliases=["EV"])
    batteries = make_tag("batteries", aliases=["battery"])
    both = tagged("Electric vehicles need a better battery")
    only_ev = tagged("Electric vehicles sales rise")
    only_batteries = tagged("Battery recycling plant opens")
    refused = tagged("Battery makers court electric vehicles buyers")
    linking.remove_tag_by_hand(both, ev)
    linking.remove_tag_by_hand(refused, batteries)
    added = make_article(title="A quiet day at the port")
    linking.add_tag_by_hand(added, ev)

    merge_tags(ev, batteries)

    linked = set(batteries.article_tags.values_list("article", flat=True))
    # The union of both topics, minus the target's own hand removals.
    assert linked == {both.pk, only_ev.pk, only_batteries.pk, added.pk}
    assert count_of(batteries) == 4
    assert not TagDecision.objects.filter(article=both).exists()
    assert TagDecision.objects.get(article=added).tag == batteries
    assert TagDecision.objects.get(article=refused).decision == "remove"
    # Rules re-run with the merged aliases: the article stays on, its removal does not return.
    for article in (both, only_ev, only_batteries, refused, added):
        linking.tag_article(article)
    assert set(batteries.article_tags.values_list("article", flat=True)) == linked
    assert count_of(batteries) == 4


def test_case_sensitive_aliases_stay_case_sensitive_on_the_target():
    old = make_tag("International Seabed Authority")
    Alias.objects.create(tag=old, phrase="ISA", case_sensitive=True)
    target = make_tag("seabed mining")
    merge_tags(old, target)
    assert Alias.objects.get(tag=target, phrase="ISA").case_sensitive
    linking.rules_changed()
    assert not ArticleTag.objects.filter(
        article=tagged("Isa Brown wins the race"), tag=target
    ).exists()
    assert ArticleTag.objects.filter(article=tagged("The ISA meets in Kingston"), tag=target)


def test_the_old_topics_exclusions_do_not_veto_the_target_and_are_reported():
    old = make_tag("lithium", aliases=["lithium"], exclusions=["lithium grease"])
    target = make_tag("battery metals", aliases=["cobalt"])
    article = tagged("Cobalt and lithium grease shortages")
    result = merge(old, target)
    assert result.dropped_exclusions == ["lithium grease"]
    assert not Exclusion.objects.filter(tag=target).exists()
    linking.tag_article(article)
    assert ArticleTag.objects.filter(article=article, tag=target).exists()


def test_a_name_that_was_not_matched_does_not_become_an_alias():
    old = make_tag("Interest", aliases=["interest rates"], name_is_alias=False)
    target = make_tag("monetary policy")
    merge_tags(old, target)
    phrases = set(Alias.objects.filter(tag=target).values_list("phrase", flat=True))
    assert phrases == {"interest rates"}


def test_a_merge_retags_what_the_merged_aliases_now_match(django_capture_on_commit_callbacks):
    old = make_tag("REE", aliases=["lanthanides"])
    target = make_tag("rare earths")
    # Stored before the topic existed: no link yet, but the merged aliases match it.
    article = make_article(title="Lanthanides explained")
    with django_capture_on_commit_callbacks(execute=True):
        result = merge(old, target, in_background=True)
    assert result.retag is not None
    assert RetagJob.objects.get(pk=result.retag.pk).state == RetagJob.State.DONE
    assert ArticleTag.objects.filter(article=article, tag=target).exists()
    assert count_of(target) == 1


def test_the_admin_merge_says_which_exclusions_it_dropped(admin_client):
    old = make_tag("lithium", aliases=["lithium"], exclusions=["lithium grease"])
    target = make_tag("battery metals")
    response = admin_client.post(
        "/admin/tags/tag/",
        {"action": "merge_into", "apply": "1", "target": target.pk, "_selected_action": [old.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert "the exclusions &#x27;lithium grease&#x27;" in html
    assert "rules re-run with the merged aliases" in html
