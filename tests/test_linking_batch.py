"""`linking.tag_articles`: a batch tagged in a few queries ends exactly where tagging each
article alone would — links, hand decisions, parents, weak links, hidden articles and counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from articles.models import Article, Feed
from tags import linking, modelling, retagging
from tags.models import Alias, ArticleTag, RetagJob, Tag, TagDecision
from tests.factories import make_article, make_tag

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _only_our_topics():
    Tag.objects.all().delete()
    linking.rules_changed()


def links_of(articles) -> dict[int, dict[int, tuple]]:
    out: dict[int, dict[int, tuple]] = {}
    for link in ArticleTag.objects.filter(article__in=articles).order_by("article_id", "tag_id"):
        out.setdefault(link.article_id, {})[link.tag_id] = (
            link.origin,
            link.strong,
            link.is_visible,
            round(link.score, 6),
            link.terms,
        )
    return out


def mixed_archive():
    """Topics with a parent, a feed default, weak and strong matches, editors' decisions,
    hidden articles and links the rules no longer want."""
    metals = make_tag("metals")
    magnets = make_tag("magnet supply", aliases=["neodymium"], parent=metals)
    ports = make_tag("ports", aliases=["container port"])
    weak = make_tag("gallium", aliases=["gallium"], publish_weak=True)
    feed = Feed.objects.create(url="https://feeds.example/a.xml")
    feed.default_tags.add(ports)
    articles = []
    for i in range(40):
        title = ["Neodymium prices", "Container port strike", "Markets", "Quiet day"][i % 4]
        text = "A passing mention of gallium in a long report." if i % 5 == 0 else "Report."
        article = make_article(title=f"{title} {i}", text=text, is_hidden=i % 7 == 0)
        if i % 6 == 0:
            article.feed_entries.create(feed=feed, guid=f"g{i}", entry_title=article.title)
        articles.append(article)
    # Links that no longer match (as if an alias had been removed), hand decisions both ways.
    for article in articles[2::9]:
        ArticleTag.objects.create(
            article=article, tag=magnets, origin="rule", published_at=article.published_at
        )
    TagDecision.objects.create(article=articles[0], tag=magnets, decision="remove")
    linking.add_tag_by_hand(articles[3], magnets)
    TagDecision.objects.create(article=articles[5], tag=ports, decision="remove")
    linking.recount()
    return articles, [metals, magnets, ports, weak]


def test_a_batch_ends_where_tagging_each_article_alone_would():
    articles, topics = mixed_archive()
    with transaction_savepoint() as rollback:
        for article in articles:
            linking.tag_article(article)
        expected = links_of(articles)
        counts = {t.pk: Tag.objects.get(pk=t.pk).article_count for t in topics}
        rollback()
    assert linking.tag_articles(Article.objects.filter(pk__in=[a.pk for a in articles])) > 0
    assert links_of(articles) == expected
    assert {t.pk: Tag.objects.get(pk=t.pk).article_count for t in topics} == counts
    assert linking.recount() == 0
    # And again: nothing left to change, per article or as a batch.
    assert not any(linking.tag_article(a) for a in Article.objects.filter(pk__in=expected))
    assert linking.tag_articles(list(Article.objects.all())) == 0


def test_a_batch_costs_a_few_queries_not_a_few_per_article():
    articles, _ = mixed_archive()
    rows = list(Article.objects.filter(pk__in=[a.pk for a in articles]))
    # Rules and model loaded once, as a running worker has them.
    linking.current_matcher()
    modelling.current_model()
    with CaptureQueriesContext(connection) as queries:
        linking.tag_articles(rows)
    # Savepoint, labels, decisions, links, one lock, delete, insert, update, counts, the
    # re-fold by story (members, their links, one update per direction), release.
    assert len(queries) <= 14, "\n".join(q["sql"][:150] for q in queries)


def test_an_editors_decisions_hold_through_a_batched_retag():
    articles, (_, magnets, _, _) = mixed_archive()
    Alias.objects.create(tag=magnets, phrase="markets")
    retagging.run(RetagJob.objects.create(tag=magnets, phrases=["neodymium", "markets"]))
    assert not ArticleTag.objects.filter(article=articles[0], tag=magnets).exists()
    assert ArticleTag.objects.get(article=articles[3], tag=magnets).origin == "editor"
    assert ArticleTag.objects.filter(article=articles[6], tag=magnets).exists()  # "Markets 6"
    assert linking.recount() == 0


class transaction_savepoint:
    """Run a block, then undo its writes (to compare two paths from one starting state)."""

    def __enter__(self):
        from django.db import transaction

        self.sid = transaction.savepoint()
        return lambda: transaction.savepoint_rollback(self.sid)

    def __exit__(self, *exc):
        return False


def test_a_chunk_stops_at_its_time_budget_and_the_next_goes_on(settings):
    settings.NEWSDESK_RETAG_CHUNK_SECONDS = 0  # every chunk is over budget after one part
    topic = make_tag("cobalt desk", aliases=["cobalt"])
    for i in range(250):
        make_article(title=f"Cobalt output {i}" if i % 2 else f"Port volumes {i}")
    job = RetagJob.objects.create(tag=None, whole_archive=True)
    assert retagging.run_chunk(job.pk) == retagging.CONTINUE
    job.refresh_from_db()
    assert job.done == retagging.TRANSACTION_SIZE  # one transaction, then the chunk ended
    job = retagging.run(job)
    assert job.state == RetagJob.State.DONE and job.done == 250
    assert job.chunks == 4  # three parts of 100, 100 and 50, then the one that finds none
    assert ArticleTag.objects.filter(tag=topic).count() == 125
    assert linking.recount() == 0


def test_a_batch_keeps_story_entries_and_counts_exact():
    """Links a batch creates, deletes or hides move the story count too, and the story is
    re-folded: one entry per story, whichever of its members the batch touched."""
    from tests.factories import make_story

    topic = make_tag("magnet supply", aliases=["neodymium"])
    told = [make_article(title=f"Neodymium plant opens, report {i}") for i in range(3)]
    alone = make_article(title="Neodymium prices ease")
    make_story(*told)
    # Stale links the rules no longer want, and an article hidden since: the batch must fix both.
    gone = make_article(title="Quiet day")
    ArticleTag.objects.create(
        article=gone, tag=topic, origin="rule", published_at=gone.published_at
    )
    Tag.objects.filter(pk=topic.pk).update(article_count=1, story_count=1)
    Article.objects.filter(pk=told[0].pk).update(is_hidden=True)
    batch = list(Article.objects.filter(pk__in=[a.pk for a in [*told, alone, gone]]))
    assert linking.tag_articles(batch) > 0
    listed = ArticleTag.objects.filter(tag=topic, is_visible=True, represents=True)
    # The hidden lead hands the story's entry to the next member: two entries, four articles.
    assert sorted(listed.values_list("article_id", flat=True)) == [told[1].pk, alone.pk]
    topic.refresh_from_db()
    assert (topic.article_count, topic.story_count) == (3, 2)
    assert linking.recount() == 0
