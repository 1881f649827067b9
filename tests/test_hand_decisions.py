"""Hand decisions on the article's admin page, and taking one back (issue 15, item 6)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tags import linking
from tags.models import ArticleTag, Tag, TagDecision
from tests.factories import make_article, make_tag, staff

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _only_test_tags():
    Tag.objects.all().delete()


@pytest.fixture
def gold_article():
    gold = make_tag("gold", aliases=["bullion"])
    silver = make_tag("silver")
    linking.rules_changed()
    article = make_article(title="Gold price rises", text="Dealers were busy.")
    linking.tag_article(article)
    return article, gold, silver


def undo_url(article) -> str:
    return reverse("admin:articles_article_undo_decision", args=[article.pk])


def counts(*tags) -> list[int]:
    return [Tag.objects.get(pk=t.pk).article_count for t in tags]


def test_the_article_page_lists_hand_decisions_with_editor_and_an_undo(editor, gold_article):
    article, gold, silver = gold_article
    user = staff("ruth", "Editors")
    linking.remove_tag_by_hand(article, gold, user)
    linking.add_tag_by_hand(article, silver, user)
    html = editor.get(reverse("admin:articles_article_change", args=[article.pk])).content
    html = html.decode()
    assert "Removed by hand" in html and "Added by hand" in html
    assert "ruth" in html
    assert html.count('form="undo-decision"') == 2
    # The undo form lives outside the change form and carries the CSRF token.
    assert f'<form id="undo-decision" method="post" action="{undo_url(article)}">' in html


def test_undoing_a_removal_restores_the_rules_link_and_its_count(editor, gold_article):
    article, gold, _ = gold_article
    linking.remove_tag_by_hand(article, gold)
    assert counts(gold) == [0]
    decision = TagDecision.objects.get(article=article, tag=gold)
    response = editor.post(undo_url(article), {"decision": decision.pk})
    assert response.status_code == 302
    assert not TagDecision.objects.exists()
    link = ArticleTag.objects.get(article=article, tag=gold)
    assert (link.origin, link.is_visible) == ("rule", True)
    assert counts(gold) == [1]
    page = editor.get(response["Location"]).content.decode()
    assert "by the rules the article is on that topic now" in page


def test_undoing_an_addition_takes_the_topic_off_when_no_rule_gives_it(editor, gold_article):
    article, gold, silver = gold_article
    linking.add_tag_by_hand(article, silver)
    linking.add_tag_by_hand(article, gold)  # already on by its rule: confirmed by hand
    assert counts(gold, silver) == [1, 1]
    for decision in TagDecision.objects.all():
        editor.post(undo_url(article), {"decision": decision.pk})
    assert not ArticleTag.objects.filter(tag=silver).exists()
    assert ArticleTag.objects.get(tag=gold).origin == "rule"
    assert counts(gold, silver) == [1, 0]
    assert linking.recount() == 0


def test_undo_needs_a_post_with_csrf_and_an_editor(client, gold_article):
    from django.test import Client

    article, gold, _ = gold_article
    linking.remove_tag_by_hand(article, gold)
    decision = TagDecision.objects.get()
    # An operator views articles but may not undo an editor's decision.
    client.force_login(staff("olga", "Operators"))
    assert client.post(undo_url(article), {"decision": decision.pk}).status_code == 403
    page = client.get(reverse("admin:articles_article_change", args=[article.pk]))
    assert page.status_code == 200
    assert b"undo-decision" not in page.content
    # An editor's browser without the CSRF token is refused too.
    checked = Client(enforce_csrf_checks=True)
    checked.force_login(staff("eddie", "Editors"))
    assert checked.post(undo_url(article), {"decision": decision.pk}).status_code == 403
    # A GET changes nothing.
    assert checked.get(undo_url(article)).status_code == 302
    assert TagDecision.objects.filter(pk=decision.pk).exists()
    assert counts(gold) == [0]


def test_undo_of_a_decision_already_gone_says_so(editor, gold_article):
    article, gold, _ = gold_article
    linking.remove_tag_by_hand(article, gold)
    decision = TagDecision.objects.get()
    editor.post(undo_url(article), {"decision": decision.pk})
    response = editor.post(undo_url(article), {"decision": decision.pk}, follow=True)
    assert "already taken back" in response.content.decode()
    assert counts(gold) == [1]
