"""A topic's retag at scale: its scope is taken once, in the worker, into snapshot rows that
chunks walk; and it rewrites only the links the change can affect (the topic's and its
ancestors'), ending exactly where a full retag would."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from articles.models import Article, Feed
from tags import linking, retagging
from tags.models import Alias, ArticleTag, RetagJob, RetagScope, Tag, TagDecision
from tests.factories import make_article, make_tag

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _only_our_topics():
    Tag.objects.all().delete()
    linking.rules_changed()


def links() -> dict[tuple[int, int], tuple]:
    return {
        (link.article_id, link.tag_id): (
            link.origin,
            link.strong,
            link.is_visible,
            round(link.score, 6),
            link.terms,
            link.represents,
        )
        for link in ArticleTag.objects.all()
    }


def counts() -> dict[int, tuple[int, int]]:
    return {
        pk: (a, s) for pk, a, s in Tag.objects.values_list("pk", "article_count", "story_count")
    }


def tree_archive():
    """Two trees of topics, a topic outside them, a feed default, weak matches, hand decisions
    and hidden articles, all tagged by the rules as they are."""
    metals = make_tag("metals")
    battery = make_tag("battery metals", parent=metals)
    cobalt = make_tag("cobalt desk", aliases=["cobalt"], parent=battery)
    mining = make_tag("cobalt mining", aliases=["cobalt mine"], parent=cobalt)
    nickel = make_tag("nickel desk", aliases=["nickel"], parent=battery)
    commodities = make_tag("commodities")
    lithium = make_tag("lithium desk", aliases=["lithium"])
    gallium = make_tag("gallium", aliases=["gallium"], publish_weak=True)
    feed = Feed.objects.create(url="https://feeds.example/metals.xml")
    feed.default_tags.add(nickel)
    titles = [
        "Cobalt prices climb",
        "Lithium brine output",
        "Strike at the cobalt mine",
        "Nickel and cobalt exports",
        "Quiet day on the markets",
        "Port volumes",
    ]
    articles = []
    for i in range(36):
        title = f"{titles[i % len(titles)]} {i}"
        text = "A long report. " + ("It mentions gallium and cobalt once." if i % 5 == 0 else "")
        article = make_article(title=title, text=text, is_hidden=i % 7 == 0)
        if i % 8 == 0:
            article.feed_entries.create(feed=feed, guid=f"g{i}", entry_title=title)
        articles.append(article)
    TagDecision.objects.create(article=articles[0], tag=cobalt, decision="remove")
    TagDecision.objects.create(article=articles[4], tag=cobalt, decision="add")
    retagging.start(None, run_now=True)
    assert linking.recount() == 0
    topics = {
        t.slug: t for t in (metals, battery, cobalt, mining, nickel, commodities, lithium, gallium)
    }
    return topics, articles


def test_a_topics_retag_ends_exactly_where_a_full_retag_would():
    topics, _ = tree_archive()
    cobalt = topics["cobalt-desk"]
    before_move = retagging.ancestors_of(cobalt.pk)
    # The change: a new alias shared with another topic, and a move to another tree.
    Alias.objects.create(tag=cobalt, phrase="lithium")
    Tag.objects.filter(pk=cobalt.pk).update(parent=topics["commodities"])
    linking.rules_changed()
    cobalt.refresh_from_db()
    job = retagging.start(cobalt, also=before_move, run_now=True)
    assert job.state == RetagJob.State.DONE and job.changed > 0
    assert sorted(job.topics) == sorted(
        [cobalt.pk, topics["commodities"].pk, topics["battery-metals"].pk, topics["metals"].pk]
    )
    after_topic_job = (links(), counts())
    full = retagging.start(None, run_now=True)
    assert full.state == RetagJob.State.DONE and full.changed == 0
    assert (links(), counts()) == after_topic_job
    assert linking.recount() == 0
    # What the change did, to be sure it did something on every side.
    lithium_articles = Article.objects.filter(title__startswith="Lithium")
    assert all(ArticleTag.objects.filter(article=a, tag=cobalt).exists() for a in lithium_articles)
    assert ArticleTag.objects.filter(tag=topics["commodities"], origin="parent").exists()
    # Cobalt's old tree lost the parent links it gave (but for articles a feed gives nickel).
    moved_away = Article.objects.filter(title__startswith="Cobalt prices", feed_entries=None)
    assert moved_away.exists()
    assert not ArticleTag.objects.filter(
        tag=topics["battery-metals"], article__in=moved_away
    ).exists()


def test_a_topics_retag_leaves_every_other_topics_links_alone():
    topics, _ = tree_archive()
    cobalt, lithium = topics["cobalt-desk"], topics["lithium-desk"]
    # Another topic's rules changed without a retag of their own (yet): "brine" would link
    # the lithium articles, which the cobalt job walks once cobalt's rules take "lithium".
    Alias.objects.create(tag=lithium, phrase="exports")
    Alias.objects.create(tag=cobalt, phrase="brine")
    linking.rules_changed()
    untouched = {k: v for k, v in links().items() if k[1] == lithium.pk}
    job = retagging.start(cobalt, run_now=True)
    assert job.changed > 0
    assert {k: v for k, v in links().items() if k[1] == lithium.pk} == untouched
    assert Tag.objects.get(pk=lithium.pk).article_count == len(
        [v for v in untouched.values() if v[2]]
    )
    assert linking.recount() == 0


def test_starting_a_job_only_queues_it_and_the_worker_takes_the_scope(
    django_capture_on_commit_callbacks,
):
    topics, _ = tree_archive()
    cobalt = topics["cobalt-desk"]
    with CaptureQueriesContext(connection) as queries:
        job = retagging.start(cobalt)
    assert not any("search_document" in q["sql"] for q in queries.captured_queries)
    assert not any("articles_article" in q["sql"] for q in queries.captured_queries)
    job.refresh_from_db()
    assert (job.state, job.total, job.scope_taken) == (RetagJob.State.QUEUED, 0, False)
    from django.contrib import admin

    progress = admin.site._registry[RetagJob].progress
    assert progress(job).startswith("finding the articles")  # not "100%" of nothing
    assert retagging.run_chunk(job.pk, size=5) == retagging.CONTINUE
    job.refresh_from_db()
    expected = set(retagging.scope(job).values_list("pk", flat=True))
    assert job.scope_taken and job.total == len(expected) and job.done == 5
    snapshot = [
        pk for ids in RetagScope.objects.filter(job=job).values_list("ids", flat=True) for pk in ids
    ]
    assert snapshot == sorted(expected)
    # Articles stored after the snapshot are not walked: progress is done/total of a fixed set.
    make_article(title="Cobalt arrives late", text="cobalt")
    job = retagging.run(job, size=5)
    assert (job.state, job.done, job.total, job.percent) == (
        RetagJob.State.DONE,
        len(expected),
        len(expected),
        100,
    )
    assert not RetagScope.objects.filter(job=job).exists()  # the snapshot goes with the job
    assert "100%" in progress(job)


def test_the_snapshot_finds_articles_by_a_bitmap_scan_of_the_full_text_index():
    cobalt = make_tag("cobalt desk", aliases=["cobalt", "Cobalt grid"])
    for i in range(20):
        make_article(title=f"Cobalt grid output {i}" if i % 2 else f"Port volumes {i}")
    phrases = retagging._phrases(RetagJob(tag=cobalt, phrases=retagging.phrases_of(cobalt)))
    assert phrases == ["cobalt", "cobalt desk", "cobalt grid"]  # one query each, no repeats
    with transaction.atomic(), connection.cursor() as cursor:
        for setting in retagging.SCOPE_PLANNER:
            cursor.execute(setting)
        sql = retagging._containing_sql(len(phrases))
        cursor.execute(f"EXPLAIN {sql}", [*phrases, Article.Status.OK])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Bitmap Index Scan on article_search_idx" in plan, plan
    assert "Seq Scan" not in plan and "Index Scan on articles_article" not in plan, plan
    assert plan.count("Bitmap Index Scan") == 1, plan


def test_a_job_superseded_before_or_after_taking_its_scope_drops_it():
    cobalt = make_tag("cobalt desk", aliases=["cobalt"])
    for i in range(30):
        make_article(title=f"Cobalt output {i}")
    queued = retagging.start(cobalt)
    running = retagging.start(cobalt)  # supersedes the queued one before it took anything
    assert retagging.run_chunk(queued.pk) == RetagJob.State.SUPERSEDED
    assert not RetagScope.objects.filter(job=queued).exists()
    assert retagging.run_chunk(running.pk, size=10) == retagging.CONTINUE
    assert RetagScope.objects.filter(job=running).exists()
    newest = retagging.start(cobalt)
    # Its next message finds it superseded and drops the snapshot; were that message lost,
    # the beat's resume pass drops it.
    RetagScope.objects.create(job=queued, first_id=1, last_id=1, ids=[1])
    retagging.resume_stalled()
    assert not RetagScope.objects.filter(job__in=[queued, running]).exists()
    assert retagging.run_chunk(running.pk) == RetagJob.State.SUPERSEDED
    assert retagging.run(newest).state == RetagJob.State.DONE
    assert Tag.objects.get(pk=cobalt.pk).article_count == 30
    assert not RetagScope.objects.exists()


def test_deleting_a_topic_rewrites_only_its_ancestors_and_ends_where_a_full_retag_would():
    topics, _ = tree_archive()
    cobalt = topics["cobalt-desk"]
    job = retagging.start_delete(cobalt, run_now=True)
    assert sorted(job.topics) == sorted(
        [cobalt.pk, topics["battery-metals"].pk, topics["metals"].pk]
    )
    assert job.state == RetagJob.State.DONE and not Tag.objects.filter(pk=cobalt.pk).exists()
    after_delete = (links(), counts())
    full = retagging.start(None, run_now=True)
    assert full.changed == 0 and (links(), counts()) == after_delete
    assert linking.recount() == 0


@pytest.mark.django_db(transaction=True)
def test_a_recount_waits_for_a_tagger_mid_transaction_and_stays_exact():
    """A tagger holds its topics' count rows from before it writes links until it commits; a
    recount taken meanwhile must not count the links before that commit and write after it
    (on the scale database a reset's recount overwrote a running retag's count changes)."""
    import threading
    import time

    from django.db import connections

    topic = make_tag("cobalt desk", aliases=["cobalt"])
    article = make_article(title="Port volumes", text="Port volumes")
    # Something for the recount to mend (as a reset of the stories leaves): it then writes.
    Tag.objects.filter(pk=topic.pk).update(story_count=5)
    locked, done = threading.Event(), threading.Event()

    def tagger() -> None:
        try:
            with transaction.atomic():
                linking.lock_tags([topic.pk])
                locked.set()
                time.sleep(1.0)  # the recount starts meanwhile
                linking.add_tag_by_hand(article, topic)
        finally:
            connections.close_all()
            done.set()

    thread = threading.Thread(target=tagger)
    thread.start()
    assert locked.wait(10)
    linking.recount([topic.pk])
    thread.join(10)
    assert done.is_set()
    assert Tag.objects.get(pk=topic.pk).article_count == 1
    assert linking.recount() == 0
