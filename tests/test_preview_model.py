"""The topic form's preview counts what the topic model would veto or keep (issue 15, item 6):
a strong rule match the model overrules is neither "added" nor lost, and switching the topic
to rules alone shows it gained."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tags import combining, linking, modelling
from tags.models import ArticleTag, Tag, TaggingMode
from tests.factories import make_article, make_tag
from tests.labelled import records, write_jsonl
from tests.test_admin import tag_form
from tests.test_topic_models import COFFEE_TEXT, VOLCANO_TEXT, run

pytestmark = pytest.mark.django_db


@pytest.fixture
def coffee(tmp_path, settings):
    Tag.objects.all().delete()
    settings.NEWSDESK_TRAIN_AFTER_DECISIONS = 0
    coffee = make_tag("coffee", aliases=["coffee"], tagging_mode=TaggingMode.RULES_AND_MODEL)
    make_tag("volcano", aliases=["volcano"])
    path = tmp_path / "labels.jsonl"
    write_jsonl(path, records())
    run("importlabels", str(path), "--map", "cof=coffee", "--map", "volc=volcano")
    run("trainmodels", "--no-retag")
    linking.rules_changed()
    return coffee


def preview_html(editor, tag, mode: str) -> str:
    data = tag_form("coffee", ["coffee"], _tag_id=str(tag.pk), tagging_mode=mode)
    response = editor.post(reverse("admin:tags_tag_preview"), data)
    assert response.status_code == 200
    return response.content.decode()


def test_the_preview_leaves_model_vetoed_matches_out_of_what_saving_adds(editor, coffee):
    vetoed_today = make_article("Coffee break at the observatory", VOLCANO_TEXT)
    listed = make_article("Coffee prices rise", COFFEE_TEXT)
    for article in (vetoed_today, listed):
        linking.tag_article(article)
    link = ArticleTag.objects.get(article=vetoed_today, tag=coffee)
    assert link.origin == ArticleTag.Origin.VETOED
    # Not tagged yet: the preview alone says what would become of it.
    untagged = make_article("Coffee at the volcano observatory", VOLCANO_TEXT)
    model = modelling.current_model()
    p = model.predict(title=untagged.title, text=untagged.text)["coffee"].probability
    assert p < combining.DEFAULT_VETO_AT

    html = preview_html(editor, coffee, TaggingMode.RULES_AND_MODEL)
    assert 'id="preview-added">0<' in html
    assert 'id="preview-dropped">0<' in html
    assert 'id="preview-model-vetoed">2<' in html
    assert "Kept off by the topic model" in html
    assert "strong rule match vetoed by the model" in html

    # On rules alone, both strong matches would be published: saving gains them.
    html = preview_html(editor, coffee, TaggingMode.RULES)
    assert 'id="preview-added">2<' in html
    assert 'id="preview-dropped">0<' in html
    assert "preview-model-vetoed" not in html
