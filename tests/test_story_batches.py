"""Placing articles in batches (stories.assignment.drain over stories.batchstore): the same
decisions as the pure clusterer in memory and the same rows as placing one article a
transaction; one announcement a batch; and the queue's fault properties (a message twice, a
batch failing half-way, two drains at once, a burst of extractions)."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction

from articles.models import Article, Source
from stories import assignment, tasks
from stories.clustering import StoryClusterer
from stories.dbstore import DatabaseStore
from stories.models import (
    PlacementFailure,
    Story,
    StoryBand,
    StoryCentroid,
    StoryMembership,
    StoryState,
    StoryTerm,
    TermFrequency,
)
from stories.signals import story_changed
from tests.factories import make_article

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)

# Five made-up events, each with its own names and numbers, told in shared newsroom words: the
# words overlap across events, so candidates are many and scores are close.
EVENTS = [
    ["Vlieland", "Doeksen", "ferry", "Friesland", "aground", "212", "lifeboats", "sandbank"],
    ["Betuwe", "cherry", "frost", "orchards", "Gelderland", "blossom", "sprinklers", "harvest"],
    ["Antwerp", "dockers", "strike", "pensions", "Scheldt", "walkout", "union", "vessels"],
    ["Minamitorishima", "Chikyu", "seabed", "rare", "earth", "mud", "JAMSTEC", "sediment"],
    ["Sbarro", "pizza", "Chapter", "11", "bankruptcy", "creditors", "restaurants", "lenders"],
]
COMMON = [
    *("officials", "said", "on", "Monday", "the", "company", "would", "government"),
    *("reported", "a", "week", "after", "news", "agency", "sources", "told", "markets"),
    *("investors", "early", "local", "police", "statement", "late", "hours"),
]


def synthetic_rows(n: int = 150, seed: int = 7) -> list[dict]:
    """Articles of the five events over four days, in published order: rewrites, syndicated
    copies (a footer added), exact duplicates and bare headlines among them."""
    rng = random.Random(seed)  # noqa: S311 - a fixed test set, not a secret
    rows: list[dict] = []
    for i in range(n):
        event = rng.randrange(len(EVENTS))
        when = T0 + timedelta(minutes=40 * i)
        names = EVENTS[event]
        kind = rng.random()
        if rows and kind < 0.12:
            original = rng.choice(rows[-30:])
            if original["text"]:
                rows.append({**original, "published_at": when, "copy_of": original["n"], "n": i})
                rows[-1]["text"] = original["text"] + " Reporting by the wire; all rights reserved."
                continue
        title_words = rng.sample(names, 3) + rng.sample(COMMON, 3)
        rng.shuffle(title_words)
        title = " ".join(title_words).capitalize()
        sentences = [" ".join(rng.sample(names, 4) + rng.sample(COMMON, 6)) + "." for _ in range(8)]
        text = "" if kind > 0.9 else " ".join(sentences)
        rows.append({"n": i, "title": title, "text": text, "published_at": when, "source": i % 6})
    return rows


def make_rows(rows: list[dict]) -> list[Article]:
    sources = [
        Source.objects.get_or_create(
            url=f"https://o{i}.example/",
            defaults={"name": f"Outlet {i}", "domain": f"o{i}.example"},
        )[0]
        for i in range(6)
    ]
    made: dict[int, Article] = {}
    articles = []
    for row in rows:
        fields = {"published_at": row["published_at"], "source": sources[row["source"]]}
        if row.get("copy_of") is not None and row["n"] % 2:
            # Every other copy is an exact duplicate by content hash.
            fields.update(status=Article.Status.DUPLICATE, duplicate_of=made[row["copy_of"]])
        article = make_article(row["title"], row["text"], **fields)
        made[row["n"]] = article
        articles.append(article)
    return articles


def reset() -> None:
    for model in (StoryBand, StoryTerm, StoryCentroid, StoryState, StoryMembership, TermFrequency):
        model.objects.all().delete()
    Story.objects.all().delete()
    assignment.frequencies.discard()


def one_by_one(articles: list[Article]) -> None:
    """The placing this replaces: one transaction an article, every read and write as it
    happens (stories.dbstore.DatabaseStore)."""
    for article in articles:
        with transaction.atomic():
            assignment.lock(durable=False)
            row = Article.objects.get(pk=article.pk)
            assignment.clusterer(DatabaseStore(assignment.frequencies)).add(assignment.item_of(row))
        if assignment.frequencies.due():
            assignment.frequencies.flush()


def drain_all(batch: int) -> int:
    placed = 0
    while n := len(assignment.drain(batch)):
        placed += n
    return placed


def snapshot() -> dict:
    """Everything placing wrote, with story ids replaced by their members (ids differ between
    runs)."""
    members: dict[int, frozenset[int]] = {}
    for story_id in Story.objects.values_list("pk", flat=True):
        members[story_id] = frozenset(
            StoryMembership.objects.filter(story_id=story_id).values_list("article_id", flat=True)
        )
    states = {s.story_id: s for s in StoryState.objects.all()}
    stories = {}
    for story in Story.objects.all():
        state = states.get(story.pk)
        stories[members[story.pk]] = (
            story.article_count,
            story.source_count,
            story.first_published_at,
            story.last_published_at,
            story.lead_id,
            state and (state.size, round(state.norm, 9), state.last_seen),
            sorted(StoryTerm.objects.filter(story_id=story.pk).values_list("term", flat=True)),
            {
                term: round(weight, 12)
                for term, weight in StoryCentroid.objects.filter(story_id=story.pk).values_list(
                    "term", "weight"
                )
            },
        )
    return {
        "stories": stories,
        "memberships": {
            m.article_id: (
                members[m.story_id],
                round(m.score, 9),
                m.near_duplicate_of_id,
                m.source_id,
            )
            for m in StoryMembership.objects.all()
        },
        "bands": set(StoryBand.objects.values_list("band", "article_id", "published_at")),
        "frequencies": dict(TermFrequency.objects.values_list("term", "documents")),
    }


# --- The same decisions --------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("batch", [1, 7, 500])
def test_batches_decide_as_the_clusterer_does_in_memory(batch):
    rows = synthetic_rows()
    articles = make_rows(rows)
    memory = StoryClusterer(window=assignment.window())
    expected = [memory.add(assignment.item_of(a)) for a in articles]
    assert drain_all(batch) == len(articles)
    placed = {m.article_id: m for m in StoryMembership.objects.all()}
    # Same partition, same scores, same originals: one code path, two stores.
    label = {}
    for article, want in zip(articles, expected, strict=True):
        got = placed[article.pk]
        assert label.setdefault(want.story, got.story_id) == got.story_id, article.title
        assert round(got.score, 9) == round(want.score, 9)
        assert got.near_duplicate_of_id == want.near_duplicate_of
    assert len(set(label.values())) == len(label)
    # The set is hard enough to mean something: big stories, copies, fresh stories.
    sizes = sorted(StoryState.objects.values_list("size", flat=True), reverse=True)
    assert sizes[0] > 32 and len(sizes) >= 4
    assert StoryMembership.objects.filter(near_duplicate_of__isnull=False).count() > 5


@pytest.mark.django_db
@pytest.mark.parametrize("probe_above", [4, 0])
def test_batches_write_exactly_what_one_article_a_transaction_writes(monkeypatch, probe_above):
    monkeypatch.setattr("stories.dbstore.PROBE_ABOVE_MEMBERS", probe_above)
    # Counts written to the shared table (and read back) several times along the way.
    monkeypatch.setattr("stories.dbstore.Frequencies.FLUSH_DOCUMENTS", 25)
    articles = make_rows(synthetic_rows(120))
    one_by_one(articles)
    assignment.frequencies.flush()
    before = snapshot()
    reset()
    # Uneven batches, so stories are continued across batches too.
    remaining = list(articles)
    while remaining:
        assignment.drain(len(remaining) // 3 + 1)
        remaining = [a for a in remaining if not StoryMembership.objects.filter(article=a).exists()]
    assignment.frequencies.flush()
    after = snapshot()
    assert after["memberships"] == before["memberships"]
    assert after["stories"] == before["stories"]
    assert after["bands"] == before["bands"]
    assert after["frequencies"] == before["frequencies"]


# --- One announcement a batch --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_batch_announces_once_after_commit_with_every_article_it_placed():
    articles = make_rows(synthetic_rows(40))
    seen = []

    def listener(sender, story_ids, moved=None, leads=(), **kwargs):
        seen.append((set(story_ids), set(moved), set(leads), connection.in_atomic_block))

    story_changed.connect(listener)
    try:
        assignment.drain(500)
    finally:
        story_changed.disconnect(listener)
    assert len(seen) == 1
    stories, moved, leads, in_transaction = seen[0]
    assert not in_transaction
    assert moved == {a.pk for a in articles}
    assert stories == set(Story.objects.values_list("pk", flat=True))
    # A story of bare headlines has no lead (none has text): nothing to announce for it.
    assert leads == set(Story.objects.exclude(lead=None).values_list("lead_id", flat=True))


# --- Faults -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_batch_that_fails_half_way_places_nothing_and_the_next_drain_places_all(monkeypatch):
    articles = make_rows(synthetic_rows(30))
    calls = {"n": 0}
    add = StoryClusterer.add

    def dies_at_the_twentieth(self, item):
        calls["n"] += 1
        if calls["n"] == 20:
            raise RuntimeError("worker killed")
        return add(self, item)

    with monkeypatch.context() as patched:
        patched.setattr(StoryClusterer, "add", dies_at_the_twentieth)
        with pytest.raises(RuntimeError):
            assignment.drain(500)
    assert StoryMembership.objects.count() == 0 and Story.objects.count() == 0
    assert assignment.waiting().count() == len(articles)
    assert len(assignment.drain(500)) == len(articles)
    assert assignment.waiting().count() == 0
    # A second delivery of the message: nothing left, nothing placed twice.
    assert assignment.drain(500) == []
    assert StoryMembership.objects.count() == len(articles)
    assert sum(Story.objects.values_list("article_count", flat=True)) == len(articles)


@pytest.mark.django_db
def test_an_article_that_cannot_be_placed_does_not_hold_up_the_others(monkeypatch):
    articles = make_rows(synthetic_rows(12))
    bad = articles[3]
    add = StoryClusterer.add

    def refuses_one(self, item):
        if item.key == bad.pk:
            raise RuntimeError("cannot place this one")
        return add(self, item)

    monkeypatch.setattr(StoryClusterer, "add", refuses_one)
    assert assignment.drain_quietly() == len(articles) - 1
    assert not StoryMembership.objects.filter(article=bad).exists()
    # Out of the queue, recorded for the sweep to try alone (tests/test_placement_failures.py).
    assert list(PlacementFailure.objects.values_list("article_id", flat=True)) == [bad.pk]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_drains_at_once_place_each_article_once_and_one_event_in_one_story():
    articles = make_rows(synthetic_rows(60))
    barrier = threading.Barrier(2)
    errors, placed = [], []

    def work():
        try:
            barrier.wait()
            placed.append(len(assignment.drain(500)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    # One drain took the lock and placed everything; the other then found nothing waiting.
    assert sorted(placed) == [0, len(articles)]
    assert StoryMembership.objects.count() == len(articles)
    memory = StoryClusterer(window=assignment.window())
    expected = {a.pk: memory.add(assignment.item_of(a)).story for a in articles}
    got = dict(StoryMembership.objects.values_list("article_id", "story_id"))
    pairs = {(expected[pk], got[pk]) for pk in expected}
    assert len(pairs) == len(set(expected.values())) == Story.objects.count()


@pytest.mark.django_db
def test_a_burst_of_extractions_asks_for_one_drain(monkeypatch):
    from articles.ingest import announce

    sent = []
    monkeypatch.setattr(tasks.drain, "delay", lambda: sent.append(1))
    articles = make_rows(synthetic_rows(10))
    for article in articles:
        announce(article)
    assert len(sent) == 1
    assert assignment.waiting().count() == len(articles)
    # The drain clears the request first, so what is extracted while it runs asks again.
    assert tasks.drain.run() == len(articles)
    announce(make_article("Ferry aground off Vlieland", "", published_at=T0))
    assert len(sent) == 2


@pytest.mark.django_db
def test_in_process_mode_places_an_extracted_article_at_once():
    # No broker: the drain runs inside the extraction's announcement.
    from articles.ingest import announce

    article = make_article("Ferry aground off Vlieland", "", published_at=T0)
    announce(article)
    assert StoryMembership.objects.filter(article=article).exists()


@pytest.mark.django_db
def test_a_drain_request_the_broker_refused_is_asked_again(monkeypatch):
    sent = []

    def refused():
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.drain, "delay", refused)
    with pytest.raises(ConnectionError):
        tasks.request_drain()
    monkeypatch.setattr(tasks.drain, "delay", lambda: sent.append(1))
    assert tasks.request_drain() is True and sent == [1]


# --- Arrays as one string ------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize(
    ("values", "sql_type"),
    [
        (["ferry", "ferri aground", "o'neil", "u.s", "7.1", "", "chiquita-fyffes"], "text"),
        ([""], "text"),
        (["", ""], "text"),
        (["two\nlines", "one"], "text"),
        ([0.1 + 0.2, 1e-300, 2.0 / 3.0, 5e-324, 1.7976931348623157e308, -0.0], "float8"),
        ([1, -(2**63), 2**63 - 1], "bigint"),
        ([None, 3], "bigint"),
        ([T0, T0 + timedelta(microseconds=1), datetime(2026, 6, 1, 12, tzinfo=UTC)], "timestamptz"),
        ([], "text"),
    ],
)
def test_an_array_sent_as_one_string_reads_back_exactly(values, sql_type):
    # Batches write their columns through array_of: a lost float bit changes a score, a split
    # term a centroid row.
    from stories.dbstore import array_of

    sql, param = array_of(values, sql_type)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql}", [param])
        back = cursor.fetchone()[0]
    if values and isinstance(values[0], float):
        assert [repr(x) for x in back] == [repr(x) for x in values]
    else:
        assert back == values
