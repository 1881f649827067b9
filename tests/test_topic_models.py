"""Topic models in the database: importing labels, training, model-made links, the review queue,
figures on the topic form, and what bad input does."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.urls import reverse

from tags import combining, linking, modelling
from tags.management.commands.trainmodels import suggested
from tags.models import (
    ArticleTag,
    LabelledExample,
    ReviewItem,
    Tag,
    TagDecision,
    TaggingMode,
    TopicModelVersion,
    TrainingRun,
)
from tests.factories import make_article, make_tag
from tests.labelled import records, write_jsonl

pytestmark = pytest.mark.django_db

COFFEE_TEXT = (
    "Arabica growers expect a smaller harvest after frost, and roasters raised the price of "
    "espresso blends as bean shipments slowed."
)


@pytest.fixture(autouse=True)
def _only_test_tags(settings):
    Tag.objects.all().delete()
    settings.NEWSDESK_TRAIN_AFTER_DECISIONS = 0


@pytest.fixture
def topics():
    coffee = make_tag("coffee", aliases=["coffee"], tagging_mode=TaggingMode.MODEL)
    volcano = make_tag("volcano", aliases=["volcano"])
    tides = make_tag("tides", aliases=["tide"])
    return coffee, volcano, tides


@pytest.fixture
def labels(tmp_path):
    path = tmp_path / "labels.jsonl"
    write_jsonl(path, records())
    return path


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command(*args, stdout=out, verbosity=1)
    return out.getvalue()


def trained(labels, topics) -> TopicModelVersion:
    run("importlabels", str(labels), "--map", "cof=coffee", "--map", "volc=volcano")
    run("trainmodels", "--no-retag")
    return TopicModelVersion.objects.get(is_current=True)


# --- importlabels --------------------------------------------------------------------------------


def test_importlabels_maps_codes_and_reports_unknown_ones(labels, topics):
    out = run("importlabels", str(labels), "--map", "cof=coffee", "--map", "volc=volcano")
    assert LabelledExample.objects.count() == 56
    assert Tag.objects.get(slug="coffee").labelled_examples.count() == 14
    assert "56 labelled articles imported" in out
    assert "misc-code" in out and "Map them with --map" in out
    assert "coffee: 14 positive examples" in out
    # Importing the same file again updates rather than duplicates.
    out = run("importlabels", str(labels), "--map", "cof=coffee", "--map", "volc=volcano")
    assert LabelledExample.objects.count() == 56
    assert "56 updated" in out
    assert Tag.objects.get(slug="coffee").labelled_examples.count() == 14


def test_importlabels_reads_a_mapping_file(labels, topics, tmp_path):
    mapping = tmp_path / "map.txt"
    mapping.write_text("# archive code = topic slug\ncof=coffee\n")
    run("importlabels", str(labels), "--map-file", str(mapping))
    assert Tag.objects.get(slug="coffee").labelled_examples.count() == 14


def test_a_malformed_line_is_reported_by_number_and_nothing_is_imported(tmp_path, topics):
    rows = records()
    path = tmp_path / "bad.jsonl"
    lines = [json.dumps(r) for r in rows]
    lines[4] = '{"title": "cut off'
    lines[9] = json.dumps({"title": "x", "body": "y", "topics": "cof"})
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CommandError) as info:
        run("importlabels", str(path), "--map", "cof=coffee")
    assert "line 5: not JSON" in str(info.value)
    assert "line 10: topics must be a list" in str(info.value)
    assert "nothing imported" in str(info.value)
    assert not LabelledExample.objects.exists()


def test_mapping_to_a_missing_topic_is_refused(labels, topics):
    with pytest.raises(CommandError, match="do not exist: cocoa"):
        run("importlabels", str(labels), "--map", "cof=cocoa")
    assert not LabelledExample.objects.exists()


def test_a_missing_file_says_so(tmp_path, topics):
    with pytest.raises(CommandError, match="No such file"):
        run("importlabels", str(tmp_path / "nope.jsonl"))


def test_a_mapped_topic_without_positives_is_reported(labels, topics):
    out = run("importlabels", str(labels), "--map", "tide=tides")
    assert "tides: no positive examples in this file" in out


# --- trainmodels ---------------------------------------------------------------------------------


def test_trainmodels_stores_a_current_version_with_figures_per_mode(labels, topics):
    run("importlabels", str(labels), "--map", "cof=coffee", "--map", "volc=volcano")
    out = run("trainmodels", "--no-retag")
    version = TopicModelVersion.objects.get(is_current=True)
    assert version.n_examples == 56
    assert version.trained_on == {"imported": 56, "editor_added": 0, "editor_removed": 0}
    coffee = version.topics["coffee"]
    assert coffee["positives"] == 14 and coffee["skipped"] is None
    assert set(coffee["cv"]) == {"rules", "rules+model", "model"}
    assert coffee["cv"]["model"]["f1"] > 0.8
    assert 0.05 <= coffee["suggested_publish_at"] <= 0.95
    # The mode and level with the best cross-validated F1, shown to the editor.
    assert coffee["suggested_mode"] in {"rules", "rules+model", "model"}
    best = max(f["f1"] for f in coffee["cv"].values())
    assert coffee["suggested_mode_f1"] >= best - 1e-9
    assert 0.05 <= coffee["suggested_mode_publish_at"] <= 0.95
    assert "now current" in out
    assert "tides: stays on rules: 0 labelled articles, at least 10 needed" in out


def test_trainmodels_prints_the_suggested_mode_and_levels_per_topic(labels, topics):
    run("importlabels", str(labels), "--map", "cof=coffee", "--map", "volc=volcano")
    out = run("trainmodels", "--no-retag")
    info = TopicModelVersion.objects.get(is_current=True).topics
    lines = out.splitlines()
    for slug in ("coffee", "volcano"):
        # The advice follows the topic's figures, with what the topic form shows.
        at = next(i for i, line in enumerate(lines) if line.startswith(f"  {slug} ("))
        assert lines[at + 1] == f"    {suggested(info[slug])}"
        assert f"suggested: {info[slug]['suggested_mode']}" in lines[at + 1]
        assert f"F1 {info[slug]['suggested_mode_f1']:.2f}" in lines[at + 1]
    assert "tides: stays on rules" in out
    assert not any("suggested" in line for line in lines if "tides" in line)
    # --topic narrows the report to that topic's figures and advice.
    out = run("trainmodels", "--no-retag", "--topic", "volcano")
    assert "suggested:" in out and "coffee" not in out


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (
            "rules+model",
            "suggested: rules+model, model publishes at 0.75, overrules a rule match below "
            "0.02 (cross-validated F1 0.91); the model alone is best at 0.40.",
        ),
        (
            "model",
            "suggested: model, model publishes at 0.75 (cross-validated F1 0.91); "
            "the model alone is best at 0.40.",
        ),
        # The rules alone use neither level.
        ("rules", "suggested: rules (cross-validated F1 0.91); the model alone is best at 0.40."),
    ],
)
def test_the_printed_advice_names_only_the_levels_the_mode_uses(mode, expected):
    info = {
        "suggested_mode": mode,
        "suggested_mode_publish_at": 0.75,
        "suggested_mode_veto_at": 0.02 if mode == "rules+model" else None,
        "suggested_mode_f1": 0.9137,
        "suggested_publish_at": 0.4,
    }
    assert suggested(info) == expected
    assert suggested({"suggested_mode": None}) == ""


def test_a_worse_version_does_not_replace_the_current_one(labels, topics):
    first = trained(labels, topics)
    TopicModelVersion.objects.filter(pk=first.pk).update(cv_f1=1.5)
    out = run("trainmodels", "--no-retag")
    assert "not used" in out
    assert TopicModelVersion.objects.get(is_current=True).pk == first.pk
    assert TopicModelVersion.objects.count() == 2


def test_an_unknown_topic_is_refused(topics):
    with pytest.raises(CommandError, match="No active topic"):
        run("trainmodels", "--topic", "nope")


def test_a_training_run_twice_is_a_no_op(labels, topics):
    run("importlabels", str(labels), "--map", "cof=coffee")
    run_ = TrainingRun.objects.create()
    modelling.run_training_run(run_)
    modelling.run_training_run(run_)
    assert TopicModelVersion.objects.count() == 1
    run_.refresh_from_db()
    assert run_.state == TrainingRun.State.DONE and run_.accepted


def test_enough_hand_decisions_queue_a_training_run(
    settings, topics, django_capture_on_commit_callbacks
):
    settings.NEWSDESK_TRAIN_AFTER_DECISIONS = 2
    coffee = topics[0]
    with django_capture_on_commit_callbacks(execute=True):
        linking.add_tag_by_hand(make_article("one"), coffee)
    assert not TrainingRun.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        linking.add_tag_by_hand(make_article("two"), coffee)
    assert TrainingRun.objects.count() == 1


# --- model-made links ----------------------------------------------------------------------------


def test_a_model_only_topic_links_an_article_no_alias_names(labels, topics):
    trained(labels, topics)
    coffee = topics[0]
    article = make_article("Harvest worries in the highlands", COFFEE_TEXT)
    linking.tag_article(article)
    link = ArticleTag.objects.get(article=article, tag=coffee)
    assert link.origin == ArticleTag.Origin.MODEL
    assert link.score > 0.6
    assert {"arabica", "espresso", "roasters", "bean", "harvest"} & set(link.terms)
    coffee.refresh_from_db()
    assert coffee.article_count == 1
    assert linking.recount() == 0


def test_counts_stay_exact_and_hand_decisions_stick_through_model_links(labels, topics):
    trained(labels, topics)
    coffee = topics[0]
    articles = [make_article(f"Harvest {i}", COFFEE_TEXT) for i in range(3)]
    for article in articles:
        linking.tag_article(article)
    linking.remove_tag_by_hand(articles[0], coffee)
    linking.set_hidden([articles[1]], True)
    for article in articles:
        article.refresh_from_db()
        linking.tag_article(article)
    coffee.refresh_from_db()
    assert coffee.article_count == 1
    assert not ArticleTag.objects.filter(article=articles[0], tag=coffee).exists()
    assert linking.recount() == 0
    linking.set_hidden([articles[1]], False)
    coffee.refresh_from_db()
    assert coffee.article_count == 2
    assert linking.recount() == 0


def test_rules_and_model_vetoes_nothing_strong_and_adds_confident_misses(labels, topics):
    trained(labels, topics)
    coffee = topics[0]
    Tag.objects.filter(pk=coffee.pk).update(tagging_mode=TaggingMode.RULES_AND_MODEL)
    linking.rules_changed()
    matched = make_article("Coffee prices", "Coffee traders met in town; nothing else happened.")
    missed = make_article("Harvest worries", COFFEE_TEXT)
    linking.tag_article(matched)
    linking.tag_article(missed)
    assert ArticleTag.objects.get(article=matched, tag=coffee).origin == ArticleTag.Origin.RULE
    assert ArticleTag.objects.get(article=missed, tag=coffee).origin == ArticleTag.Origin.MODEL


def test_a_rules_only_topic_ignores_the_model(labels, topics):
    trained(labels, topics)
    volcano = topics[1]
    article = make_article("Eruption warning", "Lava flows reached the village; ash everywhere.")
    linking.tag_article(article)
    assert not ArticleTag.objects.filter(article=article, tag=volcano).exists()


def test_a_model_that_fails_to_load_leaves_tagging_to_the_rules(labels, topics, caplog):
    version = trained(labels, topics)
    TopicModelVersion.objects.filter(pk=version.pk).update(data=b"garbage")
    modelling.model_changed()
    coffee = topics[0]
    article = make_article("Coffee news", "Coffee and more coffee, and coffee again.")
    linking.tag_article(article)
    link = ArticleTag.objects.get(article=article, tag=coffee)
    assert link.origin == ArticleTag.Origin.RULE
    assert "cannot be loaded" in caplog.text


# --- the review queue and the topic form ---------------------------------------------------------


def editor_client(client) -> User:
    user = User.objects.create_user("eddie", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="Editors"))
    client.force_login(user)
    return user


def test_borderline_articles_go_to_review_and_decisions_come_back(labels, topics, client):
    trained(labels, topics)
    coffee = topics[0]
    Tag.objects.filter(pk=coffee.pk).update(model_publish_at=0.999, model_review_at=0.05)
    linking.rules_changed()
    first = make_article("Harvest worries", COFFEE_TEXT)
    second = make_article("Harvest worries again", COFFEE_TEXT)
    for article in (first, second):
        linking.tag_article(article)
    assert not ArticleTag.objects.filter(tag=coffee).exists()
    items = {i.article_id: i for i in ReviewItem.objects.filter(tag=coffee)}
    assert set(items) == {first.pk, second.pk}
    user = editor_client(client)
    changelist = reverse("admin:tags_reviewitem_changelist")
    page = client.get(changelist)
    assert page.status_code == 200
    assert "Harvest worries" in page.content.decode()
    assert "top terms" in page.content.decode()
    client.post(changelist, {"action": "accept", "_selected_action": [items[first.pk].pk]})
    client.post(changelist, {"action": "reject", "_selected_action": [items[second.pk].pk]})
    assert not ReviewItem.objects.exists()
    assert TagDecision.objects.get(article=first, tag=coffee).decision == "add"
    assert TagDecision.objects.get(article=second, tag=coffee).editor == user
    assert ArticleTag.objects.get(article=first, tag=coffee).origin == ArticleTag.Origin.EDITOR
    # Re-tagging does not put decided articles back in the queue, and the decisions stick.
    for article in (first, second):
        linking.tag_article(article)
    assert not ReviewItem.objects.exists()
    assert not ArticleTag.objects.filter(article=second, tag=coffee).exists()
    # They are training data now.
    data = modelling.training_set()
    assert data.counts["editor_added"] == 1 and data.counts["editor_removed"] == 1


def test_the_topic_form_shows_the_model_and_figures_per_mode(labels, topics, client):
    version = trained(labels, topics)
    editor_client(client)
    coffee, _, tides = topics
    page = client.get(reverse("admin:tags_tag_change", args=[coffee.pk])).content.decode()
    assert version.version in page
    for label in ("Rules only", "Rules + model", "Model only (chosen)"):
        assert label in page
    assert "precision" in page and "recall" in page
    assert "The model suggests" in page
    assert "Suggested mode:" in page
    page = client.get(reverse("admin:tags_tag_change", args=[tides.pk])).content.decode()
    assert "Stays on rules" in page and "at least 10 positive examples" in page


def test_the_article_admin_explains_a_model_link(labels, topics, client):
    trained(labels, topics)
    article = make_article("Harvest worries", COFFEE_TEXT)
    linking.tag_article(article)
    user = User.objects.create_superuser("root", password="pw")
    client.force_login(user)
    page = client.get(reverse("admin:articles_article_change", args=[article.pk]))
    assert "model, probability 0." in page.content.decode()
    assert "top terms:" in page.content.decode()


def test_the_model_vetoes_a_weak_rule_match_even_where_weak_matches_are_published(labels, topics):
    trained(labels, topics)
    coffee = topics[0]
    Tag.objects.filter(pk=coffee.pk).update(
        tagging_mode=TaggingMode.RULES_AND_MODEL, publish_weak=True
    )
    linking.rules_changed()
    # One passing mention deep in a council story: a weak match the model does not believe.
    body = "\n\n".join(
        [
            "The city council approved a new budget for road repairs and school buildings.",
            "Parliament debated a bill on pensions, with a vote expected next month.",
            "Bus drivers agreed a new contract after weeks of talks with the operator.",
            "The museum opened an exhibition of paintings lent by a private collector.",
            "Councillors later shared coffee with residents.",
        ]
    )
    article = make_article("Council news in brief", body)
    linking.tag_article(article)
    link = ArticleTag.objects.filter(article=article, tag=coffee).first()
    assert link is None or not link.is_visible
    coffee.refresh_from_db()
    assert coffee.article_count == 0
    assert linking.recount() == 0


VOLCANO_TEXT = "\n\n".join(
    [
        "Lava flows reached the outskirts of the village and ash closed the small airport.",
        "Seismologists recorded tremors under the crater and raised the eruption alert level.",
        "Residents fled as the volcano sent a plume of ash kilometres into the sky.",
        "The magma chamber is swelling, the observatory said, and the summit is off limits.",
    ]
)


def test_the_model_vetoes_a_strong_rule_match_it_is_sure_of_and_says_so(labels, topics, client):
    trained(labels, topics)
    coffee = topics[0]
    Tag.objects.filter(pk=coffee.pk).update(tagging_mode=TaggingMode.RULES_AND_MODEL)
    linking.rules_changed()
    # "Coffee" in the title is a strong rule match; the story is about the volcano.
    article = make_article("Coffee break at the observatory", VOLCANO_TEXT)
    probability = modelling.current_model().predict(title=article.title, text=article.text)
    assert probability["coffee"].probability < combining.DEFAULT_VETO_AT
    linking.tag_article(article)
    link = ArticleTag.objects.get(article=article, tag=coffee)
    assert link.origin == ArticleTag.Origin.VETOED and not link.is_visible
    assert link.score == pytest.approx(probability["coffee"].probability, abs=1e-3)
    coffee.refresh_from_db()
    assert coffee.article_count == 0
    assert linking.recount() == 0
    user = User.objects.create_superuser("root", password="pw")
    client.force_login(user)
    page = client.get(reverse("admin:articles_article_change", args=[article.pk])).content
    assert "strong rule match" in page.decode() and "vetoed by the topic model" in page.decode()
    # On rules alone the editor's choice stands: the same match is published.
    Tag.objects.filter(pk=coffee.pk).update(tagging_mode=TaggingMode.RULES)
    linking.rules_changed()
    linking.tag_article(article)
    link = ArticleTag.objects.get(article=article, tag=coffee)
    assert link.origin == ArticleTag.Origin.RULE and link.is_visible
