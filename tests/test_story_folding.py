"""The fold (tags.folding) after each kind of story change, through the code that makes it:
assignment's store for joins, stories.editing for splits, merges and lead choices, the linking
verbs for topics and hidden articles.

Two things are checked. The fold is exact: after every change each link represents exactly
when `representatives` over every link says so, each link carries its article's story, and
the stored counts match the links. And it costs the change, not the story: a join into a story
of 200 members runs the same queries and reads the same rows as a join into one of 5.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from stories import assignment, editing
from stories.clustering import Assignment
from stories.dbstore import DatabaseStore
from stories.models import Story, StoryMembership, StoryState
from tags import linking
from tags.folding import Row, representatives
from tags.models import ArticleTag, Tag
from tests.factories import make_story
from tests.pages_fixtures import make_article, make_source, make_tag

pytestmark = pytest.mark.django_db


def place(article, story_id: int | None = None) -> int:
    """Put an article in a story (a new one when None) the way assignment does: the database
    store's bookkeeping under the lock, announced on commit."""
    with transaction.atomic():
        assignment.lock()
        store = DatabaseStore(assignment.frequencies)
        story_id = story_id or store.new_story()
        store.add_member(
            story_id, assignment.item_of(article), {}, Assignment(article.pk, story_id, 0.5)
        )
        assignment.announce_store(store)
    return story_id


def assert_folded() -> None:
    """Every link's flag and story, and every topic's counts, as computed from scratch."""
    links = list(
        ArticleTag.objects.values_list(
            "pk",
            "tag_id",
            "article_id",
            "is_visible",
            "represents",
            "published_at",
            "article__story_membership__story_id",
            "article__story_membership__story__lead_id",
            "story_id",
        )
    )
    rows = [Row(*values[:8]) for values in links]
    chosen = representatives(rows)
    wrong = [
        (row.article_id, row.tag_id, row.represents)
        for row in rows
        if row.is_visible and row.represents != (row.pk in chosen)
    ]
    assert not wrong, f"links whose entry flag is wrong (article, topic, flag): {wrong}"
    unsynced = [values[2] for values in links if values[6] != values[8]]
    assert not unsynced, f"links that do not carry their article's story: {unsynced}"
    assert linking.recount() == 0, "stored counts drifted from the links"


@pytest.fixture
def editor():
    return User.objects.create_user("editor", password="pw", is_staff=True)


def _story_of(article) -> int:
    return StoryMembership.objects.get(article=article).story_id


# --- Cost ------------------------------------------------------------------------------------


def _big_story(size: int, topics: list[Tag], start):
    """A story of `size` members, every one on the first topic and every third on the
    second; its clusterer state is there as assignment leaves it."""
    members = [
        make_article(
            f"Member {i} of {size}",
            tags=topics[:1] + (topics[1:2] if i % 3 == 0 else []),
            source=make_source(f"Outlet {i % 7} for {size}", f"o{i % 7}-{size}.example"),
            published_at=start + timedelta(minutes=i),
        )
        for i in range(size)
    ]
    story = make_story(*members)
    StoryState.objects.create(story=story, size=size, last_seen=members[-1].published_at)
    return story


def _measure_join(size: int, django_capture_on_commit_callbacks) -> tuple[int, int, list[str]]:
    """Queries and rows (read or written) of the fold after one join into a story of `size`."""
    start = timezone.now() - timedelta(days=1)
    topics = [make_tag(f"Topic A {size}"), make_tag(f"Topic B {size}")]
    story = _big_story(size, topics, start)
    newcomer = make_article(
        f"Newcomer to {size}",
        tags=[topics[0], make_tag(f"Topic C {size}")],
        source=make_source(f"New outlet {size}", f"new-{size}.example"),
        published_at=start + timedelta(days=1),
    )
    with django_capture_on_commit_callbacks() as callbacks:
        place(newcomer, story.pk)
    sql: list[str] = []
    rows = 0

    def counting(execute, statement, params, many, context):
        nonlocal rows
        result = execute(statement, params, many, context)
        sql.append(statement)
        rows += max(context["cursor"].rowcount, 0)
        return result

    with connection.execute_wrapper(counting):
        for callback in callbacks:
            callback()
    assert_folded()
    return len(sql), rows, sql


