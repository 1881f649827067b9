"""Restory chunks through the batch store: what they announce, what taking members out costs,
and that the stories and the fold they leave are the ones a rebuild from the members gives."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from articles.models import Article
from stories import assignment, editing, restory
from stories.models import (
    RestoryJob,
    Story,
    StoryCentroid,
    StoryMembership,
    StoryState,
    StoryTerm,
)
from stories.signals import story_changed
from tests.factories import make_story
from tests.pages_fixtures import make_article, make_source, make_tag
from tests.test_story_assignment import FERRY, FERRY_RETOLD, ORCHARD
from tests.test_story_folding import assert_folded

pytestmark = pytest.mark.django_db


@pytest.fixture
def announcements():
    heard: list[dict] = []

    def hear(sender, **kwargs):
        heard.append(kwargs)

    story_changed.connect(hear, weak=False)
    yield heard
    story_changed.disconnect(hear)


def _state(story_id: int):
    """A story's bookkeeping and clusterer state, comparable across a rebuild."""
    row = Story.objects.values_list(
        "article_count", "source_count", "first_published_at", "last_published_at", "lead_id"
    ).get(pk=story_id)
    state = StoryState.objects.values_list("size", "norm", "last_seen").get(story_id=story_id)
    centroid = dict(StoryCentroid.objects.filter(story_id=story_id).values_list("term", "weight"))
    terms = set(StoryTerm.objects.filter(story_id=story_id).values_list("term", flat=True))
    return row, state, centroid, terms


def test_a_restory_of_a_period_announces_only_the_articles_that_moved(
    announcements, django_capture_on_commit_callbacks
):
    """A story keeps its member from before the period; of the period's three members, the two
    that tell its event join it again and the one an error put there leaves: only that one is
    announced, and the story is what a rebuild from its members makes of it."""
    now = timezone.now() - timedelta(days=1)
    topics = [make_tag("Shipping"), make_tag("Orchards"), make_tag("Islands")]
    outlets = [make_source(f"Outlet {i}", f"outlet{i}.example") for i in range(3)]

    def article(title, text, hours, tags, outlet):
        return make_article(
            title,
            text=text,
            tags=tags,
            source=outlets[outlet],
            published_at=now + timedelta(hours=hours),
        )

    first = article("Ferry Friesland Star runs aground off Vlieland", FERRY, 0, topics[::2], 0)
    retold = article(
        "Lifeboats take 212 off stranded Friesland Star", FERRY_RETOLD, 3, topics[:1], 1
    )
    stray = article("Frost wipes out Betuwe cherry blossom", ORCHARD, 4, topics[1:2], 2)
    copy = article("Friesland Star aground: 212 brought ashore", FERRY, 5, topics[2:], 2)
    with django_capture_on_commit_callbacks(execute=True):
        for row in (first, retold, stray, copy):
            assignment.assign(row.pk)
    ferry = StoryMembership.objects.get(article=first).story_id
    orchard = StoryMembership.objects.get(article=stray).story_id
    assert ferry != orchard
    assert StoryMembership.objects.get(article=copy).story_id == ferry
    # An error put the orchard report in the ferry story (as an older clusterer might have).
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        assignment.lock()
        StoryMembership.objects.filter(article=stray).update(story_id=ferry)
        for story_id in (ferry, orchard):
            editing.refresh(story_id)
            editing.rebuild_state(story_id)
        assignment.announce([ferry, orchard], moved=[stray.pk])
    assert_folded()
    announcements.clear()

    with django_capture_on_commit_callbacks(execute=True):
        job = restory.start(since=retold.published_at, run_now=True)
    assert (job.state, job.total, job.done, job.changed) == (RestoryJob.State.DONE, 3, 3, 1)
    assert announcements, "the chunk announced nothing"
    assert all(heard["moved"] is not None for heard in announcements)
    assert {a for heard in announcements for a in heard["moved"]} == {stray.pk}
    # The stray leads the story it starts (no lead before), the ferry's lead stays.
    assert {a for heard in announcements for a in heard["leads"]} == {stray.pk}
    members = StoryMembership.objects.filter(story_id=ferry).values_list("article_id", flat=True)
    assert set(members) == {first.pk, retold.pk, copy.pk}
    assert StoryMembership.objects.get(article=stray).story_id not in (ferry, orchard)
    assert_folded()

    # Counts, dates and lead as refresh recounts them; the centroid, norm and index as a
    # rebuild from the members makes them.
    taken_out = _state(ferry)
    with transaction.atomic():
        assert editing.refresh(ferry) == set()
        editing.rebuild_state(ferry)
    rebuilt = _state(ferry)
    assert taken_out[0] == rebuilt[0]
    assert taken_out[1][0] == rebuilt[1][0] == 3
    assert taken_out[1][1] == pytest.approx(rebuilt[1][1], rel=1e-9)
    assert taken_out[1][2] == rebuilt[1][2]
    assert taken_out[2].keys() == rebuilt[2].keys()
    assert taken_out[2] == pytest.approx(rebuilt[2], rel=1e-9, abs=1e-12)
    # The index terms too, but for the order of terms tied for the last places.
    assert len(taken_out[3]) == len(rebuilt[3])
    tied = taken_out[3] ^ rebuilt[3]
    assert len({round(rebuilt[2][t], 9) for t in tied}) <= 1, tied


