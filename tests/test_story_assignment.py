"""Story assignment in the database: the pure clusterer over the database store, ingestion's
listener, idempotence, the lock, editors' decisions and restory."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from articles.models import Article, Source
from stories import assignment, editing, restory
from stories.clustering import StoryClusterer, StoryItem
from stories.dbstore import DatabaseStore, Frequencies
from stories.models import (
    PlacementFailure,
    RestoryJob,
    Story,
    StoryMembership,
    StoryState,
    StoryTerm,
)
from stories.signals import story_changed
from tests.factories import make_article, staff

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)

FERRY = (
    "A passenger ferry ran aground off the island of Vlieland early on Sunday, and the coast "
    "guard said all 212 people aboard the Friesland Star were brought ashore by lifeboats from "
    "Terschelling and Harlingen. The vessel struck a sandbank in fog shortly after leaving the "
    "harbour, the operator Doeksen said, and divers found a breach in the hull below the "
    "waterline. Salvage tugs will try to refloat the ship at the next high tide."
)
FERRY_RETOLD = (
    "Lifeboats from Harlingen and Terschelling took 212 passengers off the Friesland Star after "
    "the Doeksen ferry hit a sandbank near Vlieland in thick fog on Sunday morning. Nobody was "
    "hurt, according to the coast guard. The hull was holed below the waterline and tugs are "
    "standing by to pull the ship free when the tide rises."
)
ORCHARD = (
    "Frost in late April destroyed most of the cherry blossom in the orchards of the Betuwe, "
    "growers said, and the harvest in Gelderland could be the smallest in thirty years. Some "
    "farmers ran sprinklers through the night to coat the buds in protective ice, but the "
    "temperature fell to minus five degrees before dawn."
)

FERRY_ITEMS = [
    ("Ferry Friesland Star runs aground off Vlieland, 212 rescued", FERRY, 0),
    ("Lifeboats take 212 off stranded Friesland Star near Vlieland", FERRY_RETOLD, 3),
    ("Frost wipes out Betuwe cherry blossom", ORCHARD, 4),
]


def items():
    return [
        StoryItem(key=i, title=t, text=x, published=T0 + timedelta(hours=h))
        for i, (t, x, h) in enumerate(FERRY_ITEMS)
    ]


def article(title, text, hours=0.0, source=None, **fields) -> Article:
    return make_article(
        title, text, published_at=T0 + timedelta(hours=hours), source=source, **fields
    )


def source(name: str) -> Source:
    return Source.objects.create(
        name=name, domain=f"{name.lower()}.example", url=f"https://{name.lower()}.example/"
    )


# --- The database store is the in-memory store's twin ------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("probe_above", [4, 0])
def test_the_database_store_makes_the_same_decisions_as_the_memory_store(monkeypatch, probe_above):
    # 0: every story's centroid rows are looked up term by term, as a big story's are.
    monkeypatch.setattr("stories.dbstore.PROBE_ABOVE_MEMBERS", probe_above)
    memory = StoryClusterer()
    in_memory = [memory.add(item) for item in items()]
    rows = [article(t, x, h) for t, x, h in FERRY_ITEMS]
    db = StoryClusterer(store=DatabaseStore(Frequencies()))
    in_db = [db.add(assignment.item_of(row)) for row in rows]
    # Same grouping and the same similarity scores: one code path, two stores.
    assert [a.story == in_memory[0].story for a in in_memory] == [
        a.story == in_db[0].story for a in in_db
    ]
    assert [round(a.score, 9) for a in in_memory] == [round(a.score, 9) for a in in_db]
    assert in_db[0].story == in_db[1].story != in_db[2].story


# Headlines only: a strike told five times, a later report on it, and a flower show that
# shares only the town's name with the strike's first report.
STRIKE_TITLES = [
    ("Port workers strike in Valdmoor over pension reform plans", 0),
    ("Valdmoor dock strike strands container ships", 1),
    ("Container ships wait at anchor as Valdmoor dockworkers walk out", 2),
    ("Pension row: Valdmoor port shut by 24-hour strike", 3),
    ("Unions threaten more Valdmoor port stoppages", 4),
    ("Shipping lines divert cargo as strike drags on", 5),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "stream",
    [STRIKE_TITLES, [STRIKE_TITLES[0], ("Valdmoor flower show draws record crowds", 1)]],
    ids=["grown-story-takes-report", "one-headline-story-refuses-shared-name"],
)
def test_the_database_store_reads_a_story_size_to_decide_as_the_memory_store(stream):
    # Each stream ends with an item scoring between the bar of a big story and that of a
    # one-member story (tests/test_story_clustering.py checks the scores), so the decision
    # needs the candidate's size from the store.
    memory = StoryClusterer()
    in_memory = [
        memory.add(StoryItem(key=n, title=t, published=T0 + timedelta(hours=h)))
        for n, (t, h) in enumerate(stream)
    ]
    db = StoryClusterer(store=DatabaseStore(Frequencies()))
    in_db = [db.add(assignment.item_of(article(t, "", h))) for t, h in stream]

    def with_the_first(run):
        return [a.story == run[0].story for a in run]

    assert with_the_first(in_memory) == with_the_first(in_db)
    assert [round(a.score, 9) for a in in_memory] == [round(a.score, 9) for a in in_db]
    # The report joins the grown story; the flower show starts its own.
    assert with_the_first(in_db)[-1] == (len(stream) > 2)


@pytest.mark.django_db
def test_candidates_come_from_the_term_index_inside_the_window_only():
    rows = [article(t, x, h) for t, x, h in FERRY_ITEMS[:1]]
    assignment.assign(rows[0].pk)
    story = StoryMembership.objects.get(article=rows[0]).story_id
    assert 0 < StoryTerm.objects.filter(story_id=story).count() <= 12
    store = DatabaseStore(Frequencies())
    terms = list(StoryTerm.objects.filter(story_id=story).values_list("term", flat=True))
    assert store.candidates(terms, T0 - timedelta(days=3), 200) == [story]
    # A week later the story is out of the window: not a candidate, and a copy starts anew.
    assert store.candidates(terms, T0 + timedelta(days=4), 200) == []
    late = article("Ferry Friesland Star runs aground off Vlieland", FERRY, hours=24 * 7)
    assert assignment.assign(late.pk).story != story


@pytest.mark.django_db
def test_assignment_keeps_counts_dates_and_the_earliest_full_member_as_lead():
    a, b = source("Kustkrant"), source("Havenblad")
    second = article(*FERRY_ITEMS[1][:2], hours=3, source=b)
    first = article(*FERRY_ITEMS[0][:2], hours=1, source=a)
    assignment.assign(second.pk)
    assignment.assign(first.pk)  # arrives later but was published earlier
    story = Story.objects.get(pk=StoryMembership.objects.get(article=second).story_id)
    assert StoryMembership.objects.get(article=first).story_id == story.pk
    assert (story.article_count, story.source_count) == (2, 2)
    assert story.first_published_at == first.published_at
    assert story.last_published_at == second.published_at
    assert story.lead_id == first.pk


@pytest.mark.django_db
def test_a_second_delivery_is_a_no_op():
    row = article(*FERRY_ITEMS[0][:2])
    assert assignment.assign(row.pk) is not None
    assert assignment.assign(row.pk) is None
    assert StoryMembership.objects.count() == 1
    assert Story.objects.get().article_count == 1


@pytest.mark.django_db
def test_an_exact_duplicate_joins_its_originals_story():
    original = article(*FERRY_ITEMS[0][:2])
    copy = article(
        "Completely different headline",
        "",
        hours=2,
        status=Article.Status.DUPLICATE,
        duplicate_of=original,
    )
    first = assignment.assign(original.pk)
    second = assignment.assign(copy.pk)
    assert second.story == first.story
    assert second.near_duplicate_of == original.pk
    assert Story.objects.get(pk=first.story).lead_id == original.pk


@pytest.mark.django_db
def test_a_syndicated_copy_joins_its_original_through_the_band_table_across_processes():
    original = article("Ferry aground", FERRY)
    copy = article("Island drama for Doeksen", FERRY + " Reporting by the wire.", hours=2)
    assignment.assign(original.pk)
    # Another worker: its own frequencies, its own store; only the tables are shared.
    other = StoryClusterer(store=DatabaseStore(Frequencies()))
    placed = other.add(assignment.item_of(copy))
    assert placed.near_duplicate_of == original.pk
    assert placed.story == StoryMembership.objects.get(article=original).story_id


@pytest.mark.django_db(transaction=True)
def test_story_changed_is_sent_after_commit_with_the_story():
    seen = []

    def listener(sender, story_ids, **kwargs):
        seen.append((list(story_ids), connection.in_atomic_block))

    story_changed.connect(listener)
    try:
        row = article(*FERRY_ITEMS[0][:2])
        placed = assignment.assign(row.pk)
    finally:
        story_changed.disconnect(listener)
    assert seen == [([placed.story], False)]


@pytest.mark.django_db
def test_a_failing_assignment_keeps_the_article_and_the_sweep_places_it(monkeypatch):
    row = article(*FERRY_ITEMS[0][:2])
    Article.objects.filter(pk=row.pk).update(updated_at=T0)

    def broken(*args, **kwargs):
        raise RuntimeError("database hiccup")

    with monkeypatch.context() as patched:
        patched.setattr(StoryClusterer, "add", broken)
        assert assignment.assign_quietly(row.pk, now=T0) is None
    assert Article.objects.filter(pk=row.pk, status=Article.Status.OK).exists()
    assert PlacementFailure.objects.get(article=row).error == "RuntimeError: database hiccup"
    assert assignment.sweep(now=T0 + timedelta(hours=1)) == 1
    assert StoryMembership.objects.filter(article=row).exists()
    assert not PlacementFailure.objects.exists()


@pytest.mark.django_db
def test_pruning_drops_state_past_the_window_but_keeps_stories_and_members():
    row = article(*FERRY_ITEMS[0][:2])
    assignment.assign(row.pk)
    StoryState.objects.update(updated_at=T0)
    dropped = assignment.prune(now=T0 + timedelta(days=10))
    assert dropped["states"] == 1 and dropped["terms"] > 0 and dropped["bands"] > 0
    assert StoryMembership.objects.filter(article=row).exists()
    assert Story.objects.get().article_count == 1


@pytest.mark.django_db
def test_the_merge_pass_joins_stories_but_leaves_editors_stories_alone():
    a = article("Sbarro files for Chapter 11 bankruptcy again", "")
    b = article("Pizza chain Sbarro files for Chapter 11", "", hours=1)
    engine = StoryClusterer(threshold=0.95, store=DatabaseStore(assignment.frequencies))
    first = engine.add(assignment.item_of(a))
    second = engine.add(assignment.item_of(b))
    assert first.story != second.story
    user = staff("edna", "Editors")
    editing.choose_lead(first.story, a.pk, user)
    assert assignment.merge_pass(now=T0 + timedelta(hours=2)) == {}
    Story.objects.update(lead_chosen_by=None)
    StoryMembership.objects.update(pinned_by=None)
    merged = assignment.merge_pass(now=T0 + timedelta(hours=2))
    assert len(merged) == 1
    ((gone, keep),) = merged.items()
    assert Story.objects.get(pk=gone).merged_into_id == keep
    assert Story.objects.get(pk=keep).article_count == 2
    assert set(StoryMembership.objects.values_list("story_id", flat=True)) == {keep}


# --- Two workers at once ----------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_assigning_one_event_at_once_make_one_story():
    first = article(*FERRY_ITEMS[0][:2])
    second = article(*FERRY_ITEMS[1][:2], hours=3)
    barrier = threading.Barrier(2)
    errors = []

    def work(article_id):
        # Each thread is its own database connection, as two worker processes would be; each
        # has its own frequency cache, like a process.
        try:
            barrier.wait()
            store = DatabaseStore(Frequencies())
            from django.db import transaction

            with transaction.atomic():
                assignment.lock()
                if not StoryMembership.objects.filter(article_id=article_id).exists():
                    row = Article.objects.get(pk=article_id)
                    assignment.clusterer(store).add(assignment.item_of(row))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(pk,)) for pk in (first.pk, second.pk)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert StoryMembership.objects.count() == 2
    assert StoryMembership.objects.values("story_id").distinct().count() == 1
    assert Story.objects.count() == 1


# --- Editors' decisions and restory -------------------------------------------------------------


@pytest.mark.django_db
def test_split_merge_and_lead_decisions_stick_through_restory():
    rows = [article(t, x, h) for t, x, h in FERRY_ITEMS]
    for row in rows:
        assignment.assign(row.pk)
    ferry = StoryMembership.objects.get(article=rows[0]).story_id
    orchard = StoryMembership.objects.get(article=rows[2]).story_id
    assert StoryMembership.objects.get(article=rows[1]).story_id == ferry
    user = staff("edna", "Editors")

    # Split the retelling out; choose it as its new story's lead.
    alone = editing.split(rows[1].pk, user)
    assert StoryMembership.objects.get(article=rows[1]).pinned_by == user
    assert Story.objects.get(pk=ferry).article_count == 1
    assert alone.pk != ferry

    job = restory.start(run_now=True)
    assert job.state == RestoryJob.State.DONE and job.done == 3
    assert StoryMembership.objects.get(article=rows[1]).story_id == alone.pk
    # The first report was placed again on its own (the retelling is pinned elsewhere).
    assert StoryMembership.objects.get(article=rows[0]).story_id != alone.pk

    # Merge the orchard story into the split-out one: merged_into set, members moved, pinned.
    orchard = StoryMembership.objects.get(article=rows[2]).story_id
    editing.merge([orchard, alone.pk], alone.pk, user)
    assert Story.objects.get(pk=orchard).merged_into_id == alone.pk
    editing.choose_lead(alone.pk, rows[2].pk, user)
    restory.start(since=T0, run_now=True)
    story = Story.objects.get(pk=alone.pk)
    members = set(StoryMembership.objects.filter(story=story).values_list("article_id", flat=True))
    assert {rows[1].pk, rows[2].pk} <= members  # what the editor put together stays together
    assert (story.lead_id, story.lead_chosen_by_id) == (rows[2].pk, user.pk)


@pytest.mark.django_db
def test_restory_places_unassigned_articles_and_a_newer_job_supersedes_an_older_one():
    rows = [article(t, x, h) for t, x, h in FERRY_ITEMS]
    older = RestoryJob.objects.create()
    job = restory.start(since=T0 - timedelta(days=1), run_now=True)
    assert RestoryJob.objects.get(pk=older.pk).state == RestoryJob.State.SUPERSEDED
    assert (job.state, job.total, job.done) == (RestoryJob.State.DONE, 3, 3)
    stories = [StoryMembership.objects.get(article=r).story_id for r in rows]
    assert stories[0] == stories[1] != stories[2]
    assert restory.run_chunk(job.pk) == RestoryJob.State.DONE  # a copy of a message: nothing
