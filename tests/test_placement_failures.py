"""An article story assignment cannot place is the database's to keep (stories.failures): out of
the batches, tried again alone after growing pauses, then set aside where operators see it and
can try it again; a new extraction of its page puts it back in the queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from articles.models import Article
from articles.signals import article_extracted
from stories import assignment, failures
from stories.clustering import StoryClusterer
from stories.models import PlacementFailure, StoryMembership
from tests.test_story_batches import make_rows, synthetic_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def poison(monkeypatch):
    """Articles whose placement raises, as one whose content the clusterer chokes on would;
    ``calls`` counts every try at them."""
    refused: set[int] = set()
    calls: list[int] = []
    add = StoryClusterer.add

    def refusing(self, item):
        if item.key in refused:
            calls.append(item.key)
            raise ValueError(f"cannot place article {item.key}")
        return add(self, item)

    monkeypatch.setattr(StoryClusterer, "add", refusing)
    return refused, calls


@pytest.fixture
def bad(poison):
    """One article, refused until the test clears ``poison``'s set."""
    refused, _ = poison
    (article,) = make_rows(synthetic_rows(1))
    refused.add(article.pk)
    return article


def test_a_failed_article_is_recorded_and_kept_out_of_later_batches(poison):
    refused, calls = poison
    articles = make_rows(synthetic_rows(12))
    bad = articles[3]
    refused.add(bad.pk)
    before = timezone.now()

    assert assignment.drain_quietly() == len(articles) - 1
    failure = PlacementFailure.objects.get()
    assert failure.article_id == bad.pk and failure.attempts == 1
    assert failure.error == f"ValueError: cannot place article {bad.pk}"
    assert failure.retry_after >= before + failures.RETRY_AFTER[0]
    assert not assignment.waiting().exists()

    # New articles arrive: their batch does not fail on the old one again.
    calls.clear()
    later = make_rows(synthetic_rows(5, seed=11))
    assert len(assignment.drain()) == len(later)
    assert calls == []


def test_the_sweep_tries_again_after_each_pause_then_sets_the_article_aside(poison, bad):
    _, calls = poison
    now = timezone.now()
    assignment.drain_quietly(now=now)
    assert calls == [bad.pk, bad.pk]  # the batch, then the article alone

    for attempt, pause in enumerate(failures.RETRY_AFTER, start=2):
        calls.clear()
        assignment.sweep(now=now + pause - timedelta(seconds=1))
        assert calls == [], "tried before its pause was over"
        now += pause
        assignment.sweep(now=now)
        assert calls == [bad.pk]
        assert PlacementFailure.objects.get().attempts == attempt

    failure = PlacementFailure.objects.get()
    assert failure.set_aside and failure.attempts == len(failures.RETRY_AFTER) + 1
    calls.clear()
    assignment.sweep(now=now + timedelta(days=30))
    assert calls == []
    assert failures.counts() == {"retrying": 0, "set_aside": 1}


def test_a_retry_that_succeeds_places_the_article_and_forgets_the_failure(poison, bad):
    refused, _ = poison
    now = timezone.now()
    assignment.drain_quietly(now=now)
    refused.clear()  # the fault was a deploy's, and is over

    assert assignment.sweep(now=now + failures.RETRY_AFTER[0]) == 1
    assert StoryMembership.objects.filter(article=bad).exists()
    assert not PlacementFailure.objects.exists()


def test_extracting_the_page_again_puts_the_article_back_in_the_queue(bad, monkeypatch):
    assignment.drain_quietly()
    assert not assignment.waiting().exists()
    monkeypatch.setattr("stories.tasks.request_drain", lambda: True)

    article_extracted.send(sender=Article, article=Article.objects.get(pk=bad.pk))
    assert not PlacementFailure.objects.exists()
    assert list(assignment.waiting().values_list("pk", flat=True)) == [bad.pk]


def test_operators_see_set_aside_articles_and_can_try_them_again(poison, bad, admin_client):
    refused, _ = poison
    assignment.drain_quietly()
    PlacementFailure.objects.update(retry_after=None, attempts=4)

    page = admin_client.get("/admin/operations/").content.decode()
    assert "could not be placed" in page and "set aside" in page
    assert f"ValueError: cannot place article {bad.pk}" in page
    metrics = admin_client.get("/metrics").content.decode()
    assert 'newsdesk_story_placement_failures{state="set_aside"} 1.0' in metrics

    listing = admin_client.get("/admin/stories/placementfailure/")
    assert listing.status_code == 200 and "set aside" in listing.content.decode()

    # Still failing: said so, and counted.
    action = {"action": "try_again", "_selected_action": [bad.pk]}
    response = admin_client.post("/admin/stories/placementfailure/", action, follow=True)
    assert "1 failed again" in response.content.decode()
    assert PlacementFailure.objects.get().attempts == 5

    refused.clear()
    response = admin_client.post("/admin/stories/placementfailure/", action, follow=True)
    assert "1 placed in a story" in response.content.decode()
    assert StoryMembership.objects.filter(article=bad).exists()
    assert not PlacementFailure.objects.exists()


def test_a_failure_that_cannot_be_recorded_leaves_the_article_in_the_queue(bad, monkeypatch):
    def database_down(*args, **kwargs):
        raise ConnectionError("database went away")

    monkeypatch.setattr(failures, "record", database_down)
    assert assignment.drain_quietly() == 0
    assert list(assignment.waiting().values_list("pk", flat=True)) == [bad.pk]
