"""An editor splits, re-leads and merges stories in a real Chromium (issue 13)."""

from __future__ import annotations

import pytest

import tests.test_browser as shared  # skips this module too when Chromium is missing
from stories import assignment
from stories.models import Story, StoryMembership
from tests.test_story_assignment import FERRY_ITEMS, article

browser = shared.browser
page = shared.page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_an_editor_splits_an_article_out_chooses_a_lead_and_merges_back(live_server, page):
    from django.contrib.auth.models import User

    # A superuser: transaction tests elsewhere may flush the groups; the Editors group's own
    # permissions are covered by tests/test_story_admin.py.
    User.objects.create_superuser("eddie", password="pw-12345-x")
    assignment.frequencies.discard()
    rows = [article(t, x, h) for t, x, h in FERRY_ITEMS]
    for row in rows:
        assignment.assign(row.pk)
    ferry = StoryMembership.objects.get(article=rows[0]).story_id
    assert StoryMembership.objects.get(article=rows[1]).story_id == ferry

    page.goto(f"{live_server.url}/admin/login/?next=/admin/stories/story/")
    page.fill("#id_username", "eddie")
    page.fill("#id_password", "pw-12345-x")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/stories/story/")
    listing = page.inner_text("#result_list")
    assert "Ferry Friesland Star runs aground off Vlieland" in listing
    shared.shot(page, "admin-stories")

    page.click(f"#result_list a[href$='/story/{ferry}/change/']")
    page.wait_for_url(f"**/story/{ferry}/change/")
    members = page.locator("#story-members tbody tr")
    assert members.count() == 2
    shared.shot(page, "admin-story")
    page.click(f"#story-members tr[data-article='{rows[1].pk}'] button:has-text('Split out')")
    assert "Split the article out into story" in page.inner_text(".messagelist")
    split = StoryMembership.objects.get(article=rows[1]).story_id
    assert split != ferry
    assert page.url.endswith(f"/story/{split}/change/")

    page.goto(f"{live_server.url}/admin/stories/story/{ferry}/change/")
    assert page.locator("#story-members tbody tr").count() == 1

    # Merge the split story back into the first, then make the retelling the lead.
    page.goto(f"{live_server.url}/admin/stories/story/")
    page.check(f"input[name=_selected_action][value='{ferry}']")
    page.check(f"input[name=_selected_action][value='{split}']")
    page.select_option("select[name=action]", "merge_stories")
    page.click("button[name=index]")
    page.select_option("#id_target", value=str(ferry))
    page.click("input[name=apply]")
    page.wait_for_url("**/admin/stories/story/")
    assert "Merged 1 story into story" in page.inner_text(".messagelist")
    assert Story.objects.get(pk=split).merged_into_id == ferry

    page.goto(f"{live_server.url}/admin/stories/story/{ferry}/change/")
    page.click(f"#story-members tr[data-article='{rows[1].pk}'] button:has-text('Make lead')")
    assert "Lead chosen" in page.inner_text(".messagelist")
    story = Story.objects.get(pk=ferry)
    assert story.lead_id == rows[1].pk and story.lead_chosen_by is not None
    assert "chosen by eddie" in page.inner_text("#story-members")
    shared.shot(page, "admin-story-lead")
