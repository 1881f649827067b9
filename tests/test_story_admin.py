"""Editors' story admin through the test client: permissions, the list, the actions."""

from __future__ import annotations

import pytest
from django.urls import reverse

from stories import assignment
from stories.models import Story, StoryMembership
from tests.test_story_assignment import FERRY_ITEMS, article

pytestmark = pytest.mark.django_db


@pytest.fixture
def placed():
    assignment.frequencies.discard()
    rows = [article(t, x, h) for t, x, h in FERRY_ITEMS]
    for row in rows:
        assignment.assign(row.pk)
    return rows


def story_of(row) -> int:
    return StoryMembership.objects.get(article=row).story_id


def test_editors_see_the_list_with_lead_titles_and_counts(editor, placed):
    page = editor.get(reverse("admin:stories_story_changelist"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "Ferry Friesland Star runs aground off Vlieland" in body
    assert "Frost wipes out Betuwe cherry blossom" in body


def test_editors_split_an_article_out_and_choose_a_lead(editor, placed):
    ferry = story_of(placed[0])
    detail = editor.get(reverse("admin:stories_story_change", args=[ferry]))
    assert "Split out" in detail.content.decode()
    response = editor.post(
        reverse("admin:stories_story_split", args=[ferry, placed[1].pk]), follow=True
    )
    assert response.status_code == 200
    new = story_of(placed[1])
    assert new != ferry
    assert StoryMembership.objects.get(article=placed[1]).pinned_by.username == "eddie"
    editor.post(reverse("admin:stories_story_lead", args=[ferry, placed[0].pk]))
    assert Story.objects.get(pk=ferry).lead_chosen_by.username == "eddie"


def test_the_merge_action_moves_members_and_points_the_old_story_at_the_new(editor, placed):
    ferry, orchard = story_of(placed[0]), story_of(placed[2])
    response = editor.post(
        reverse("admin:stories_story_changelist"),
        {
            "action": "merge_stories",
            "_selected_action": [ferry, orchard],
            "apply": "1",
            "target": ferry,
        },
        follow=True,
    )
    assert "Merged 1 story into story" in response.content.decode()
    assert Story.objects.get(pk=orchard).merged_into_id == ferry
    assert story_of(placed[2]) == ferry


def test_operators_may_look_but_not_split(operator, placed):
    ferry = story_of(placed[0])
    assert operator.get(reverse("admin:stories_story_changelist")).status_code == 200
    response = operator.post(reverse("admin:stories_story_split", args=[ferry, placed[1].pk]))
    assert response.status_code == 403
    assert story_of(placed[1]) == ferry


def test_the_operations_page_counts_extracted_articles_in_no_story(operator):
    from django.contrib.auth.models import Permission

    from tests.test_story_assignment import FERRY

    article("Waiting for its story", FERRY)
    page = operator.get("/admin/operations/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Articles awaiting a story" in text
    assert "<strong>1</strong>. Each extraction asks for a drain" in text
    assert Permission.objects.filter(codename="view_restoryjob").exists()
