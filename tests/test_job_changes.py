"""Retag jobs record what they changed, and their pages refresh while they run (issue 15)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tags import jobchanges, linking, retagging
from tags.models import Alias, RetagJob, Tag
from tests.factories import make_article, make_tag

# --- The record, pure ----------------------------------------------------------------------------


def test_a_record_counts_every_change_and_keeps_the_first_articles():
    changes = jobchanges.record({}, {(1, 10), (2, 10)}, {(3, 11)}, {10: "gold", 11: "tin"}, limit=2)
    changes = jobchanges.record(changes, {(4, 10)}, set(), {10: "gold"}, limit=2)
    assert changes["topics"] == {
        "10": {"name": "gold", "gained": 3, "lost": 0},
        "11": {"name": "tin", "gained": 0, "lost": 1},
    }
    assert changes["articles"] == [[1, 10, "gained"], [2, 10, "gained"]]
    assert changes["more"] == 2
    assert jobchanges.totals(changes) == (3, 1)
    assert [t["name"] for t in jobchanges.by_topic(changes)] == ["gold", "tin"]


def test_diff_is_what_appeared_and_what_went():
    assert jobchanges.diff({(1, 1), (1, 2)}, {(1, 2), (2, 1)}) == ({(2, 1)}, {(1, 1)})


# --- Jobs over the database ----------------------------------------------------------------------


@pytest.fixture
def _only_test_tags(db):
    Tag.objects.all().delete()


@pytest.mark.django_db
@pytest.mark.usefixtures("_only_test_tags")
def test_a_retag_job_records_articles_gained_and_lost_per_topic(editor):
    gold = make_tag("gold")
    linking.rules_changed()
    old = make_article(title="Gold rises")
    new = make_article(title="Bullion rises")
    for article in (old, new):
        linking.tag_article(article)
    # The editor swaps the name for an alias: "Gold rises" leaves, "Bullion rises" joins.
    Tag.objects.filter(pk=gold.pk).update(name_is_alias=False)
    Alias.objects.create(tag=gold, phrase="bullion")
    linking.rules_changed()
    job = retagging.start(gold, run_now=True)
    assert job.state == RetagJob.State.DONE
    assert job.changes["topics"] == {str(gold.pk): {"name": "gold", "gained": 1, "lost": 1}}
    assert sorted(job.changes["articles"]) == [
        [old.pk, gold.pk, "lost"],
        [new.pk, gold.pk, "gained"],
    ]

    page = editor.get(reverse("admin:tags_retagjob_change", args=[job.pk])).content.decode()
    assert "Articles gained" in page and "Bullion rises" in page and "Gold rises" in page
    # A finished job's page stays still; so does the list when nothing runs.
    assert 'http-equiv="refresh"' not in page
    listing = editor.get(reverse("admin:tags_retagjob_changelist")).content.decode()
    assert "+1 / -1" in listing
    assert 'http-equiv="refresh"' not in listing


@pytest.mark.django_db
@pytest.mark.usefixtures("_only_test_tags")
def test_a_running_job_and_the_job_list_refresh_themselves_without_script(editor):
    tag = make_tag("gold")
    job = RetagJob.objects.create(tag=tag, tag_name=tag.name, state=RetagJob.State.RUNNING)
    page = editor.get(reverse("admin:tags_retagjob_change", args=[job.pk])).content.decode()
    assert '<meta http-equiv="refresh" content="3">' in page
    assert "Nothing changed yet" in page
    listing = editor.get(reverse("admin:tags_retagjob_changelist")).content.decode()
    assert '<meta http-equiv="refresh" content="3">' in listing


@pytest.mark.django_db
@pytest.mark.usefixtures("_only_test_tags")
def test_a_delete_job_records_every_article_the_topic_loses():
    tag = make_tag("gold")
    linking.rules_changed()
    articles = [make_article(title=f"Gold story {i}") for i in range(3)]
    for article in articles:
        linking.tag_article(article)
    job = retagging.start_delete(tag, run_now=True)
    assert job.changes["topics"][str(tag.pk)] == {"name": "gold", "gained": 0, "lost": 3}