def test_a_join_into_a_big_story_costs_what_a_join_into_a_small_one_costs(
    django_capture_on_commit_callbacks,
):
    small = _measure_join(5, django_capture_on_commit_callbacks)
    big = _measure_join(200, django_capture_on_commit_callbacks)
    assert big[0] == small[0], (small[2], big[2])
    # Rows: the newcomer's links, the story's entry and earliest other member on each of the
    # newcomer's topics, the lead's links, and the few rows written. Reading every member's
    # links (the old fold) would be 200 + 67 rows here.
    assert big[1] == small[1] < 40


# --- Exactness ---------------------------------------------------------------------------------


@pytest.fixture
def desk(db):
    now = timezone.now()
    topics = [make_tag("Seabed mud"), make_tag("Bulk shipping"), make_tag("Minami-Tori-shima")]
    sources = [make_source(f"Outlet {i}", f"outlet{i}.example") for i in range(4)]
    return now, topics, sources


def test_joins_splits_merges_and_lead_choices_fold_exactly(
    desk, editor, django_capture_on_commit_callbacks
):
    now, (seabed, shipping, japan), sources = desk

    def article(title, hours, *tags, source=0, **fields):
        return make_article(
            title,
            tags=list(tags),
            source=sources[source],
            published_at=now - timedelta(hours=hours),
            **fields,
        )

    def committed(change, *args):
        """Run a change and what its commit sets off (the fold), then check the fold."""
        with django_capture_on_commit_callbacks(execute=True):
            result = change(*args)
        assert_folded()
        return result

    first = article("Seabed find", 10, seabed, japan)
    story = committed(place, first)
    # A later member on one of its topics and one of its own: no new entry on Seabed.
    second = article("Seabed find, reaction", 8, seabed, shipping, source=1)
    committed(place, second, story)
    assert Tag.objects.get(pk=seabed.pk).story_count == 1
    # An earlier member without text cannot lead, but is the earliest on Shipping...
    early = article("Shipping note", 12, shipping, source=2, text="")
    committed(place, early, story)
    assert ArticleTag.objects.get(article=early, tag=shipping).represents
    # ...and an earlier member with text takes the lead: Seabed's entry moves to it; Japan's,
    # a topic it does not carry, stays with the earliest member that does.
    earlier = article("First word of the find", 11, seabed, source=3)
    committed(place, earlier, story)
    assert Story.objects.get(pk=story).lead_id == earlier.pk
    assert ArticleTag.objects.get(article=earlier, tag=seabed).represents
    assert ArticleTag.objects.get(article=first, tag=japan).represents

    # Another story on the same topics, then a merge of the two.
    other_lead = article("Ports brace for mud", 9, shipping, seabed, source=1)
    other = committed(place, other_lead)
    committed(place, article("Ports, continued", 7, shipping, source=2), other)
    assert Tag.objects.get(pk=shipping.pk).story_count == 2
    committed(editing.merge, [story, other], story, editor)
    assert Tag.objects.get(pk=shipping.pk).story_count == 1

    # Split the lead out: it becomes its own story, the rest re-folds round the new lead.
    committed(editing.split, earlier.pk, editor)
    assert Tag.objects.get(pk=seabed.pk).story_count == 2

    # An editor's lead choice: the chosen member represents where it carries the topic.
    committed(editing.choose_lead, story, second.pk, editor)
    assert ArticleTag.objects.get(article=second, tag=shipping).represents
    # A later join does not take the lead from the editor's choice.
    committed(place, article("Very first report", 20, shipping, seabed, source=3), story)
    assert Story.objects.get(pk=story).lead_id == second.pk

    # Hidden members: the entry passes to the next visible one, and back.
    committed(linking.set_hidden, [second], True)
    assert not ArticleTag.objects.get(article=second, tag=shipping).represents
    committed(linking.set_hidden, [second], False)
    assert ArticleTag.objects.get(article=second, tag=shipping).represents

    # Topics added and removed by hand on members.
    committed(linking.add_tag_by_hand, early, japan)
    committed(linking.remove_tag_by_hand, first, japan)

    # A member deleted outright, and a membership dropped with the article kept.
    committed(second.delete)
    committed(StoryMembership.objects.filter(article=early).delete)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_sequences_of_story_changes_fold_exactly(
    desk, editor, django_capture_on_commit_callbacks, seed
):
    """Whatever order joins, splits, merges, lead choices, hiding and hand tagging come in."""
    now, topics, sources = desk
    rng = random.Random(seed)  # noqa: S311 (a repeatable sequence, not a secret)
    placed: list = []

    def live_stories() -> list[int]:
        return list(
            Story.objects.filter(merged_into__isnull=True, article_count__gt=0).values_list(
                "pk", flat=True
            )
        )

    for step in range(45):
        op = rng.choice(["join", "join", "join", "split", "merge", "lead", "hide", "tag"])
        with django_capture_on_commit_callbacks(execute=True):
            if op == "join" or not placed:
                new = make_article(
                    f"Article {step}",
                    tags=rng.sample(topics, rng.randint(1, 3)),
                    source=rng.choice(sources),
                    published_at=now - timedelta(hours=rng.randint(0, 48)),
                    text="" if rng.random() < 0.2 else f"Text of article {step}.",
                )
                stories = live_stories()
                place(new, rng.choice(stories) if stories and rng.random() < 0.7 else None)
                placed.append(new)
            elif op == "split":
                member = rng.choice(placed)
                if Story.objects.get(pk=_story_of(member)).article_count > 1:
                    editing.split(member.pk, editor)
            elif op == "merge":
                stories = live_stories()
                if len(stories) >= 2:
                    a, b = rng.sample(stories, 2)
                    editing.merge([a, b], a, editor)
            elif op == "lead":
                member = rng.choice(placed)
                editing.choose_lead(_story_of(member), member.pk, editor)
            elif op == "hide":
                member = rng.choice(placed)
                member.refresh_from_db()
                linking.set_hidden([member], not member.is_hidden)
            else:
                member, topic = rng.choice(placed), rng.choice(topics)
                if ArticleTag.objects.filter(article=member, tag=topic).exists():
                    linking.remove_tag_by_hand(member, topic)
                else:
                    linking.add_tag_by_hand(member, topic)
        assert_folded()


