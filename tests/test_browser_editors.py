"""Editors' admin flows in a real Chromium (issue 15): a merge keeps the union, a hand decision
is undone, the preview shows a body passage, a retag job's page follows the job, staff get an
"Edit" link readers never see, and the topic form says what is wrong."""

from __future__ import annotations

import importlib

import pytest
from playwright.sync_api import expect

import tests.test_browser as shared  # skips this module too when Chromium is missing
from tags import linking, retagging
from tags.models import ArticleTag, RetagJob, Tag, TagDecision
from tests.factories import make_article, make_tag, staff

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


def sign_in(page, live_server, username: str, next_path: str) -> None:
    page.goto(f"{live_server.url}/admin/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw")
    page.click("input[type=submit]")
    page.wait_for_url(f"**{next_path}")


def an_editor(username: str = "eddie"):
    """A member of the Editors group, with the password "pw". A transaction test elsewhere in
    the run may have flushed the groups its migration made: then they are granted again, by
    that migration's own grant, so the browser works with an editor's permissions exactly."""
    from django.apps import apps
    from django.contrib.auth.models import Group

    if not Group.objects.filter(name="Editors").exists():
        groups = importlib.import_module("tags.migrations.0002_groups_and_starter_tags")
        groups.grant(apps, "Editors", groups.EDITOR_PERMISSIONS)
        models = importlib.import_module("tags.migrations.0005_topic_models")
        groups.grant(apps, "Editors", {"tags": models.GRANTS["Editors"]})
    return staff(username, "Editors")


def test_an_editor_undoes_a_hand_removal_and_the_rules_decide_again(live_server, page):
    Tag.objects.all().delete()
    gold = make_tag("gold", aliases=["bullion"])
    linking.rules_changed()
    article = make_article(title="Gold price rises", text="Dealers were busy.")
    linking.tag_article(article)
    user = an_editor()
    linking.remove_tag_by_hand(article, gold, user)
    assert Tag.objects.get(pk=gold.pk).article_count == 0

    sign_in(page, live_server, "eddie", f"/admin/articles/article/{article.pk}/change/")
    decisions = page.locator("table.hand-decisions")
    assert "Removed by hand" in decisions.inner_text()
    assert "eddie" in decisions.inner_text()
    shared.shot(page, "admin-hand-decisions")
    decisions.get_by_role("button", name="Undo").click()
    expect(page.locator(".messagelist")).to_contain_text("Took back “Removed by hand” for gold")
    assert "by the rules the article is on that topic now" in page.inner_text(".messagelist")
    assert "None: the rules and the topic model decide" in page.inner_text("main")
    assert not page.console_errors, page.console_errors

    assert not TagDecision.objects.exists()
    assert ArticleTag.objects.get(article=article, tag=gold).origin == "rule"
    assert Tag.objects.get(pk=gold.pk).article_count == 1


def test_the_preview_shows_the_body_passage_escaped_and_marked(live_server, page):
    Tag.objects.all().delete()
    gold = make_tag("gold")
    linking.rules_changed()
    article = make_article(
        title="Shares rally",
        text="Markets were quiet.\n\nDealers said <b>gold</b> & silver were flat on the day.",
    )
    linking.tag_article(article)
    an_editor()
    sign_in(page, live_server, "eddie", f"/admin/tags/tag/{gold.pk}/change/")
    page.fill("#id_strong_body_mentions", "1")
    with page.context.expect_page() as opened:
        page.click("input[name=_preview]")
    preview = opened.value
    preview.wait_for_load_state()
    assert preview.inner_text("#preview-added") == "1"
    passage = preview.locator(".preview-added .help").first
    # The publisher's markup is text, the hit is the only <mark>.
    assert "Dealers said <b>gold</b> & silver" in passage.inner_text()
    assert passage.locator("b").count() == 0
    assert [m.inner_text() for m in passage.locator("mark").all()] == ["gold"]
    preview.screenshot(
        path=str(shared.ARTIFACTS / f"tag-preview-passage-{page.width_name}.png"), full_page=True
    )
    assert Tag.objects.get(pk=gold.pk).strong_body_mentions == 3, "a preview saves nothing"