def _chunk_cost(size: int, django_capture_on_commit_callbacks) -> tuple[int, int, list[str]]:
    """Statements, and article rows read, of a restory chunk that takes two copies out of a
    story of ``size`` members and places them again (with what its commit sets off)."""
    start = timezone.now() - timedelta(days=1)
    topic = make_tag(f"Topic of {size}")
    members = [
        make_article(
            f"Member {i} of {size}",
            tags=[topic],
            source=make_source(f"Outlet {i % 7} for {size}", f"o{i % 7}-{size}.example"),
            published_at=start + timedelta(minutes=i),
        )
        for i in range(size)
    ]
    copies = [
        make_article(
            f"Copy {i} of {size}",
            tags=[topic],
            published_at=start + timedelta(minutes=size + i),
            status=Article.Status.DUPLICATE,
            duplicate_of=members[0],
        )
        for i in range(2)
    ]
    story = make_story(*members, *copies)
    editing.rebuild_state(story.pk)
    sql: list[str] = []
    article_rows = 0

    def counting(execute, statement, params, many, context):
        nonlocal article_rows
        result = execute(statement, params, many, context)
        sql.append(statement)
        if "articles_article" in statement and statement.lstrip().upper().startswith("SELECT"):
            article_rows += max(context["cursor"].rowcount, 0)
        return result

    with connection.execute_wrapper(counting), django_capture_on_commit_callbacks(execute=True):
        changed = restory.reassign([c.pk for c in copies])
    assert changed == 0
    assert set(
        StoryMembership.objects.filter(article__in=copies).values_list("story_id", flat=True)
    ) == {story.pk}
    assert Story.objects.get(pk=story.pk).article_count == size + 2
    assert StoryState.objects.get(story_id=story.pk).size == size + 2
    assert_folded()
    return len(sql), article_rows, sql


def test_a_restory_chunk_costs_what_leaves_not_the_stories_size(
    django_capture_on_commit_callbacks,
):
    small = _chunk_cost(5, django_capture_on_commit_callbacks)
    big = _chunk_cost(200, django_capture_on_commit_callbacks)
    # The index terms are written when they change, which ties among equal weights decide
    # here (the members' words are alike), not the story's size: counted apart.
    index = [
        sum("INTO stories_storyterm" in q or "FROM stories_storyterm t USING" in q for q in c[2])
        for c in (small, big)
    ]
    assert max(index) <= 2
    assert big[0] - index[1] == small[0] - index[0], (small[2], big[2])
    # The two articles placed again; re-reading the story's members (the old take-out) would
    # read 202 here.
    assert big[1] == small[1] <= 4


def test_starting_a_restory_leaves_counting_its_scope_to_the_worker(
    django_capture_on_commit_callbacks,
):
    for hours in range(3):
        make_article(f"Item {hours}", published_at=timezone.now() - timedelta(hours=hours))
    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks() as callbacks,
    ):
        job = restory.start(since=timezone.now() - timedelta(days=1))
    assert len(callbacks) == 1  # the first chunk's message, sent on commit
    assert not [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert RestoryJob.objects.get(pk=job.pk).total == 0
    job = restory.run(job)
    assert (job.state, job.total, job.done, job.percent) == (RestoryJob.State.DONE, 3, 3, 100)
