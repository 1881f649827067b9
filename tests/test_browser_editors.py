"""An editor merges two topics in a real Chromium and the target keeps the union (issue 15)."""

from __future__ import annotations

import pytest

import tests.test_browser as shared  # skips this module too when Chromium is missing
from tags import linking
from tags.models import ArticleTag, Tag, TagDecision
from tests.factories import make_article, make_tag

# The shared Chromium and its per-width pages.
browser = shared.browser
page = shared.page

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_an_editor_merges_a_topic_and_a_hand_removal_does_not_follow(live_server, page):
    from django.contrib.auth.models import User

    # A superuser: transaction tests elsewhere may flush the groups; the Editors group's own
    # permissions are covered by the test-client tests (tests/test_retiring.py).
    user = User.objects.create_superuser("eddie", password="pw-12345-x")
    Tag.objects.all().delete()  # the starter topics come back after (serialized rollback)
    ev = make_tag("electric vehicles")
    batteries = make_tag("batteries", aliases=["battery"])
    linking.rules_changed()
    articles = [
        make_article(title=t)
        for t in [
            "Electric vehicles need a better battery",
            "Electric vehicles sales rise",
            "Battery recycling plant opens",
        ]
    ]
    for article in articles:
        linking.tag_article(article)
    linking.remove_tag_by_hand(articles[0], ev, user)

    page.goto(f"{live_server.url}/admin/login/?next=/admin/tags/tag/")
    page.fill("#id_username", "eddie")
    page.fill("#id_password", "pw-12345-x")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/tags/tag/")
    assert "Newsdesk administration" in page.inner_text("#site-name")
    page.check(f"input[name=_selected_action][value='{ev.pk}']")
    page.select_option("select[name=action]", "merge_into")
    page.click("button[name=index]")
    page.select_option("#id_target", label="batteries")
    page.click("input[name=apply]")
    page.wait_for_url("**/admin/tags/tag/")
    assert "Merged 1 topic into batteries" in page.inner_text(".messagelist")
    shared.shot(page, "admin-merge")

    batteries.refresh_from_db()
    assert set(ArticleTag.objects.filter(tag=batteries).values_list("article", flat=True)) == {
        a.pk for a in articles
    }
    assert batteries.article_count == 3
    assert not TagDecision.objects.exists()
    # The merged-away topic is listed apart, not among the live ones.
    assert "electric vehicles" not in page.inner_text("#result_list")
    assert Tag.objects.get(pk=ev.pk).merged_into_id == batteries.pk
