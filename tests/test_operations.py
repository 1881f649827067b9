"""Operators see the state of the work: the admin's Operations page and /metrics."""

from __future__ import annotations

import pytest

from articles.models import Article, Feed
from newsdesk.operations import failure_reason
from tags.models import RetagJob
from tests.factories import make_article, make_feed

pytestmark = pytest.mark.django_db


@pytest.fixture
def work():
    make_article("Waiting", status=Article.Status.PENDING)
    make_article("Extracted, awaiting its story", "Text.")  # no announcement: no drain ran
    make_article("Broken", status=Article.Status.FAILED, error="fetch failed: HTTP 503")
    make_feed(
        "https://down.example/feed.xml",
        consecutive_failures=3,
        last_status=Feed.Status.ERROR,
        last_error="HTTP 503 from the server",
    )
    RetagJob.objects.create(state=RetagJob.State.SUPERSEDED, total=10, done=4)


def test_metrics_need_an_operator_or_the_token(client, settings, work):
    settings.NEWSDESK_METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'newsdesk_articles{state="pending"} 1.0' in body
    assert 'newsdesk_article_failures_last_day{reason="http_503"} 1.0' in body
    assert 'newsdesk_feeds{state="failing"} 1.0' in body
    assert 'newsdesk_jobs{state="superseded"} 1.0' in body
    assert "newsdesk_articles_awaiting_story 1.0" in body
    assert "newsdesk_queue_depth" in body


def test_metrics_for_a_signed_in_operator(admin_client, work):
    response = admin_client.get("/metrics")
    assert response.status_code == 200
    assert "newsdesk_oldest_unfinished_article_seconds" in response.content.decode()


def test_the_operations_page_shows_queues_ages_feeds_and_jobs(admin_client, work):
    response = admin_client.get("/admin/operations/")
    assert response.status_code == 200
    page = response.content.decode()
    for expected in ("Queues", "down.example", "HTTP 503 from the server", "Superseded"):
        assert expected in page


def test_the_operations_page_is_for_staff_only(client):
    response = client.get("/admin/operations/")
    assert response.status_code == 302  # to the admin's login


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ("fetch failed: HTTP 404", "http_404"),
        ("fetch failed: timed out after 30s", "timeout"),
        ("robots.txt disallows fetching this page", "robots"),
        ("unexpected error: DataError: value too long", "unexpected"),
        ("gave up after 6 attempts", "gave_up"),
        ("", "other"),
    ],
)
def test_failure_reasons_are_few_and_stable(error, reason):
    assert failure_reason(error) == reason
