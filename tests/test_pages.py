"""The public pages: topic pages, the topic index, article pages, home, errors and robots."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from articles.models import Article
from tags import linking
from tags.models import Tag
from tests.pages_fixtures import (
    HOSTILE_SUMMARY,
    HOSTILE_TEXT,
    HOSTILE_TITLE,
    link,
    make_article,
    make_many,
    make_source,
    make_tag,
)

pytestmark = pytest.mark.django_db


def _text(response) -> str:
    return response.content.decode()


# --- Topic page -------------------------------------------------------------------------------


def test_it_shows_the_tag_heading_description_and_total(client):
    tag = make_tag("Rare earth oxides")
    make_many(tag, 3)
    response = client.get(reverse("tag", args=[tag.slug]))
    html = _text(response)
    assert response.status_code == 200
    assert "<h1>Rare earth oxides</h1>" in html
    assert "Latest news and articles about Rare earth oxides" in html
    assert "Total: 3 articles found" in html


def test_it_says_one_article_in_the_singular(client):
    tag = make_tag("Lithium brine")
    make_many(tag, 1)
    assert "Total: 1 article found" in _text(client.get(reverse("tag", args=[tag.slug])))


def test_it_lists_articles_newest_first_with_summary_source_date_and_other_tags(client):
    tag = make_tag("Cobalt")
    other = make_tag("Ore mining")
    source = make_source("Ore Weekly", "ore.example")
    now = timezone.now()
    old = make_article("Older cobalt story", tags=[tag], published_at=now - timedelta(days=2))
    new = make_article(
        "Newer cobalt story",
        tags=[tag, other],
        published_at=now - timedelta(hours=1),
        source=source,
        summary="Cobalt prices rose again.",
    )
    html = _text(client.get(reverse("tag", args=[tag.slug])))
    assert html.index("Newer cobalt story") < html.index("Older cobalt story")
    assert f'href="{reverse("article", args=[new.pk])}"' in html
    assert f'href="{reverse("article", args=[old.pk])}"' in html
    assert "Cobalt prices rose again." in html
    assert "Ore Weekly" in html
    assert f'href="{reverse("tag", args=[other.slug])}"' in html
    assert f'<time datetime="{new.published_at.isoformat()[:10]}' in html


def test_it_pages_twenty_at_a_time_with_older_and_newer_links(client):
    tag = make_tag("Graphite anodes")
    articles = make_many(tag, 45)
    url = reverse("tag", args=[tag.slug])

    first = _text(client.get(url))
    assert first.count('class="entry"') == 20
    assert f'href="{url}?page=2"' in first
    assert "Newer entries" not in first
    assert "Page 1 of 3" in first

    second = _text(client.get(url, {"page": 2}))
    assert articles[20].title in second and articles[39].title in second
    assert articles[19].title not in second
    assert f'href="{url}?page=3"' in second
    assert f'href="{url}"' in second  # newer goes back to the clean first-page URL

    last = _text(client.get(url, {"page": 3}))
    assert last.count('class="entry"') == 5
    assert "Older entries" not in last
    assert f'href="{url}?page=2"' in last


@pytest.mark.parametrize("page", ["0", "-1", "abc", "4", "99999999999"])
def test_it_answers_404_for_pages_that_do_not_exist(client, page):
    tag = make_tag("Nickel")
    make_many(tag, 45)
    assert client.get(reverse("tag", args=[tag.slug]), {"page": page}).status_code == 404


def test_it_answers_404_in_the_site_style_for_unknown_tags(client):
    # An archived (inactive) topic redirects instead: tests/test_retiring.py.
    response = client.get(reverse("tag", args=["no-such-topic"]))
    assert response.status_code == 404
    assert "Page not found" in _text(response)
    assert "site.css" in _text(response)


def test_it_redirects_a_merged_tag_permanently_to_its_target(client):
    target = make_tag("Rare earth elements")
    merged = make_tag("REE", merged_into=target, is_active=False)
    response = client.get(reverse("tag", args=[merged.slug]))
    assert response.status_code == 301
    assert response["Location"] == reverse("tag", args=[target.slug])


def test_it_follows_a_chain_of_merges_and_stops_on_a_loop(client):
    end = make_tag("Final")
    middle = make_tag("Middle", merged_into=end)
    start = make_tag("Start", merged_into=middle)
    response = client.get(reverse("tag", args=[start.slug]))
    assert response["Location"] == reverse("tag", args=[end.slug])

    a = make_tag("Loop A")
    b = make_tag("Loop B", merged_into=a)
    Tag.objects.filter(pk=a.pk).update(merged_into=b)
    assert client.get(reverse("tag", args=[a.slug])).status_code == 404


def test_it_leaves_hidden_links_off_the_page(client):
    tag = make_tag("Tungsten")
    shown = make_article("Shown story", tags=[tag])
    hidden = make_article("Hidden story", is_hidden=True)
    link(hidden, tag, visible=False)
    html = _text(client.get(reverse("tag", args=[tag.slug])))
    assert shown.title in html
    assert "Hidden story" not in html


def test_it_draws_a_weekly_chart_as_accessible_inline_svg(client):
    tag = make_tag("Gallium")
    now = timezone.now()
    for weeks_ago in (0, 0, 1, 5, 20):
        make_article(tags=[tag], published_at=now - timedelta(weeks=weeks_ago))
    html = _text(client.get(reverse("tag", args=[tag.slug])))
    svg = html[html.index("<svg") : html.index("</svg>")]
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert svg.count('class="chart-bar"') == 12
    assert "4 articles in the last 12 weeks" in svg  # the one from 20 weeks ago is outside
    assert "style=" not in svg


@pytest.mark.parametrize("count", [5, 20])
def test_it_costs_the_same_few_queries_whatever_the_page_holds(
    client, django_assert_num_queries, count
):
    tag = make_tag("Germanium")
    other = make_tag("Chip packaging")
    for article in make_many(tag, count):
        link(article, other)
    with django_assert_num_queries(TAG_PAGE_QUERIES):
        assert client.get(reverse("tag", args=[tag.slug])).status_code == 200


# Tag (with its newest link), page ids, the articles, their other tags, the weekly chart.
TAG_PAGE_QUERIES = 5


def test_it_answers_a_repeat_request_with_304_until_something_changes(client):
    tag = make_tag("Antimony")
    make_many(tag, 2)
    url = reverse("tag", args=[tag.slug])
    first = client.get(url)
    etag, last_modified = first["ETag"], first["Last-Modified"]

    assert client.get(url, headers={"if-none-match": etag}).status_code == 304
    assert client.get(url, headers={"if-modified-since": last_modified}).status_code == 304
    assert client.get(url, {"page": 1}, headers={"if-none-match": etag}).status_code == 304

    make_article("A newer story", tags=[tag])
    changed = client.get(url, headers={"if-none-match": etag})
    assert changed.status_code == 200
    assert changed["ETag"] != etag


def test_a_repeat_render_comes_from_cache_until_the_topic_changes(
    client, django_assert_num_queries
):
    tag = make_tag("Hafnium")
    first, _second = make_many(tag, 2)
    url = reverse("tag", args=[tag.slug])
    assert first.title in _text(client.get(url))
    with django_assert_num_queries(1):  # the topic and its validators; the page is cached
        assert first.title in _text(client.get(url))

    linking.set_hidden([first], True)

    assert first.title not in _text(client.get(url))


def test_a_hot_topic_page_is_served_whole_from_cache_for_a_few_seconds(
    client, settings, django_assert_num_queries
):
    settings.NEWSDESK_HOT_PAGE_SECONDS = 10
    tag = make_tag("Scandium")
    make_many(tag, 1)
    url = reverse("tag", args=[tag.slug])
    first = client.get(url)
    with django_assert_num_queries(0):
        again = client.get(url)
        assert again.content == first.content
        assert again["ETag"] == first["ETag"]
        assert client.get(url, headers={"if-none-match": first["ETag"]}).status_code == 304
    # Another page, or the same page with other parameters, is its own entry.
    assert client.get(url, {"page": 2}).status_code == 404


def test_it_gives_each_page_its_own_etag(client):
    tag = make_tag("Vanadium")
    make_many(tag, 25)
    url = reverse("tag", args=[tag.slug])
    assert client.get(url)["ETag"] != client.get(url, {"page": 2})["ETag"]


def test_it_links_canonical_feeds_and_opengraph_on_the_tag_page(client, settings):
    settings.SITE_URL = "https://news.example.org"
    tag = make_tag("Magnet recycling")
    make_many(tag, 25)
    html = _text(client.get(reverse("tag", args=[tag.slug]), {"page": 2}))
    assert f'<link rel="canonical" href="https://news.example.org/tags/{tag.slug}/?page=2">' in html
    assert f'href="/tags/{tag.slug}/feed/atom/"' in html
    assert 'type="application/rss+xml"' in html
    assert '<meta property="og:title" content="Magnet recycling">' in html


# --- Deep pages: cursors and anchors ---------------------------------------------------------

_ENTRY_TITLE = re.compile(r'class="entry-title" dir="auto"><a href="[^"]+">([^<]+)</a>')
_OLDER = re.compile(r'<a class="older" rel="next" href="([^"]+)"')
_NEWER = re.compile(r'<a class="newer" rel="prev" href="([^"]+)"')


def _titles(html: str) -> list[str]:
    return _ENTRY_TITLE.findall(html)


def _link(pattern: re.Pattern[str], html: str) -> str:
    found = pattern.search(html)
    return found.group(1).replace("&amp;", "&") if found else ""


@pytest.fixture
def deep_tag(monkeypatch):
    """A topic of six pages of twenty; pages four to six count as deep."""
    from tags import queries

    monkeypatch.setattr(queries, "ANCHOR_ROWS", 60)
    tag = make_tag("Deep archive")
    return tag, [a.title for a in make_many(tag, 105)]


def test_deep_older_links_carry_a_cursor_and_walk_the_whole_topic_once(client, deep_tag):
    tag, titles = deep_tag
    url, seen, pages = reverse("tag", args=[tag.slug]), [], []
    while url:
        html = _text(client.get(url))
        pages.append(url)
        seen += _titles(html)
        url = _link(_OLDER, html)
    assert seen == titles
    base = reverse("tag", args=[tag.slug])
    assert pages[:3] == [base, f"{base}?page=2", f"{base}?page=3"]
    assert all("&before=" in page for page in pages[3:])
    assert len(pages) == 6


def test_newer_links_walk_back_to_the_clean_first_page(client, deep_tag):
    tag, titles = deep_tag
    base = reverse("tag", args=[tag.slug])
    html = _text(client.get(base, {"page": 6}))
    seen = [_titles(html)]
    url = _link(_NEWER, html)
    assert "&after=" in url
    while url:
        html = _text(client.get(url))
        seen.insert(0, _titles(html))
        last, url = url, _link(_NEWER, html)
    assert last == base
    assert [t for page in seen for t in page] == titles


@pytest.mark.parametrize("page", [1, 2, 3, 4, 5, 6])
def test_a_bare_page_number_shows_the_same_entries_at_any_depth(client, deep_tag, page):
    tag, titles = deep_tag
    html = _text(client.get(reverse("tag", args=[tag.slug]), {"page": page}))
    assert _titles(html) == titles[(page - 1) * 20 : page * 20]
    assert f"Page {page} of 6" in html


def test_a_cursor_page_stays_put_when_new_articles_arrive(client, deep_tag):
    tag, titles = deep_tag
    base = reverse("tag", args=[tag.slug])
    older = _link(_OLDER, _text(client.get(base, {"page": 4})))
    make_article("Breaking story", tags=[tag], published_at=timezone.now() + timedelta(minutes=1))
    assert _titles(_text(client.get(older))) == titles[80:100]
    assert _titles(_text(client.get(base, {"page": 1})))[0] == "Breaking story"


@pytest.mark.parametrize(
    "params",
    [{"before": "yesterday"}, {"after": "2024-01-01T00:00:00.000000Z_x"}, {"before": "_1"}],
)
def test_it_answers_404_for_a_cursor_that_is_not_one(client, deep_tag, params):
    tag, _ = deep_tag
    response = client.get(reverse("tag", args=[tag.slug]), {"page": 4, **params})
    assert response.status_code == 404


def test_a_deep_page_costs_the_same_queries_as_a_shallow_one(
    client, deep_tag, django_assert_num_queries
):
    tag, _ = deep_tag
    base = reverse("tag", args=[tag.slug])
    cursor_url = _link(_OLDER, _text(client.get(base, {"page": 4})))
    client.get(base, {"page": 5})  # builds the cached anchors
    # Tag, page keys, the articles, their other tags; page 1 adds the (cached) chart.
    with django_assert_num_queries(TAG_PAGE_QUERIES - 1):
        assert client.get(cursor_url).status_code == 200
    with django_assert_num_queries(TAG_PAGE_QUERIES - 1):
        assert client.get(base, {"page": 6}).status_code == 200


# --- Topic index ------------------------------------------------------------------------------


def test_it_lists_active_tags_by_count_or_by_name(client):
    busy, quiet = make_tag("Zinc"), make_tag("Aluminium")
    make_many(busy, 3)
    make_many(quiet, 1)
    make_tag("Retired", is_active=False)
    by_count = _text(client.get(reverse("tag_index")))
    assert by_count.index("Zinc") < by_count.index("Aluminium")
    assert "3 articles" in by_count and "1 article<" in by_count
    assert "Retired" not in by_count
    by_name = _text(client.get(reverse("tag_index"), {"sort": "name"}))
    assert by_name.index("Aluminium") < by_name.index("Zinc")
    assert client.get(reverse("tag_index"), {"sort": "'; drop"}).status_code == 200


def test_the_index_shows_a_changed_count_or_name_at_once(client):
    tag = make_tag("Bismuth")
    make_many(tag, 1)
    assert "1 article<" in _text(client.get(reverse("tag_index")))
    make_article(tags=[tag])
    assert "2 articles" in _text(client.get(reverse("tag_index")))
    Tag.objects.filter(pk=tag.pk).update(name="Bismuth oxide")
    assert "Bismuth oxide" in _text(client.get(reverse("tag_index")))


@pytest.mark.parametrize("count", [3, 30])
def test_the_index_costs_one_query(client, django_assert_num_queries, count):
    for i in range(count):
        make_tag(f"Topic {i}")
    with django_assert_num_queries(1):
        client.get(reverse("tag_index"))


# --- Article page -----------------------------------------------------------------------------


def test_it_shows_the_article_with_source_link_paragraphs_and_tags(client):
    tag = make_tag("Licensing rules")
    source = make_source("Metal Times", "metaltimes.example")
    source.full_text_licensed = True
    source.save()
    article = make_article(
        "Controls tighten",
        tags=[tag],
        source=source,
        author="Ada Reporter",
        url="https://metaltimes.example/controls",
        summary="New licences are needed.",
        text="One paragraph.\n\nAnother paragraph.\n\n\n\nA third.",
    )
    html = _text(client.get(reverse("article", args=[article.pk])))
    assert '<h1 dir="auto">Controls tighten</h1>' in html
    assert (
        '<a href="https://metaltimes.example/controls" rel="noopener nofollow">'
        "Read more at Metal Times</a>" in html
    )
    assert "Ada Reporter" in html
    assert "<p>One paragraph.</p>" in html and "<p>A third.</p>" in html
    assert f'href="{reverse("tag", args=[tag.slug])}"' in html
    assert '<meta property="og:type" content="article">' in html


def test_it_lists_related_articles_sharing_tags(client):
    tag = make_tag("Scandium")
    article, neighbour = make_many(tag, 2)
    unrelated = make_article("Nothing in common")
    html = _text(client.get(reverse("article", args=[article.pk])))
    assert "Related articles" in html
    assert neighbour.title in html
    assert unrelated.title not in html


@pytest.mark.parametrize(
    "fields",
    [{"is_hidden": True}, {"status": Article.Status.FAILED}, {"status": Article.Status.PENDING}],
)
def test_it_answers_404_for_articles_readers_must_not_see(client, fields):
    article = make_article(**fields)
    assert client.get(reverse("article", args=[article.pk])).status_code == 404


def test_it_redirects_a_duplicate_to_its_original(client):
    original = make_article("The original")
    duplicate = make_article("The copy", duplicate_of=original, status=Article.Status.DUPLICATE)
    response = client.get(reverse("article", args=[duplicate.pk]))
    assert response.status_code == 301
    assert response["Location"] == reverse("article", args=[original.pk])


def test_it_does_not_redirect_to_a_hidden_original(client):
    original = make_article("Hidden original", is_hidden=True)
    duplicate = make_article("Copy", duplicate_of=original, status=Article.Status.DUPLICATE)
    assert client.get(reverse("article", args=[duplicate.pk])).status_code == 404


def test_it_escapes_hostile_text_and_refuses_script_urls(client):
    tag = make_tag("Hostile")
    article = make_article(
        HOSTILE_TITLE,
        tags=[tag],
        summary=HOSTILE_SUMMARY,
        text=HOSTILE_TEXT,
        url="javascript:window.__pwned=1//x",
        author='"><script>alert(1)</script>',
    )
    for url in [reverse("article", args=[article.pk]), reverse("tag", args=[tag.slug]), "/"]:
        html = _text(client.get(url))
        assert "<script>window.__pwned" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
        assert 'href="javascript:' not in html
    assert "Read more at" not in _text(client.get(reverse("article", args=[article.pk])))


def test_it_keeps_an_article_image_out_of_opengraph_unless_https(client):
    plain = make_article(image_url="http://img.example/a.jpg")
    secure = make_article(image_url="https://img.example/b.jpg")
    assert "og:image" not in _text(client.get(reverse("article", args=[plain.pk])))
    assert '<meta property="og:image" content="https://img.example/b.jpg">' in _text(
        client.get(reverse("article", args=[secure.pk]))
    )


@pytest.mark.parametrize("tag_count", [1, 6])
def test_the_article_page_costs_four_queries(client, django_assert_num_queries, tag_count):
    tags = [make_tag(f"Article topic {i}") for i in range(tag_count)]
    article = make_article("Many topics", tags=tags)
    for _ in range(tag_count):
        make_article(tags=tags)
    # The article, its topics, related articles, and its story (stories.views.with_story).
    with django_assert_num_queries(4):
        assert client.get(reverse("article", args=[article.pk])).status_code == 200


# --- Home, robots, sitemap, errors ------------------------------------------------------------


def test_home_lists_latest_articles_and_this_weeks_busiest_topics(client):
    busy = make_tag("Busy topic")
    make_many(busy, 3)
    old = make_tag("Old topic")
    make_article(tags=[old], published_at=timezone.now() - timedelta(days=30))
    html = _text(client.get("/"))
    assert "<h1>Latest articles</h1>" in html
    assert "Busy topic story 1" in html
    trending = html[html.index("Most active topics this week") :]
    assert "Busy topic" in trending and "Old topic" not in trending


@pytest.mark.parametrize("count", [5, 20])
def test_home_costs_the_same_queries_whatever_it_lists(client, django_assert_num_queries, count):
    tag = make_tag("Home topic")
    make_many(tag, count)
    with django_assert_num_queries(3):
        assert client.get("/").status_code == 200


def test_home_pages_back_through_older_articles(client):
    tag = make_tag("Deep")
    make_many(tag, 25)
    assert 'href="?page=2"' in _text(client.get("/"))
    second = _text(client.get("/", {"page": 2}))
    assert second.count('class="entry"') == 5
    assert client.get("/", {"page": 3}).status_code == 404


def test_robots_txt_points_at_the_sitemap(client, settings):
    settings.SITE_URL = "https://news.example.org"
    response = client.get("/robots.txt")
    assert response["Content-Type"].startswith("text/plain")
    assert "Sitemap: https://news.example.org/sitemap.xml" in _text(response)
    assert "Disallow: /admin/" in _text(response)


def test_the_sitemap_lists_tags_and_articles_on_the_canonical_host(client, settings):
    settings.SITE_URL = "https://news.example.org"
    tag = make_tag("Sitemapped")
    article = make_article(tags=[tag])
    empty = make_tag("Empty topic")
    xml = _text(client.get("/sitemap.xml"))
    assert f"<loc>https://news.example.org/tags/{tag.slug}/</loc>" in xml
    assert f"<loc>https://news.example.org/articles/{article.pk}/</loc>" in xml
    assert empty.slug not in xml


def test_every_page_has_one_h1_landmarks_and_no_inline_style_or_script(client):
    tag = make_tag("Structure")
    article = make_many(tag, 2)[0]
    urls = [
        "/",
        reverse("tag_index"),
        reverse("tag", args=[tag.slug]),
        reverse("article", args=[article.pk]),
        reverse("search") + "?q=structure",
        "/no-such-page/",
    ]
    for url in urls:
        html = _text(client.get(url))
        assert html.count("<h1") == 1, url
        assert '<html lang="en">' in html
        for landmark in ("<header", "<nav", '<main id="main"', "<footer"):
            assert landmark in html, (url, landmark)
        assert 'href="#main"' in html
        assert not re.search(r"\sstyle=", html), url
        assert "<style" not in html and "<script" not in html, url


@override_settings(DEBUG=False)
def test_the_500_page_renders_without_a_database_or_request(client):
    from newsdesk.views import server_error

    response = server_error(None)
    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()


def test_responses_carry_a_csp_without_unsafe_inline_scripts(client):
    header = client.get("/")["Content-Security-Policy"]
    script_src = next(d for d in header.split(";") if d.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src


def test_fast_links_match_what_reverse_gives():
    tag = make_tag("Yttrium")
    article = make_article("A story", tags=[tag])
    assert tag.get_absolute_url() == reverse("tag", args=[tag.slug])
    assert article.get_absolute_url() == reverse("article", args=[article.pk])


# --- Odd page numbers and the hot-page cache's keys ----------------------------------------------


@pytest.mark.parametrize("raw", ["²", "٣", "\uff11", "9" * 40, "0", "-1", "1.0", ""])
@pytest.mark.parametrize("where", ["home", "tag"])
def test_a_page_number_that_is_not_plain_digits_is_404_never_500(client, raw, where):
    tag = make_tag("Page numbers")
    make_many(tag, 2)
    url = reverse("home") if where == "home" else reverse("tag", args=[tag.slug])
    assert client.get(url, {"page": raw}).status_code == 404


def test_the_hot_page_cache_keys_only_on_parameters_that_change_the_page(client, settings):
    from django.core.cache import caches

    settings.NEWSDESK_HOT_PAGE_SECONDS = 10
    tag = make_tag("Cache keys")
    make_many(tag, 25)
    url = reverse("tag", args=[tag.slug])
    hot = caches["hot"]
    for junk in range(5):
        assert client.get(url, {"utm_source": f"x{junk}", "fbclid": junk}).status_code == 200
    assert len(hot._cache) == 1
    assert client.get(url, {"page": 2, "junk": 1}).status_code == 200
    assert len(hot._cache) == 2


def test_a_topic_page_names_its_own_feed_as_the_first_alternate(client):
    tag = make_tag("Feed order")
    make_many(tag, 1)
    html = _text(client.get(reverse("tag", args=[tag.slug])))
    alternates = re.findall(r'<link rel="alternate" type="([^"]+)"[^>]* href="([^"]+)"', html)
    assert alternates[0] == ("application/atom+xml", f"/tags/{tag.slug}/feed/atom/")
    assert alternates[1] == ("application/rss+xml", f"/tags/{tag.slug}/feed/rss/")
    assert ("application/atom+xml", "/feed/atom/") in alternates[2:]


# --- Compression and the favicon -----------------------------------------------------------------


def test_public_pages_are_compressed_and_the_admin_is_not(client, admin_client):
    tag = make_tag("Compressed topic")
    make_many(tag, 20)
    for url in (reverse("home"), reverse("tag", args=[tag.slug]), reverse("tag_index")):
        response = client.get(url, headers={"accept-encoding": "gzip"})
        assert response.status_code == 200
        assert response["Content-Encoding"] == "gzip", url
    # The admin carries CSRF tokens and echoes its search box (BREACH): never compressed.
    admin = admin_client.get(
        "/admin/articles/article/?q=secret", headers={"accept-encoding": "gzip"}
    )
    assert admin.status_code == 200
    assert "Content-Encoding" not in admin


def test_favicon_ico_is_a_real_icon_at_the_site_root(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert response["Content-Type"] in {"image/x-icon", "image/vnd.microsoft.icon"}