def test_a_retag_jobs_page_follows_the_job_until_it_is_done(live_server, page):
    Tag.objects.all().delete()
    gold = make_tag("gold")
    linking.rules_changed()
    article = make_article(title="Bullion rises")
    linking.tag_article(article)
    Tag.objects.filter(pk=gold.pk).update(name_is_alias=False)
    gold.aliases.create(phrase="bullion")
    linking.rules_changed()
    # Queued, not yet taken by a worker: this test plays the worker below.
    job = RetagJob.objects.create(tag=gold, tag_name="gold", total=1, phrases=["bullion"])
    an_editor()
    sign_in(page, live_server, "eddie", f"/admin/tags/retagjob/{job.pk}/change/")
    assert "Nothing changed yet" in page.inner_text("main")
    assert page.locator("meta[http-equiv=refresh]").count() == 1

    retagging.run(job)
    # The page reloads itself (a <meta> refresh: the CSP allows no inline script).
    expect(page.locator("table.job-changes")).to_contain_text("+1", timeout=15_000)
    assert "Bullion rises" in page.inner_text(".job-articles")
    assert page.locator("meta[http-equiv=refresh]").count() == 0
    assert not page.console_errors, page.console_errors
    shared.shot(page, "admin-retag-job")
    page.goto(f"{live_server.url}/admin/tags/retagjob/")
    assert "+1 / -0" in page.inner_text("#result_list")


def test_staff_follow_the_edit_link_and_readers_never_see_it(live_server, page, settings):
    settings.NEWSDESK_HOT_PAGE_SECONDS = 10  # production's caching, hot cache included
    Tag.objects.all().delete()
    gold = make_tag("gold")
    linking.rules_changed()
    article = make_article(title="Gold price rises")
    linking.tag_article(article)
    an_editor()
    sign_in(page, live_server, "eddie", "/admin/")

    page.goto(f"{live_server.url}/tags/gold/")
    page.get_by_role("link", name="Edit this topic").click()
    page.wait_for_url(f"**/admin/tags/tag/{gold.pk}/change/")
    page.goto(f"{live_server.url}{article.get_absolute_url()}")
    shared.shot(page, "article-staff-tools")
    page.get_by_role("link", name="Edit this article").click()
    page.wait_for_url(f"**/admin/articles/article/{article.pk}/change/")

    # A reader right after, through the same caches, and revalidating.
    reader = page.context.browser.new_context()
    try:
        anonymous = reader.new_page()
        for _ in range(2):
            anonymous.goto(f"{live_server.url}/tags/gold/")
            assert anonymous.locator("h1").inner_text() == "gold"
            assert anonymous.get_by_role("link", name="Edit this topic").count() == 0
            anonymous.goto(f"{live_server.url}{article.get_absolute_url()}")
            assert anonymous.get_by_role("link", name="Edit this article").count() == 0
    finally:
        reader.close()


def test_the_topic_form_says_what_is_wrong(live_server, page):
    Tag.objects.all().delete()
    make_tag("Magnets")
    an_editor()
    sign_in(page, live_server, "eddie", "/admin/tags/tag/add/")
    page.fill("#id_name", "magnets")
    page.fill("#id_min_score", "-1")
    page.fill("#id_aliases-0-phrase", "x" * 250)
    page.click("input[name=_save]")
    errors = page.inner_text("main")
    assert "Please correct the errors below." in errors
    assert "The topic “Magnets” already has this name." in errors
    assert "greater than or equal to 0" in errors
    assert "An alias can be at most 200 characters; this one has 250." in errors
    # What was typed is still there to correct.
    assert page.input_value("#id_aliases-0-phrase") == "x" * 250
    shared.shot(page, "admin-topic-form-errors")
    assert Tag.objects.count() == 1
