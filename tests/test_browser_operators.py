"""What editors and operators see in a real Chromium: the admin under the site's CSP."""

from __future__ import annotations

import pytest

import tests.test_browser as shared  # skips this module too when Chromium is missing
from articles.models import Feed, Source
from tests.pages_fixtures import make_article, make_source, make_tag

# The shared Chromium and its per-width pages.
browser = shared.browser
page = shared.page


pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _csp_errors(page) -> list[str]:
    return [e for e in page.console_errors if "Content Security Policy" in e]


def test_the_admin_change_list_and_form_break_no_csp_rule(live_server, page, django_user_model):
    django_user_model.objects.create_superuser("boss", "boss@example.org", "pw-12345-x")
    source = make_source("Metal Times", "metal.example")
    article = make_article("A story", tags=[make_tag("Admin CSP topic")], source=source)
    feed = Feed.objects.create(url="https://metal.example/feed.xml", source=source)
    Feed.objects.create(url="https://broken.example/feed.xml", last_status=Feed.Status.ERROR)

    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "pw-12345-x")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")

    for path in (
        "/admin/articles/article/",
        "/admin/articles/source/",
        f"/admin/articles/source/{source.pk}/change/",
        "/admin/tags/tag/add/",
        f"/admin/articles/article/{article.pk}/change/",
        "/admin/articles/feed/",
        f"/admin/articles/feed/{feed.pk}/change/",
    ):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("load")
    assert _csp_errors(page) == []
    # The admin's own scripts ran: the change list's action bar is wired up.
    page.goto(f"{live_server.url}/admin/articles/feed/")
    assert page.locator("#action-toggle").count() == 1
    colour = page.locator(".feed-health-error").evaluate("e => getComputedStyle(e).color")
    assert colour == "rgb(188, 76, 0)"
    assert Source.objects.filter(pk=source.pk).exists()
