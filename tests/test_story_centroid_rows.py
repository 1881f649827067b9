"""Centroid rows have no foreign key constraint in the database (a batch's deferred check cost as
much as writing them): every path that ends a story's clusterer state removes its rows itself."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection

from stories import assignment, editing, restory
from stories.models import Story, StoryCentroid, StoryMembership, StoryState
from tests.factories import staff
from tests.test_story_assignment import FERRY_ITEMS, T0, article

pytestmark = pytest.mark.django_db

# A centroid row is an orphan when its story is gone, merged away, or holds no state.
ORPHANS = """
    SELECT count(*) FROM stories_storycentroid c
    LEFT JOIN stories_story s ON s.id = c.story_id
    LEFT JOIN stories_storystate st ON st.story_id = c.story_id
    WHERE s.id IS NULL OR st.story_id IS NULL OR s.merged_into_id IS NOT NULL
"""


def orphans() -> int:
    with connection.cursor() as cursor:
        cursor.execute(ORPHANS)
        return cursor.fetchone()[0]


@pytest.fixture
def placed():
    assignment.frequencies.discard()
    rows = [article(t, x, h) for t, x, h in FERRY_ITEMS]
    for row in rows:
        assignment.assign(row.pk)
    assert StoryCentroid.objects.exists() and orphans() == 0
    return rows


def story_of(row) -> int:
    return StoryMembership.objects.get(article=row).story_id


def test_the_centroid_rows_have_no_constraint_to_check_at_commit():
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, "stories_storycentroid")
    assert not [name for name, c in found.items() if c["foreign_key"]]


def test_an_editors_merge_removes_the_merged_storys_centroid_rows(placed):
    ferry, orchard = story_of(placed[0]), story_of(placed[2])
    assert ferry != orchard
    editing.merge([orchard, ferry], ferry, staff("edna", "Editors"))
    assert not StoryCentroid.objects.filter(story_id=orchard).exists()
    assert StoryCentroid.objects.filter(story_id=ferry).exists()
    assert orphans() == 0


def test_a_split_leaves_no_orphan_centroid_rows(placed):
    editing.split(placed[1].pk, staff("edna", "Editors"))
    assert orphans() == 0


def test_pruning_removes_the_centroid_rows_of_the_stories_it_drops(placed):
    StoryState.objects.update(updated_at=T0)
    assignment.prune(now=T0 + timedelta(days=10))
    assert not StoryState.objects.exists()
    assert not StoryCentroid.objects.exists()


def test_a_restory_leaves_no_orphan_centroid_rows(placed):
    # The retelling is split out and pinned: the restory takes members out of their stories
    # (stories.takeout), emptying some, and places them again.
    editing.split(placed[1].pk, staff("edna", "Editors"))
    restory.start(since=T0 - timedelta(days=1), run_now=True)
    assert orphans() == 0


def test_deleting_a_story_through_django_deletes_its_centroid_rows(placed):
    story = story_of(placed[2])
    Story.objects.filter(pk=story).delete()
    assert not StoryCentroid.objects.filter(story_id=story).exists()
    assert orphans() == 0
