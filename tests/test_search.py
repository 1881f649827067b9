"""Search: hostile queries answered calmly, ranked full-text on PostgreSQL, safe highlighting."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from articles import search
from articles.models import Article
from tests.pages_fixtures import HOSTILE_TITLE, make_article

# --- Pure parts: no database ------------------------------------------------------------------


def test_it_caps_queries_and_drops_control_characters():
    assert search.clean_query("  rare\x00 earths\n\t ") == "rare earths"
    assert len(search.clean_query("word " * 500)) <= search.MAX_QUERY_CHARS


def test_it_keeps_words_and_drops_operators_and_noise():
    assert search.query_terms('"Rare earths" OR -magnets a &&& %%%') == (
        "rare",
        "earths",
        "magnets",
    )
    assert search.query_terms("'; drop table articles; --") == ("drop", "table", "articles")
    assert search.query_terms("%%% ||| !!") == ()


def test_it_escapes_before_marking_matches():
    marked = search.highlight("<b>Rare</b> earths & magnets", ("rare", "magnet"))
    assert marked == "&lt;b&gt;<mark>Rare</mark>&lt;/b&gt; earths &amp; <mark>magnets</mark>"


def test_it_never_marks_inside_an_entity():
    assert search.highlight("salt & pepper", ("amp",)) == "salt &amp; pepper"


def test_a_snippet_centres_on_the_first_match():
    text = " ".join(["filler"] * 200 + ["cobalt"] + ["tail"] * 200)
    cut = search.snippet(text, ("cobalt",), width=120)
    assert "cobalt" in cut
    assert cut.startswith("… ") and cut.endswith(" …")
    assert len(cut) <= 124


# --- Through the page, on whichever database is configured ------------------------------------


@pytest.fixture
def corpus(db):
    return {
        "title": make_article(
            "Cobalt refinery opens", summary="A plant starts work.", text="Nothing else."
        ),
        "summary": make_article(
            "Plant news", summary="The new cobalt line runs.", text="Plain text."
        ),
        "text": make_article("Other news", summary="Unrelated.", text="Deep in the text: cobalt."),
        "hidden": make_article("Hidden cobalt story", is_hidden=True),
        "failed": make_article("Failed cobalt story", status=Article.Status.FAILED),
    }


def test_it_finds_visible_articles_and_highlights_the_words(client, corpus):
    response = client.get(reverse("search"), {"q": "cobalt"})
    html = response.content.decode()
    assert response.status_code == 200
    for key in ("title", "summary", "text"):
        assert reverse("article", args=[corpus[key].pk]) in html
    assert "Hidden cobalt story" not in html
    assert "Failed cobalt story" not in html
    assert "<mark>Cobalt</mark> refinery opens" in html
    assert response["X-Robots-Tag"] == "noindex"


@pytest.mark.parametrize(
    "query",
    [
        "",
        "   ",
        "%%%",
        "'; drop table articles_article; --",
        "&",
        "|",
        "!",
        "-",
        '"',
        "(((",
        "a:*",
        "<script>alert(1)</script>",
        "\x00\x01",
        "ü" * 5000,
        "cobalt " * 300,
    ],
)
def test_it_answers_odd_queries_calmly(client, corpus, query):
    response = client.get(reverse("search"), {"q": query})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script>alert" not in html
    assert "<h1" in html


def test_it_says_so_when_a_query_has_nothing_to_look_for(client, corpus):
    html = client.get(reverse("search"), {"q": "%%%"}).content.decode()
    assert "nothing to look for" in html


def test_it_tells_the_reader_a_long_query_was_shortened(client, corpus):
    html = client.get(reverse("search"), {"q": "cobalt " * 100}).content.decode()
    assert "Only the first 200 characters" in html


def test_it_says_so_when_nothing_matches(client, corpus):
    html = client.get(reverse("search"), {"q": "zirconium"}).content.decode()
    assert "No articles match that search." in html


def test_it_pages_through_results(client, db, settings):
    settings.NEWSDESK_PAGE_SIZE = 3
    for i in range(7):
        make_article(f"Yttrium update {i}")
    first = client.get(reverse("search"), {"q": "yttrium"}).content.decode()
    assert first.count('class="entry"') == 3
    assert "page=2" in first
    last = client.get(reverse("search"), {"q": "yttrium", "page": 3}).content.decode()
    assert last.count('class="entry"') == 1
    assert "Older entries" not in last
    assert client.get(reverse("search"), {"q": "yttrium", "page": 9}).status_code == 404


def test_it_shows_hostile_titles_as_text(client, db):
    make_article(HOSTILE_TITLE, summary="pwned attempt")
    html = client.get(reverse("search"), {"q": "pwned"}).content.decode()
    assert "<script>window" not in html
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert "<mark>pwned</mark> attempt" in html


# --- PostgreSQL full-text search --------------------------------------------------------------


def require_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("full-text search needs PostgreSQL: set DATABASE_URL=postgres://…")


@pytest.mark.postgres
def test_it_ranks_title_over_summary_over_text(corpus):
    require_postgres()
    results = search.search("cobalt")
    order = [hit.article.pk for hit in results.hits]
    assert order == [corpus["title"].pk, corpus["summary"].pk, corpus["text"].pk]


@pytest.mark.postgres
def test_it_understands_stems_phrases_and_exclusions(db):
    require_postgres()
    mining = make_article("Mining expands", summary="Open pit work.")
    magnets = make_article("Magnets and mines", summary="Mines supply magnet makers.")
    phrase = make_article("Rare earths outlook", summary="Rare earths demand grows.")
    found = {hit.article.pk for hit in search.search("mines").hits}
    assert {mining.pk, magnets.pk} <= found
    found = {hit.article.pk for hit in search.search("mines -magnets").hits}
    assert mining.pk in found and magnets.pk not in found
    assert [h.article.pk for h in search.search('"rare earths"').hits] == [phrase.pk]


@pytest.mark.postgres
def test_the_search_uses_the_gin_index(db):
    require_postgres()
    make_article("Indexed words")
    Article.objects.bulk_create(
        Article(
            url=f"https://filler.example/{i}",
            title=f"Filler {i}",
            published_at=timezone.now(),
            status=Article.Status.OK,
        )
        # Enough rows that an index on another column is no shortcut for a rare word.
        for i in range(3000)
    )
    with connection.cursor() as cursor:
        # Rolled-back tests leave entries in the index's pending list, which the planner
        # counts as cost; a real server's vacuum flushes it.
        cursor.execute("SELECT gin_clean_pending_list('article_search_idx')")
        cursor.execute("ANALYZE articles_article")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {search.ALL_MATCHES_SQL}", ["indexed", 10])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "article_search_idx" in plan
    assert [hit.article.title for hit in search.search("indexed").hits] == ["Indexed words"]


@pytest.mark.postgres
def test_a_common_word_ranks_only_its_newest_matches(db, monkeypatch):
    require_postgres()
    monkeypatch.setattr(search, "RANKED_CANDIDATES", 3)
    older = make_article("Zinc in the title", published_at=timezone.now() - timedelta(days=9))
    now = timezone.now()
    newer = [
        make_article(summary=f"Zinc in summary {i}.", published_at=now - timedelta(minutes=i))
        for i in range(4)
    ]
    hits = [hit.article.pk for hit in search.search("zinc").hits]
    assert older.pk not in hits
    assert hits == [a.pk for a in newer[:3]]
