"""Readers' side of stories: topic pages fold each story into one entry, the story page, the
story line on article pages, and feeds with one item per story.

Stories are written here the way assignment writes them (tests/factories.py: rows, then
`story_changed`); assignment itself is tested with the clusterer.
"""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from xml.etree import ElementTree

import pytest
from django.urls import reverse
from django.utils import timezone

from articles.models import Article
from stories.models import Story
from stories.signals import story_changed
from tags import linking
from tags.models import ArticleTag, Tag
from tests.factories import make_story, move_to_story
from tests.factories import make_tag as make_rule_tag
from tests.pages_fixtures import make_article, make_many, make_source, make_tag

pytestmark = pytest.mark.django_db


def _html(client, url: str, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _entries(html: str) -> list[str]:
    """The titles of a topic page's entries, in order."""
    found = re.findall(r'class="entry-title" dir="auto"><a href="[^"]+">([^<]+)</a>', html)
    return [unescape(title) for title in found]


def _total(html: str) -> str:
    return re.search(r'<p class="total">([^<]+)</p>', html).group(1)


def _exact(*tags: Tag):
    """Each tag's stored (articles, stories), after checking they are what the links say."""
    assert linking.recount([t.pk for t in tags]) == 0, "stored counts drifted from the links"
    found = tuple(
        Tag.objects.filter(pk=t.pk).values_list("article_count", "story_count")[0] for t in tags
    )
    return found[0] if len(found) == 1 else found


@pytest.fixture
def seabed():
    """A topic with a three-article story told by three publishers, and two single articles."""
    tag = make_tag("Seabed minerals")
    now = timezone.now()
    wire = make_source("Mineral Wire", "wire.example")
    ledger = make_source("Harbour Ledger", "ledger.example")
    desk = make_source("Pacific Desk", "desk.example")
    lead = make_article(
        "Japan claims seabed rare earths near Minami-Tori-shima",
        tags=[tag],
        source=wire,
        published_at=now - timedelta(hours=5),
        summary="Survey ship finds mud rich in rare earths.",
    )
    second = make_article(
        "Tokyo seabed mud find", tags=[tag], source=ledger, published_at=now - timedelta(hours=3)
    )
    third = make_article(
        "Seabed rare earths: what the survey found",
        tags=[tag],
        source=desk,
        published_at=now - timedelta(hours=1),
    )
    alone = [
        make_article("Nodule permits delayed", tags=[tag], published_at=now - timedelta(hours=2)),
        make_article("Cobalt crust study", tags=[tag], published_at=now - timedelta(hours=6)),
    ]
    story = make_story(lead, second, third)
    return tag, story, [lead, second, third], alone


# --- Folding on the topic page ----------------------------------------------------------------


def test_a_three_article_story_shows_once_with_its_other_sources(client, seabed):
    tag, story, (lead, second, third), _alone = seabed
    html = _html(client, reverse("tag", args=[tag.slug]))
    entries = _entries(html)
    assert entries.count(lead.title) == 1
    assert second.title not in entries and third.title not in entries
    # Placed by the lead's date, between the single articles.
    assert entries == ["Nodule permits delayed", lead.title, "Cobalt crust study"]
    assert "Survey ship finds mud rich in rare earths." in html
    line = re.search(r'<p class="entry-story"><a href="([^"]+)">([^<]+)</a>', html)
    assert line.group(1) == reverse("story", args=[story.pk])
    # Newest coverage first.
    assert line.group(2) == "Also: Pacific Desk · Harbour Ledger"
    assert html.count('class="entry-story"') == 1


def test_the_total_line_says_articles_and_stories(client, seabed):
    tag, *_ = seabed
    assert _total(_html(client, reverse("tag", args=[tag.slug]))) == (
        "Total: 5 articles found in 3 stories"
    )
    single = make_tag("Single")
    make_many(single, 1)
    assert _total(_html(client, reverse("tag", args=[single.slug]))) == (
        "Total: 1 article found in 1 story"
    )


def test_more_sources_than_fit_are_counted(client):
    tag = make_tag("Crowded")
    now = timezone.now()
    members = [
        make_article(
            f"Version {i}",
            tags=[tag],
            source=make_source(f"Outlet {i}", f"outlet{i}.example"),
            published_at=now - timedelta(hours=10 - i),
        )
        for i in range(6)
    ]
    # A second article from the lead's own publisher is not "also" another source.
    members.append(make_article("Update", tags=[tag], source=members[0].source, published_at=now))
    make_story(*members)
    html = _html(client, reverse("tag", args=[tag.slug]))
    assert _entries(html) == ["Version 0"]
    assert "Also: Outlet 5 · Outlet 4 · +3 more" in html


def test_paging_counts_and_walks_story_entries(client):
    tag = make_tag("Paged stories")
    start = timezone.now()
    stories = []
    for i in range(45):
        lead = make_article(f"Lead {i:02}", tags=[tag], published_at=start - timedelta(hours=i))
        echo = make_article(
            f"Echo {i:02}", tags=[tag], published_at=start - timedelta(hours=i, minutes=-30)
        )
        stories.append(make_story(lead, echo))
    url = reverse("tag", args=[tag.slug])
    pages = [_html(client, url), _html(client, url, page=2), _html(client, url, page=3)]
    assert "Page 1 of 3" in pages[0]
    assert _total(pages[0]) == "Total: 90 articles found in 45 stories"
    seen = [title for page in pages for title in _entries(page)]
    assert seen == [f"Lead {i:02}" for i in range(45)]
    assert client.get(url, {"page": 4}).status_code == 404
    # The reader's cursor links walk the same entries.
    older = re.search(r'<link rel="next" href="([^"]+)">', pages[0]).group(1).replace("&amp;", "&")
    assert _entries(_html(client, older)) == _entries(pages[1])


def test_a_hidden_lead_hands_the_entry_to_the_next_member(client, seabed):
    tag, _story, (lead, second, third), _ = seabed
    url = reverse("tag", args=[tag.slug])
    linking.set_hidden([lead], True)
    entries = _entries(_html(client, url))
    assert second.title in entries and lead.title not in entries and third.title not in entries
    assert _exact(tag) == (4, 3)
    linking.set_hidden([lead], False)
    entries = _entries(_html(client, url))
    assert lead.title in entries and second.title not in entries
    assert _exact(tag) == (5, 3)


def test_a_member_without_the_topic_does_not_represent_it(client):
    rare = make_tag("Rare earth oxides")
    ships = make_tag("Bulk shipping")
    now = timezone.now()
    lead = make_article("Lead about ships", tags=[ships], published_at=now - timedelta(hours=3))
    other = make_article("Member about both", tags=[rare, ships], published_at=now)
    make_story(lead, other)
    assert _entries(_html(client, reverse("tag", args=[rare.slug]))) == ["Member about both"]
    assert _entries(_html(client, reverse("tag", args=[ships.slug]))) == ["Lead about ships"]
    assert _exact(rare, ships) == ((1, 1), (2, 1))


def test_an_editor_chosen_lead_represents_the_story(client, seabed):
    tag, story, (_lead, _second, third), _ = seabed
    Story.objects.filter(pk=story.pk).update(lead=third)
    story_changed.send(sender=Story, story_ids=[story.pk])
    assert third.title in _entries(_html(client, reverse("tag", args=[tag.slug])))
    assert _exact(tag) == (5, 3)


def test_counts_stay_exact_through_every_kind_of_change(
    client, seabed, django_capture_on_commit_callbacks
):
    tag, story, (lead, second, third), alone = seabed
    other = make_tag("Deep sea")
    url = reverse("tag", args=[tag.slug])

    # A single article joins the story: one entry fewer.
    move_to_story(alone[0], story)
    assert _exact(tag) == (5, 2)
    # Split back out into a story of its own: an entry again.
    move_to_story(alone[0], Story.objects.create())
    assert _exact(tag) == (5, 3)

    # An editor adds a topic to a member and removes one from the lead.
    linking.add_tag_by_hand(second, other)
    assert _exact(other) == (1, 1)
    linking.remove_tag_by_hand(lead, tag)
    assert second.title in _entries(_html(client, url))
    assert _exact(tag) == (4, 3)

    # A member is deleted outright; its membership goes with it.
    with django_capture_on_commit_callbacks(execute=True):
        second.delete()
    assert third.title in _entries(_html(client, url))
    assert _exact(tag, other) == ((3, 3), (0, 0))

    # An older article joins: with the lead off this topic, the earliest member carrying it
    # is the story's entry here.
    move_to_story(alone[1], story)
    assert _exact(tag) == (3, 2)
    assert _entries(_html(client, url)) == [alone[0].title, alone[1].title]


def test_tagging_a_member_through_the_rules_folds_it(client):
    """The real linking path: an article already in a story gets its topics from the rules."""
    tag = make_rule_tag("Gallium curbs", aliases=["gallium"])
    now = timezone.now()
    first = make_article("Gallium curbs announced", published_at=now - timedelta(hours=2))
    later = make_article("Gallium exports to be licensed", published_at=now)
    make_story(first, later)
    matcher = linking.current_matcher()
    assert linking.tag_article(later, matcher)
    assert _entries(_html(client, reverse("tag", args=[tag.slug]))) == [later.title]
    assert linking.tag_article(first, matcher)
    assert _entries(_html(client, reverse("tag", args=[tag.slug]))) == [first.title]
    assert _exact(tag) == (2, 1)
    reps = ArticleTag.objects.filter(tag=tag, represents=True).values_list("article_id", flat=True)
    assert list(reps) == [first.pk]


def test_a_merge_of_topics_keeps_one_entry_per_story(client, settings):
    from tags.merging import merge_tags

    a = make_tag("Magnet alloys")
    b = make_tag("Permanent magnet alloys")
    now = timezone.now()
    one = make_article("Magnet plant opens", tags=[a], published_at=now - timedelta(hours=1))
    two = make_article("Permanent magnet plant opens", tags=[b], published_at=now)
    make_story(one, two)
    assert _exact(a, b) == ((1, 1), (1, 1))
    merge_tags(b, a)
    assert _exact(a) == (2, 1)
    assert _entries(_html(client, reverse("tag", args=[a.slug]))) == [one.title]


def test_the_page_moves_its_validators_when_a_fold_changes(client, seabed):
    tag, story, (_lead, second, _third), _ = seabed
    url = reverse("tag", args=[tag.slug])
    first = client.get(url)
    assert client.get(url, headers={"if-none-match": first["ETag"]}).status_code == 304
    # The lead changes: same counts, same newest link, another entry.
    Story.objects.filter(pk=story.pk).update(lead=second)
    story_changed.send(sender=Story, story_ids=[story.pk])
    changed = client.get(url, headers={"if-none-match": first["ETag"]})
    assert changed.status_code == 200
    assert second.title in _entries(changed.content.decode())


def test_a_new_member_on_another_topic_moves_this_pages_validators(client, seabed):
    """The "Also" line lists the story's other sources, whatever their topics."""
    tag, story, *_ = seabed
    url = reverse("tag", args=[tag.slug])
    etag = client.get(url)["ETag"]
    elsewhere = make_article(
        "Seabed story seen from Seoul",
        tags=[make_tag("Korea")],
        source=make_source("Han River Post", "han.example"),
        published_at=timezone.now(),  # the newest coverage, so the "Also" line names it
    )
    move_to_story(elsewhere, story)
    response = client.get(url, headers={"if-none-match": etag})
    assert response.status_code == 200
    assert "Han River Post" in response.content.decode()


def _member_elsewhere(story: Story) -> Article:
    """A member on another topic only, the newest coverage: the "Also" line names its source."""
    elsewhere = make_article(
        "Seabed story seen from Seoul",
        tags=[make_tag("Korea")],
        source=make_source("Han River Post", "han.example"),
        published_at=timezone.now(),
    )
    move_to_story(elsewhere, story)
    return elsewhere


def test_hiding_a_member_moves_the_validators_of_every_page_showing_its_story(client, seabed):
    """Hiding (or showing) a member changes the "Also" line on pages it is not on."""
    from articles.admin import set_hidden

    tag, story, *_ = seabed
    elsewhere = _member_elsewhere(story)
    url = reverse("tag", args=[tag.slug])
    first = client.get(url)
    assert "Han River Post" in first.content.decode()
    set_hidden(Article.objects.filter(pk=elsewhere.pk), True)
    hidden = client.get(url, headers={"if-none-match": first["ETag"]})
    assert hidden.status_code == 200
    assert "Han River Post" not in hidden.content.decode()
    set_hidden(Article.objects.filter(pk=elsewhere.pk), False)
    shown = client.get(url, headers={"if-none-match": hidden["ETag"]})
    assert shown.status_code == 200
    assert "Han River Post" in shown.content.decode()


def test_a_member_leaving_from_another_topic_moves_this_pages_validators(client, seabed):
    tag, story, *_ = seabed
    elsewhere = _member_elsewhere(story)
    url = reverse("tag", args=[tag.slug])
    etag = client.get(url)["ETag"]
    move_to_story(elsewhere, Story.objects.create())
    response = client.get(url, headers={"if-none-match": etag})
    assert response.status_code == 200
    assert "Han River Post" not in response.content.decode()


def test_editing_a_members_title_elsewhere_leaves_this_page_valid(client, seabed):
    """Only what the "Also" line shows moves other pages: a title is not in it."""
    tag, story, *_ = seabed
    elsewhere = _member_elsewhere(story)
    url = reverse("tag", args=[tag.slug])
    etag = client.get(url)["ETag"]
    elsewhere.title = "Seabed story, retitled"
    elsewhere.save(update_fields=["title", "updated_at"])
    assert client.get(url, headers={"if-none-match": etag}).status_code == 304


def test_deleting_a_members_source_moves_this_pages_validators(client, seabed):
    """The member's name in the "Also" line falls back to its site name: no article is saved."""
    tag, story, *_ = seabed
    elsewhere = _member_elsewhere(story)
    url = reverse("tag", args=[tag.slug])
    etag = client.get(url)["ETag"]
    elsewhere.source.delete()
    response = client.get(url, headers={"if-none-match": etag})
    assert response.status_code == 200
    assert "Han River Post" not in response.content.decode()


@pytest.mark.parametrize("count", [5, 20])
def test_a_page_of_stories_costs_one_query_more_whatever_it_holds(
    client, django_assert_num_queries, count
):
    from tests.test_pages import TAG_PAGE_QUERIES

    tag = make_tag("Counted stories")
    start = timezone.now()
    for i in range(count):
        members = [
            make_article(tags=[tag], published_at=start - timedelta(hours=i, minutes=m))
            for m in range(3)
        ]
        make_story(*members)
    with django_assert_num_queries(TAG_PAGE_QUERIES + 1):  # the story lines, for the page
        html = _html(client, reverse("tag", args=[tag.slug]))
    assert html.count('class="entry-story"') == count


def test_pages_without_stories_are_unchanged(client):
    tag = make_tag("No stories")
    make_many(tag, 3)
    html = _html(client, reverse("tag", args=[tag.slug]))
    assert _total(html) == "Total: 3 articles found in 3 stories"
    assert "entry-story" not in html


# --- Home and the sitemap ------------------------------------------------------------------------


def test_home_shows_each_story_once_by_its_lead_with_its_other_sources(client, seabed):
    _tag, story, (lead, second, third), alone = seabed
    html = _html(client, reverse("home"))
    assert _entries(html) == [alone[0].title, lead.title, alone[1].title]
    line = re.search(r'<p class="entry-story"><a href="([^"]+)">([^<]+)</a>', html)
    assert line.group(1) == reverse("story", args=[story.pk])
    assert line.group(2) == "Also: Pacific Desk · Harbour Ledger"
    # A hidden lead hands the entry to the earliest visible member, and takes it back.
    linking.set_hidden([lead], True)
    assert _entries(_html(client, reverse("home"))) == [
        alone[0].title,
        second.title,
        alone[1].title,
    ]
    linking.set_hidden([lead], False)
    # An editor's lead choice shows on the home page too.
    Story.objects.filter(pk=story.pk).update(lead=third)
    assert _entries(_html(client, reverse("home"))) == [third.title, alone[0].title, alone[1].title]


def test_home_pages_through_stories_without_repeating_one(client):
    tag = make_tag("Paged home")
    start = timezone.now()
    for i in range(30):
        lead = make_article(f"Lead {i:02}", tags=[tag], published_at=start - timedelta(hours=i))
        echo = make_article(
            f"Echo {i:02}", tags=[tag], published_at=start - timedelta(hours=i, minutes=-30)
        )
        make_story(lead, echo)
    pages = [_html(client, reverse("home")), _html(client, reverse("home"), page=2)]
    assert [title for page in pages for title in _entries(page)] == [
        f"Lead {i:02}" for i in range(30)
    ]
    assert client.get(reverse("home"), {"page": 3}).status_code == 404


def test_home_with_stories_costs_one_query_more(client, seabed, django_assert_num_queries):
    with django_assert_num_queries(4):  # articles, their topics, trending, the story lines
        _html(client, reverse("home"))


def test_the_sitemap_lists_story_pages_a_reader_can_open(client, seabed, settings):
    settings.SITE_URL = "https://news.example.org"
    _tag, story, _members, alone = seabed
    single = make_story(alone[0])
    hidden = make_story(*alone[1:], make_article("Hidden twin", published_at=timezone.now()))
    linking.set_hidden(list(Article.objects.filter(story_membership__story=hidden)), True)
    gone = make_story(make_article("Merged one"), make_article("Merged two"))
    Story.objects.filter(pk=gone.pk).update(merged_into=story)
    xml = client.get("/sitemap.xml").content.decode()
    locations = re.findall(r"<loc>([^<]+)</loc>", xml)
    story_pages = [url for url in locations if "/stories/" in url]
    assert story_pages == [f"https://news.example.org/stories/{story.pk}/"]
    assert single.pk and hidden.pk  # in the database, but not worth a reader's visit
    # Each listed page answers a reader.
    assert client.get(reverse("story", args=[story.pk])).status_code == 200


# --- Feeds out ----------------------------------------------------------------------------------


def test_a_topic_feed_carries_one_item_per_story(client, seabed):
    tag, _story, (lead, _second, _third), _alone = seabed
    for route in ("tag_feed_rss", "tag_feed_atom"):
        body = client.get(reverse(route, args=[tag.slug])).content
        root = ElementTree.fromstring(body)  # noqa: S314 - our own feed
        names = ("title", "{http://www.w3.org/2005/Atom}title")
        titles = [el.text for el in root.iter() if el.tag in names][1:]
        assert titles == ["Nodule permits delayed", lead.title, "Cobalt crust study"], route


def test_the_site_feed_carries_one_item_per_story(client, seabed):
    _tag, _story, (lead, _second, third), alone = seabed
    for route in ("feed_rss", "feed_atom"):
        first = client.get(reverse(route))
        root = ElementTree.fromstring(first.content)  # noqa: S314 - our own feed
        names = ("title", "{http://www.w3.org/2005/Atom}title")
        titles = [el.text for el in root.iter() if el.tag in names][1:]
        # The story appears once, by its lead, where the lead falls: as on the pages.
        assert titles == [alone[0].title, lead.title, alone[1].title], route
        links = [el.text or el.get("href") for el in root.iter() if el.tag.endswith("link")]
        assert any(f"/articles/{lead.pk}/" in (link or "") for link in links), route
        assert not any(f"/articles/{third.pk}/" in (link or "") for link in links), route
        # A member leaving the story changes what the feed shows, and so its validators.
        etag = first["ETag"]
        move_to_story(lead, Story.objects.create())
        assert client.get(reverse(route), headers={"if-none-match": etag}).status_code == 200
        move_to_story(lead, _story)


def test_the_site_feed_follows_the_pages_when_the_lead_is_hidden(client, seabed):
    """While the lead is hidden the earliest visible member is the entry, in the feed too."""
    _tag, _story, (lead, second, _third), alone = seabed
    linking.set_hidden([lead], True)
    root = ElementTree.fromstring(client.get(reverse("feed_rss")).content)  # noqa: S314
    titles = [el.text for el in root.iter("title")][1:]
    assert titles == [alone[0].title, second.title, alone[1].title]


# --- The story page -----------------------------------------------------------------------------


def test_the_story_page_lists_every_article_newest_first(client, seabed, settings):
    settings.SITE_URL = "https://news.example.org"
    _tag, story, (lead, second, third), _ = seabed
    html = _html(client, reverse("story", args=[story.pk]))
    assert f'<h1 dir="auto">{lead.title}</h1>' in html
    titles = re.findall(r'<h3 class="entry-title" dir="auto"><a href="([^"]+)">([^<]+)</a>', html)
    assert titles == [(reverse("article", args=[a.pk]), a.title) for a in (third, second, lead)]
    for article in (lead, second, third):
        assert f'href="{article.url}" rel="noopener nofollow"' in html
        assert f'datetime="{article.published_at.isoformat()[:19]}' in html
    assert html.index("Pacific Desk") < html.index("Harbour Ledger") < html.index("Mineral Wire")
    assert "3 articles from 3 sources" in html
    assert f'<link rel="canonical" href="https://news.example.org/stories/{story.pk}/">' in html
    assert "<main" in html and "<script" not in html and "style=" not in html


def test_the_story_page_leaves_hidden_members_out_and_keeps_a_visible_heading(client, seabed):
    _tag, story, (lead, second, _third), _ = seabed
    linking.set_hidden([lead], True)
    html = _html(client, reverse("story", args=[story.pk]))
    assert lead.title not in html
    assert f'<h1 dir="auto">{second.title}</h1>' in html


def test_the_story_page_costs_two_queries(client, django_assert_num_queries):
    now = timezone.now()
    members = [
        make_article(
            source=make_source(f"S{i}", f"s{i}.example"), published_at=now - timedelta(hours=i)
        )
        for i in range(12)
    ]
    story = make_story(*members)
    with django_assert_num_queries(2):
        assert client.get(reverse("story", args=[story.pk])).status_code == 200


def test_a_merged_story_redirects_permanently_and_unknown_ones_are_404(client, seabed):
    _tag, story, _members, _ = seabed
    gone = Story.objects.create(merged_into=story)
    older = Story.objects.create(merged_into=gone)
    response = client.get(reverse("story", args=[older.pk]))
    assert response.status_code == 301
    assert response["Location"] == reverse("story", args=[story.pk])

    missing = client.get(reverse("story", args=[999_999]))
    assert missing.status_code == 404
    assert "Page not found" in missing.content.decode() and "site.css" in missing.content.decode()

    loop = Story.objects.create()
    Story.objects.filter(pk=loop.pk).update(merged_into=loop)
    assert client.get(reverse("story", args=[loop.pk])).status_code == 404
    # A story whose every article is hidden has nothing to show.
    lonely = make_article("Hidden one")
    hidden = make_story(lonely)
    linking.set_hidden([lonely], True)
    assert client.get(reverse("story", args=[hidden.pk])).status_code == 404


# --- The article page ---------------------------------------------------------------------------


def test_an_article_page_links_its_story(client, seabed):
    _tag, story, (_lead, second, _third), alone = seabed
    html = _html(client, reverse("article", args=[second.pk]))
    assert (
        f'<p class="story-line"><a href="{reverse("story", args=[story.pk])}">'
        "Part of a story: 3 articles</a></p>"
    ) in html
    assert "story-line" not in _html(client, reverse("article", args=[alone[0].pk]))
    # A story of one says nothing.
    make_story(alone[1])
    assert "story-line" not in _html(client, reverse("article", args=[alone[1].pk]))


def _imported_apps(path) -> set[str]:
    """The top-level packages a module imports (docstrings and comments don't count)."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_articles_imports_nothing_from_stories():
    import pathlib

    for path in pathlib.Path("articles").rglob("*.py"):
        assert "stories" not in _imported_apps(path), path
    for path in pathlib.Path("stories").rglob("*.py"):
        assert "tags" not in _imported_apps(path), path
