"""Search over visible articles: full-text on PostgreSQL, a plain substring match on SQLite.

The query is hostile input. It is trimmed and capped before it reaches the database, parsed by
`websearch_to_tsquery` (which never raises on odd syntax), and highlighting escapes the text
first and adds only our own <mark> tags.

On PostgreSQL the newest RANKED_CANDIDATES matches are found first, by the newest articles for
a common word or by the GIN index for a rarer one; only those are ranked, title over summary
over text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from articles.models import Article

MAX_QUERY_CHARS = 200
MAX_TERMS = 8
# Text beyond this is not indexed: keeps every tsvector far below PostgreSQL's 1 MB limit,
# so one huge page can never make an insert fail. Migration 0004 stores the same expression.
INDEXED_TEXT_CHARS = 100_000
SNIPPET_CHARS = 280
# Ranking reads each candidate's stored vector, so it is bounded: only the newest matches are
# ranked. A rare word ranks all its matches; a word in a fifth of the archive ranks its newest
# RANKED_CANDIDATES, and results end there (five pages), which is what readers of news page
# through. Ranking all 200,000 matches of a common word would cost seconds.
RANKED_CANDIDATES = 100
RECENT_WINDOW = 2000
MATCH_WINDOW = 50_000
DOCUMENT_COLUMN = "search_document"
WEBSEARCH_WORDS = {"or", "and", "not"}
_TERM_RE = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Hit:
    article: Article
    title: SafeString
    excerpt: SafeString


@dataclass(frozen=True)
class Results:
    query: str
    terms: tuple[str, ...]
    hits: tuple[Hit, ...]
    page: int
    has_next: bool
    message: str = ""
    # How many articles match; when `total_is_exact` is False there are more than `total` and
    # only the newest `total` are ranked (RANKED_CANDIDATES).
    total: int = 0
    total_is_exact: bool = True


def clean_query(raw: str) -> str:
    """Printable text only, whitespace collapsed, capped at MAX_QUERY_CHARS."""
    text = "".join(
        " " if unicodedata.category(ch)[0] in "CZ" else ch for ch in raw[: MAX_QUERY_CHARS * 4]
    )
    return " ".join(text.split())[:MAX_QUERY_CHARS].strip()


def query_terms(query: str) -> tuple[str, ...]:
    """The words worth highlighting and matching: no operators, no one-letter noise."""
    terms: list[str] = []
    for word in _TERM_RE.findall(query.casefold()):
        if len(word) < 2 or word in WEBSEARCH_WORDS or word in terms:
            continue
        terms.append(word)
    return tuple(terms[:MAX_TERMS])


def _stem(term: str) -> str:
    """The term without an English plural ending, so "earths" also marks "Earth".

    The database matches stems (english text search), so a result for "rare earths" may say
    "rare-earth"; highlighting by prefix of the bare stem marks it too.
    """
    if len(term) > 4 and term.endswith("ies"):
        return term[:-3]
    if len(term) > 3 and term.endswith("s") and not term.endswith("ss"):
        return term[:-1]
    return term


def _terms_pattern(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    if not terms:
        return None
    # Longest first so "rare earths" marks "earths", not only "earth"; prefix match covers plurals.
    stems = {_stem(t) for t in terms}
    alternatives = "|".join(re.escape(t) for t in sorted(stems, key=len, reverse=True))
    # A run of matched words joined by hyphens (including U+2011, the non-breaking one) is one
    # mark: "Rare\u2011Earth" is highlighted whole, not as two halves around a bare hyphen.
    word = rf"\b(?:{alternatives})\w*"
    return re.compile(rf"{word}(?:[-\u2010\u2011]{word})*", re.IGNORECASE | re.UNICODE)


def highlight(text: str, terms: tuple[str, ...]) -> SafeString:
    """Escape `text` piece by piece and wrap each matched word in <mark>."""
    pattern = _terms_pattern(terms)
    if pattern is None:
        return escape(text)
    pieces: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        pieces.append(escape(text[last : match.start()]))
        pieces.append(f"<mark>{escape(match.group(0))}</mark>")
        last = match.end()
    pieces.append(escape(text[last:]))
    return mark_safe("".join(pieces))  # noqa: S308 - every piece of fetched text is escaped above


def snippet(text: str, terms: tuple[str, ...], width: int = SNIPPET_CHARS) -> str:
    """A window of `text` around the first matched word, cut at word boundaries."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    pattern = _terms_pattern(terms)
    match = pattern.search(text) if pattern else None
    start = 0 if match is None else max(0, match.start() - width // 3)
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < match.start() else start
    end = min(len(text), start + width)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    return ("… " if start else "") + text[start:end] + (" …" if end < len(text) else "")


def excerpt_for(article: Article, terms: tuple[str, ...]) -> SafeString:
    """The summary when it holds a match, else the part of the text that does."""
    summary = article.editor_summary or article.summary
    pattern = _terms_pattern(terms)
    if summary and (pattern is None or pattern.search(summary)):
        return highlight(snippet(summary, terms), terms)
    if article.text and pattern is not None and pattern.search(article.text):
        return highlight(snippet(article.text, terms), terms)
    return highlight(snippet(summary or article.text, terms), terms)


# A common word: its newest matches are among the newest articles, so read those newest first
# and test each stored vector. The LIMIT inside bounds the work whatever the word.
RECENT_MATCHES_SQL = """
SELECT id FROM (
    SELECT id, search_document FROM articles_article
    WHERE NOT is_hidden AND status = 'ok' AND duplicate_of_id IS NULL
    ORDER BY published_at DESC, id DESC LIMIT %s
) AS recent
WHERE search_document @@ websearch_to_tsquery('english', %s) LIMIT %s
"""
# A rarer word: its matches among the newest articles, from the GIN index ANDed with a date
# range of the listing index, so only those rows are read; then, if still too few, all of its
# matches. OFFSET 0 keeps the planner from walking the date index and testing every row.
_MATCHES_SQL = """
SELECT id FROM (
    SELECT id, published_at FROM articles_article
    WHERE search_document @@ websearch_to_tsquery('english', %s){window}
      AND NOT is_hidden AND status = 'ok' AND duplicate_of_id IS NULL
    OFFSET 0
) AS found
ORDER BY published_at DESC, id DESC LIMIT %s
"""
WINDOW_MATCHES_SQL = _MATCHES_SQL.format(
    window=" AND published_at >= (SELECT published_at FROM articles_article"
    " ORDER BY published_at DESC, id DESC OFFSET %s LIMIT 1)"
)
ALL_MATCHES_SQL = _MATCHES_SQL.format(window="")


def newest_match_ids(query: str) -> list[int]:
    """The ids of the newest RANKED_CANDIDATES visible matches, each read bounded."""
    wanted = RANKED_CANDIDATES
    steps = [
        (RECENT_MATCHES_SQL, [RECENT_WINDOW, query, wanted]),
        (WINDOW_MATCHES_SQL, [query, MATCH_WINDOW, wanted]),
        (ALL_MATCHES_SQL, [query, wanted]),
    ]
    with connection.cursor() as cursor:
        for statement, params in steps:
            cursor.execute(statement, params)
            ids = [pk for (pk,) in cursor.fetchall()]
            if len(ids) >= wanted:
                break
    return ids


def _postgres_matches(query: str, ids: list[int]) -> QuerySet[Article]:
    from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVectorField

    # Migration 0004 stores each article's weighted vector in this column (not a model field).
    document = RawSQL(DOCUMENT_COLUMN, [], output_field=SearchVectorField())  # noqa: S611
    search_query = SearchQuery(query, search_type="websearch", config="english")
    return (
        Article.objects.filter(pk__in=ids)
        .annotate(rank=SearchRank(document, search_query))
        .order_by("-rank", "-published_at", "-id")
    )


def _substring_matches(terms: tuple[str, ...]) -> QuerySet[Article]:
    matches = Article.objects.visible()
    for term in terms:
        matches = matches.filter(
            Q(title__icontains=term) | Q(summary__icontains=term) | Q(text__icontains=term)
        )
    return matches.order_by("-published_at", "-id")


def matching_articles(query: str, terms: tuple[str, ...]) -> tuple[QuerySet[Article], int, bool]:
    """The matches in result order, how many there are, and whether that count is exact."""
    if settings.USING_POSTGRES:
        ids = newest_match_ids(query)
        return _postgres_matches(query, ids), len(ids), len(ids) < RANKED_CANDIDATES
    matches = _substring_matches(terms)
    return matches, matches.count(), True


def search(raw: str, page: int = 1, size: int | None = None) -> Results:
    """One page of results; fetches one row more than the page to know whether more follow."""
    size = size or settings.NEWSDESK_PAGE_SIZE
    query = clean_query(raw)
    terms = query_terms(query)
    if not query:
        return Results(query="", terms=(), hits=(), page=1, has_next=False)
    if not terms:
        message = "Try a word or two: that search has nothing to look for."
        return Results(query=query, terms=(), hits=(), page=1, has_next=False, message=message)
    offset = (page - 1) * size
    matches, total, exact = matching_articles(query, terms)
    rows = list(matches.select_related("source")[offset : offset + size + 1])
    hits = tuple(
        Hit(article=a, title=highlight(a.title or a.url, terms), excerpt=excerpt_for(a, terms))
        for a in rows[:size]
    )
    message = "" if hits else "No articles match that search."
    return Results(
        query=query,
        terms=terms,
        hits=hits,
        page=page,
        has_next=len(rows) > size,
        message=message,
        total=total,
        total_is_exact=exact,
    )