def test_a_join_counts_a_publisher_once_per_story(desk, django_capture_on_commit_callbacks):
    now, (seabed, *_), sources = desk
    with django_capture_on_commit_callbacks(execute=True):
        story = place(make_article("One", tags=[seabed], source=sources[0], published_at=now))
        for i, source in enumerate([sources[0], sources[1], sources[0], None]):
            later = make_article(
                f"Two {i}", tags=[seabed], source=source, published_at=now + timedelta(hours=i)
            )
            place(later, story)
    assert Story.objects.values_list("article_count", "source_count").get(pk=story) == (5, 2)


def test_a_restory_of_the_period_folds_exactly(desk, django_capture_on_commit_callbacks):
    """Restory takes articles out of their stories and places them again, announcing whole
    stories (the fold's fallback) after membership rows were deleted (settled one by one)."""
    from stories import restory

    now, (seabed, shipping, japan), sources = desk
    articles = [
        make_article(
            f"Port strike day {i}",
            tags=[seabed, shipping] if i % 2 else [japan, shipping],
            source=sources[i % 4],
            published_at=now - timedelta(hours=10 - i),
        )
        for i in range(6)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        story = place(articles[0])
        for article in articles[1:4]:
            place(article, story)
        place(articles[4])
        place(articles[5], story)
    assert_folded()
    with django_capture_on_commit_callbacks(execute=True):
        restory.reassign([a.pk for a in articles])
    assert_folded()
