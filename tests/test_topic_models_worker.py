"""Done when: a small labelled file imported, a model trained by a real Celery worker, and a
model-made link with its explanation on the topic page and in the article admin."""

from __future__ import annotations

import pytest
from celery import Celery
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse
from kombu import Connection

from tags.models import ArticleTag, TaggingMode, TopicModelVersion, TrainingRun
from tests.factories import make_article, make_tag
from tests.labelled import records, write_jsonl
from tests.test_worker import BROKER_URL, wait_for, worker, worker_settles  # noqa: F401 - the fixture

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

COFFEE_TEXT = (
    "Arabica growers expect a smaller harvest after frost, and roasters raised the price of "
    "espresso blends as bean shipments slowed."
)


def send(task: str, *args) -> None:
    with Connection(BROKER_URL) as conn:
        Celery().send_task(task, args=list(args), queue="tag", connection=conn)


def test_a_worker_trains_the_model_and_its_links_reach_the_topic_page(
    worker,  # noqa: F811 - the fixture imported above
    tmp_path,
    client,
):
    coffee = make_tag("coffee beans", slug="coffee", tagging_mode=TaggingMode.MODEL)
    make_tag("volcano", aliases=["volcano"])
    article = make_article("Harvest worries in the highlands", COFFEE_TEXT)
    labels = tmp_path / "labels.jsonl"
    write_jsonl(labels, records())
    call_command("importlabels", str(labels), "--map", "cof=coffee", verbosity=0)
    run = TrainingRun.objects.create(reason="test")

    send("tags.tasks.run_training", run.pk)

    def trained() -> bool:
        run.refresh_from_db()
        return run.state in (TrainingRun.State.DONE, TrainingRun.State.FAILED)

    assert wait_for(trained, timeout=120), "the worker did not train in time"
    assert run.state == TrainingRun.State.DONE, run.message
    assert run.accepted
    assert TopicModelVersion.objects.get(is_current=True) == run.result
    # Accepting the model re-tags the archive through the retag job, on the same worker.
    assert wait_for(
        lambda: ArticleTag.objects.filter(article=article, tag=coffee).exists(), timeout=60
    ), "the new model did not re-tag the archive"
    link = ArticleTag.objects.get(article=article, tag=coffee)
    assert link.origin == ArticleTag.Origin.MODEL
    assert link.score >= coffee.model_publish_at
    assert link.terms
    coffee.refresh_from_db()
    assert coffee.article_count == 1

    page = client.get(coffee.get_absolute_url())
    assert page.status_code == 200
    assert "Harvest worries in the highlands" in page.content.decode()

    client.force_login(User.objects.create_superuser("root", password="pw"))
    admin_page = client.get(reverse("admin:articles_article_change", args=[article.pk]))
    body = admin_page.content.decode()
    assert "model, probability" in body
    assert any(term in body for term in link.terms)
