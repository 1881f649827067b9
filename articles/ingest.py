"""Ingestion verbs: poll a feed, store its entries, fetch and extract an article.

Each verb may run twice for the same input (a retried task, a killed worker, two feeds naming the
same story): unique constraints decide, and a second run finds the work done.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from articles.bounds import URL_COLUMN, within_bounds
from articles.canonical import canonical_url
from articles.extraction import Extracted, extract
from articles.feeds import FeedEntry, FeedParseError, ParsedFeed, parse_feed
from articles.fetching import HostBusyError, polite_fetch
from articles.hosts import host_of
from articles.http import FetchError, HTTPStatusError, Response
from articles.models import Article, ArticleFeed, Feed, PollLog, RawPage, Source
from articles.schedule import failure_backoff, publishing_interval
from articles.signals import article_extracted, article_failed
from articles.sources import adopt_name, source_for
from articles.textclean import clean_fields, repair_utf8

log = logging.getLogger(__name__)

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, "
    "text/xml;q=0.9, */*;q=0.5"
)
POLL_CLAIM_SECONDS = 300
MAX_ARTICLE_ATTEMPTS = 4


@dataclass
class PollResult:
    feed_id: int
    outcome: str
    http_status: int | None = None
    entries_seen: int = 0
    new_article_ids: list[int] = field(default_factory=list)
    error: str = ""


# --- Polling -------------------------------------------------------------------------------------


def poll_feed(feed: Feed, *, claimed: bool = False) -> PollResult:
    """Fetch and parse one feed, store its new entries, and schedule the next poll."""
    if not claimed and not feed.claim(POLL_CLAIM_SECONDS):
        return PollResult(feed.pk, "skipped", error="another worker is polling this feed")
    started = time.perf_counter()
    started_at = timezone.now()
    try:
        # A savepoint: a statement the database refuses rolls back this poll's writes only,
        # whether or not the caller holds a transaction.
        with transaction.atomic():
            result = _poll(feed)
    except Exception as exc:
        # Any failure is the feed's, not the run's: recorded with backoff like a fetch error,
        # so the feed is not polled again every minute and the feeds after it still are.
        log.exception("polling feed %s failed unexpectedly", feed.pk)
        reason = f"unexpected error: {type(exc).__name__}: {exc}"[:1000]
        result = _record_failure(feed, reason, None)
    finally:
        Feed.objects.filter(pk=feed.pk).update(claimed_until=None, claim_token="")
    PollLog.objects.create(
        feed=feed,
        started_at=started_at,
        duration_ms=int((time.perf_counter() - started) * 1000),
        http_status=result.http_status,
        outcome=result.outcome,
        entries_seen=result.entries_seen,
        entries_new=len(result.new_article_ids),
        error=result.error,
    )
    return result


def _poll(feed: Feed) -> PollResult:
    try:
        response = polite_fetch(
            feed.url,
            etag=feed.etag or None,
            last_modified=feed.last_modified or None,
            accept=FEED_ACCEPT,
        )
    except HostBusyError as exc:
        return _defer_poll(feed, exc)
    except FetchError as exc:
        return _record_failure(
            feed,
            exc.reason,
            exc.status,
            permanent=_is_gone(exc),
            retry_after=getattr(exc, "retry_after", None),
        )
    if response.status == 304:
        _record_success(feed, response, None)
        return PollResult(feed.pk, Feed.Status.NOT_MODIFIED, 304)
    try:
        parsed = parse_feed(
            response.body,
            url=response.url,
            content_type=response.content_type,
            charset=response.charset,
        )
    except FeedParseError as exc:
        return _record_failure(feed, exc.reason, response.status)
    parsed = within_bounds(parsed)
    new_ids, deferred = store_entries_capped(feed, parsed)
    if deferred:
        parsed = _with_deferral(parsed, len(new_ids), deferred)
    _record_success(feed, response, parsed, len(new_ids), deferred=deferred)
    return PollResult(
        feed.pk, Feed.Status.OK, response.status, len(parsed.entries), new_ids, parsed.warning
    )


def _defer_poll(feed: Feed, busy: HostBusyError) -> PollResult:
    """The host is busy (politeness, or a Retry-After another feed of it received): not the
    feed's failure. It is polled again when the host is free, its failure count untouched."""
    next_poll_at = timezone.now() + timedelta(seconds=max(busy.retry_after or 0, 1.0))
    Feed.objects.filter(pk=feed.pk).update(next_poll_at=next_poll_at)
    feed.next_poll_at = next_poll_at
    return PollResult(feed.pk, "skipped", error=f"deferred: {busy.reason}")


def _is_gone(exc: FetchError) -> bool:
    return isinstance(exc, HTTPStatusError) and exc.status == 410


def _with_deferral(parsed: ParsedFeed, taken: int, deferred: int) -> ParsedFeed:
    note = (
        f"took the newest {taken} of {taken + deferred} new entries "
        f"(NEWSDESK_MAX_NEW_ENTRIES_PER_POLL); the rest on the next poll"
    )
    return replace(parsed, warning="; ".join(w for w in (parsed.warning, note) if w))


def _record_success(
    feed: Feed,
    response: Response,
    parsed: ParsedFeed | None,
    new_count: int = 0,
    *,
    deferred: int = 0,
) -> None:
    """A 200 (with its parsed feed) or a 304 (parsed is None): schedule the next poll."""
    now = timezone.now()
    low, high = settings.NEWSDESK_POLL_MIN_INTERVAL, settings.NEWSDESK_POLL_MAX_INTERVAL
    status = Feed.Status.OK if parsed is not None else Feed.Status.NOT_MODIFIED
    if parsed is not None:
        published = [entry.published for entry in parsed.entries]
        interval = publishing_interval(feed.poll_interval, published, new_count, low, high)
    else:
        interval = min(high, max(low, feed.poll_interval))
    changes = {
        "last_polled_at": now,
        "last_success_at": now,
        "next_poll_at": now + timedelta(seconds=interval),
        "poll_interval": interval,
        "consecutive_failures": 0,
        "last_status": status,
        "last_http_status": response.status,
        "last_error": parsed.warning if parsed else "",
        "etag": response.headers.get("etag", "")[:500] or feed.etag,
        "last_modified": response.headers.get("last-modified", "")[:100] or feed.last_modified,
    }
    if deferred:
        # Entries are waiting: poll again soon, and unconditionally (a 304 would hide them).
        changes.update(next_poll_at=now + timedelta(seconds=low), etag="", last_modified="")
    if parsed is not None:
        changes["title"] = feed.title or parsed.title[:500]
        changes["site_url"] = feed.site_url or parsed.site_url[:2000]
        adopt_name(feed.source_id, parsed.title, Source.NameOrigin.FEED)
    if (
        response.permanent_redirect
        and not Feed.objects.filter(url=response.permanent_redirect).exists()
    ):
        changes["url"] = response.permanent_redirect
        log.info("feed %s moved permanently to %s", feed.url, response.permanent_redirect)
    Feed.objects.filter(pk=feed.pk).update(**changes)
    for name, value in changes.items():
        setattr(feed, name, value)


def _record_failure(
    feed: Feed,
    reason: str,
    http_status: int | None,
    *,
    permanent: bool = False,
    retry_after: float | None = None,
) -> PollResult:
    now = timezone.now()
    # From the row, not the object: the object may have been read before an earlier poll.
    failures = (
        Feed.objects.filter(pk=feed.pk).values_list("consecutive_failures", flat=True).first() or 0
    ) + 1
    changes: dict[str, object] = {
        "last_polled_at": now,
        "consecutive_failures": failures,
        "last_status": Feed.Status.ERROR,
        "last_http_status": http_status,
        "last_error": reason,
        "next_poll_at": now
        + timedelta(
            seconds=failure_backoff(
                failures, settings.NEWSDESK_POLL_MIN_INTERVAL, settings.NEWSDESK_POLL_MAX_INTERVAL
            )
        ),
    }
    if retry_after:
        # The server said when to come back (capped by NEWSDESK_MAX_RETRY_AFTER): not before.
        wait = min(retry_after, settings.NEWSDESK_MAX_RETRY_AFTER)
        changes["next_poll_at"] = max(changes["next_poll_at"], now + timedelta(seconds=wait))
    if permanent or failures >= settings.NEWSDESK_MAX_FEED_FAILURES:
        why = (
            "the server says the feed is gone for good (HTTP 410)"
            if permanent
            else f"{failures} polls failed in a row; the last said: {reason}"
        )
        changes.update(is_active=False, last_status=Feed.Status.DISABLED, disabled_reason=why)
        log.warning("feed %s disabled: %s", feed.url, why)
    Feed.objects.filter(pk=feed.pk).update(**changes)
    for name, value in changes.items():
        setattr(feed, name, value)
    return PollResult(feed.pk, str(changes["last_status"]), http_status, error=reason)


def store_entries(feed: Feed, parsed: ParsedFeed) -> list[int]:
    """Create an article for each entry not seen before; returns the new articles' ids."""
    return store_entries_capped(feed, parsed)[0]


def store_entries_capped(feed: Feed, parsed: ParsedFeed) -> tuple[list[int], int]:
    """(new article ids, new entries left for the next poll).

    At most NEWSDESK_MAX_NEW_ENTRIES_PER_POLL new entries are taken, newest first (undated ones
    after the dated, in feed order), so one huge feed cannot flood the fetch queue; the rest
    are still unknown GUIDs and are taken by the next polls.

    A handful of statements per poll, not per entry. Unique keys settle every race: an article
    another worker stored meanwhile is linked, not created twice; an entry whose GUID this feed
    already holds under another URL (an edited link) is skipped.
    """
    with_links = [e for e in parsed.entries if e.link]
    known = set(
        ArticleFeed.objects.filter(feed=feed, guid__in=[e.guid for e in with_links]).values_list(
            "guid", flat=True
        )
    )
    by_url: dict[str, FeedEntry] = {}
    for entry in with_links:
        if entry.guid not in known:
            by_url.setdefault(canonical_url(entry.link), entry)
    by_url, deferred = _newest(by_url, settings.NEWSDESK_MAX_NEW_ENTRIES_PER_POLL)
    if not by_url:
        return [], deferred
    sources: dict[str, Source] = {}
    with transaction.atomic():
        existing = set(Article.objects.filter(url__in=by_url).values_list("url", flat=True))
        Article.objects.bulk_create(
            [
                _new_article(feed, url, entry, sources)
                for url, entry in by_url.items()
                if url not in existing
            ],
            ignore_conflicts=True,
        )
        ids = dict(Article.objects.filter(url__in=by_url).values_list("url", "pk"))
        ArticleFeed.objects.bulk_create(
            [_feed_entry(feed, ids[url], entry) for url, entry in by_url.items()],
            ignore_conflicts=True,
        )
    return [pk for url, pk in ids.items() if url not in existing], deferred


def _newest(by_url: dict[str, FeedEntry], limit: int) -> tuple[dict[str, FeedEntry], int]:
    if limit <= 0 or len(by_url) <= limit:
        return by_url, 0
    oldest = datetime.min.replace(tzinfo=UTC)
    ranked = sorted(by_url.items(), key=lambda item: item[1].published or oldest, reverse=True)
    return dict(ranked[:limit]), len(by_url) - limit


def _new_article(feed: Feed, url: str, entry: FeedEntry, sources: dict[str, Source]) -> Article:
    host = urlsplit(url).hostname or ""
    if feed.source_id is None and host not in sources:
        sources[host] = source_for(url)
    return Article(
        url=url,
        fetch_host=host_of(url)[:260],
        guid=entry.guid[:2000],
        title=entry.title[:500],
        author=entry.author[:300],
        published_at=entry.published or timezone.now(),
        source_id=feed.source_id or sources[host].pk,
    )


def _feed_entry(feed: Feed, article_id: int, entry: FeedEntry) -> ArticleFeed:
    return ArticleFeed(
        feed=feed,
        article_id=article_id,
        guid=entry.guid[:2000],
        entry_title=entry.title[:500],
        entry_summary=entry.summary,
        entry_published=entry.published,
        categories=list(entry.categories),
    )


# --- Fetching and extracting articles ------------------------------------------------------------


class ArticleFetchError(Exception):
    """A transient failure fetching an article: the caller may retry after `retry_after`."""

    def __init__(self, reason: str, retry_after: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class HostWait(Exception):
    """The host's turn has not come: wait `wait` seconds. Not a failure and not an attempt."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"waiting {wait:.1f}s for the host's turn")
        self.wait = wait


# Fields the machine owns on an article. Editors own title (once they wrote it), editor_summary
# and is_hidden: extraction writes only these, so an edit made during a fetch survives.
MACHINE_FIELDS = [
    "fetched_at",
    "author",
    "site_name",
    "text",
    "blocks",
    "extraction_path",
    "extraction_signals",
    "language",
    "word_count",
    "image_url",
    "categories",
    "keywords",
    "content_hash",
    "published_at",
    "summary",
    "summary_source",
    "error",
    "status",
    "duplicate_of",
    "url",
    "updated_at",
]
UNFINISHED = (Article.Status.PENDING, Article.Status.FETCHED)


def fetch_article(
    article: Article, *, max_wait: float = 30.0, final_attempt: bool = True, claim: str = ""
) -> Article:
    """Move an article on: pending → fetched (page stored) → extracted | failed → announced.

    Run again on an article whose work is done, it does nothing; on a fetched one it extracts
    from the stored page without fetching again; on an extracted, untagged one it announces
    it. A transient failure raises ArticleFetchError
    unless this is the final attempt, in which case (like a permanent failure) it is recorded.
    """
    if article.status == Article.Status.FETCHED:
        return reextract(article)
    if article.status == Article.Status.OK and article.tagged_at is None:
        # Extracted, but the listeners failed (the database went away while tagging): a
        # retried message finishes the step instead of leaving it to the sweep.
        announce(article)
        return article
    if article.status != Article.Status.PENDING:
        return article
    if article.fetch_attempts >= MAX_ARTICLE_ATTEMPTS + 2:
        # Each delivery counts before it fetches: a page that kills its worker every time
        # (memory, a crash in a parser) is given up on instead of being retried forever.
        return _mark_failed(article, f"gave up after {article.fetch_attempts} attempts")
    if not claim_fetch(article, claim or uuid.uuid4().hex):
        return article  # another worker is fetching it now, or it has moved on
    article.fetch_attempts += 1
    try:
        response = polite_fetch(
            article.url,
            accept="text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
            check_robots=True,
            max_wait=max_wait,
        )
    except HostBusyError as exc:
        Article.objects.filter(pk=article.pk).update(
            fetch_attempts=F("fetch_attempts") - 1, fetch_claimed_until=None
        )
        article.fetch_attempts -= 1
        raise HostWait(exc.retry_after) from exc
    except FetchError as exc:
        retryable = exc.retryable and article.fetch_attempts < MAX_ARTICLE_ATTEMPTS
        if retryable and not final_attempt:
            Article.objects.filter(pk=article.pk).update(fetch_claimed_until=None)
            raise ArticleFetchError(exc.reason, getattr(exc, "retry_after", None) or 60) from exc
        return _mark_failed(article, f"fetch failed: {exc.reason}")
    if len(response.url) > URL_COLUMN:
        return _mark_failed(
            article, f"fetch failed: redirected to a URL over {URL_COLUMN} characters long"
        )
    store_page(article, response)
    return extract_article(article, response.body, response.url, response.charset)


def claim_fetch(article: Article, claim: str) -> bool:
    """Take the article's fetch: one conditional UPDATE, so of two workers given it at once
    only one fetches. The claim lasts a fetch's longest time plus a margin, and the message
    that holds it (`claim`, its task id) may take it again when retried after an error that
    left it held (the database went away). It counts the attempt and marks the article queued
    (the sweep leaves it alone meanwhile)."""
    now = timezone.now()
    return (
        Article.objects.filter(pk=article.pk, status=Article.Status.PENDING)
        .filter(
            Q(fetch_claimed_until__isnull=True)
            | Q(fetch_claimed_until__lt=now)
            | Q(fetch_claim=claim)
        )
        .update(
            fetch_attempts=F("fetch_attempts") + 1,
            queued_at=now,
            fetch_claimed_until=now + timedelta(seconds=settings.NEWSDESK_FETCH_CLAIM),
            fetch_claim=claim,
        )
        == 1
    )


def store_page(article: Article, response: Response) -> None:
    """Keep the page and move the article to fetched, together: a worker lost after this
    extracts from the stored page instead of fetching again."""
    now = timezone.now()
    page = RawPage(
        article=article,
        url=response.url,
        fetched_at=now,
        http_status=response.status,
        content_type=(response.content_type or "")[:200],
        charset=(response.charset or "")[:50],
        size=len(response.body),
        body=RawPage.compress(response.body),
    )
    with transaction.atomic():
        # One statement whether or not an earlier attempt stored the page already.
        RawPage.objects.bulk_create(
            [page],
            update_conflicts=True,
            unique_fields=["article"],
            update_fields=[
                "url",
                "fetched_at",
                "http_status",
                "content_type",
                "charset",
                "size",
                "body",
            ],
        )
        Article.objects.filter(pk=article.pk, status=Article.Status.PENDING).update(
            status=Article.Status.FETCHED, fetched_at=now, queued_at=now, fetch_claimed_until=None
        )
    article.status, article.fetched_at = Article.Status.FETCHED, now


def extract_article(
    article: Article, body: bytes, page_url: str, charset: str | None = None
) -> Article:
    """Run the extraction step over a page's bytes, store what it found, then announce it."""
    entry = article.feed_entries.order_by("first_seen_at").first()
    body, _ = repair_utf8(body, charset)
    result = extract(
        body,
        page_url,
        http_charset=charset,
        feed_summary=entry.entry_summary if entry else "",
        feed_title=entry.entry_title if entry else article.title,
        feed_published=entry.entry_published if entry else None,
    )
    # The page is hostile input too: no NUL, controls or bidi overrides reach the database.
    _apply_extraction(article, _bounded(clean_fields(result)))
    announce(article)
    return article


def _bounded(result: Extracted) -> Extracted:
    # A declared canonical URL too long for Article.url is ignored, not stored cut.
    return replace(result, url="") if len(result.url) > URL_COLUMN else result


def announce(article: Article) -> None:
    """Tell the listeners (tagging) that the article's extraction is stored."""
    article_extracted.send(sender=Article, article=article)


def _apply_extraction(article: Article, result: Extracted) -> None:
    with transaction.atomic():
        # The editor's fields as they are now, not as they were before a fetch of up to 30 s.
        owned = (
            Article.objects.select_for_update()
            .filter(pk=article.pk)
            .values("title", "title_by_editor", "editor_summary", "is_hidden")
            .get()
        )
        for name, value in owned.items():
            setattr(article, name, value)
        _fill_from_extraction(article, result)
        fields = list(MACHINE_FIELDS)
        if not article.title_by_editor:
            fields.append("title")
        article.save(update_fields=fields)


def _fill_from_extraction(article: Article, result: Extracted) -> None:
    article.fetched_at = timezone.now()
    if not article.title_by_editor:
        article.title = (result.title or article.title)[:500]
    article.author = (result.author or article.author)[:300]
    article.site_name = result.site_name[:200]
    adopt_name(article.source_id, result.site_name, Source.NameOrigin.PAGE)
    article.text = result.text
    article.language = result.language[:8]
    article.word_count = result.word_count
    article.image_url = (
        result.image[:2000] if result.image.startswith(("http://", "https://")) else ""
    )
    article.categories = list(result.categories)
    article.keywords = list(result.keywords)
    article.content_hash = result.content_hash
    article.published_at = result.published or article.published_at or article.first_seen_at
    if article.editor_summary:
        article.summary, article.summary_source = (
            article.editor_summary,
            Article.SummarySource.EDITOR,
        )
    else:
        article.summary, article.summary_source = result.summary, result.summary_source
    article.error = result.error
    article.status = Article.Status.FAILED if result.error else Article.Status.OK
    article.duplicate_of = None
    if not result.error:
        article.duplicate_of = _original_of(article)
        if article.duplicate_of is not None:
            article.status = Article.Status.DUPLICATE
            article.text = ""
    if result.url and result.url != article.url:
        _adopt_canonical(article, result.url)
    article.blocks = list(result.blocks) if article.text else []
    article.extraction_path = result.path
    article.extraction_signals = result.signals or {}


def _original_of(article: Article) -> Article | None:
    if not article.content_hash:
        return None
    return (
        Article.objects.filter(content_hash=article.content_hash, duplicate_of__isnull=True)
        .exclude(pk=article.pk)
        .exclude(status=Article.Status.FAILED)
        .order_by("pk")
        .first()
    )


def _adopt_canonical(article: Article, declared: str) -> None:
    """The page names its own canonical URL: use it, unless another article already has it."""
    other = Article.objects.filter(url=declared).exclude(pk=article.pk).first()
    if other is None:
        article.url = declared
    elif article.duplicate_of is None:
        article.duplicate_of = other
        article.status = Article.Status.DUPLICATE
        article.text = ""


def _mark_failed(article: Article, error: str) -> Article:
    article.status = Article.Status.FAILED
    article.error = error[:2000]
    article.fetched_at = timezone.now()
    article.save(update_fields=["status", "error", "fetched_at", "updated_at"])
    article_failed.send(sender=Article, article=article)
    return article


def reextract(article: Article) -> Article:
    """Extract again from the stored HTML, without fetching."""
    raw = RawPage.objects.filter(article=article).first()
    if raw is None:
        raise LookupError(f"article {article.pk} has no stored HTML; fetch it again instead")
    return extract_article(article, raw.html(), raw.url, raw.charset or None)


# --- Housekeeping --------------------------------------------------------------------------------


def prune(now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    raw_cutoff = now - timedelta(days=settings.NEWSDESK_RAW_HTML_RETENTION_DAYS)
    log_cutoff = now - timedelta(days=settings.NEWSDESK_POLL_LOG_RETENTION_DAYS)
    raw, _ = RawPage.objects.filter(fetched_at__lt=raw_cutoff).delete()
    polls, _ = PollLog.objects.filter(started_at__lt=log_cutoff).delete()
    return {"raw_pages": raw, "poll_logs": polls}


# --- Running ingestion in this process -----------------------------------------------------------


@dataclass
class IngestReport:
    ok: int = 0
    not_modified: int = 0
    failed: int = 0
    skipped: int = 0
    new_articles: int = 0
    extracted: int = 0
    article_errors: list[str] = field(default_factory=list)
    feed_errors: list[str] = field(default_factory=list)

    def add_poll(self, feed: Feed, result: PollResult) -> None:
        if result.outcome == Feed.Status.OK:
            self.ok += 1
        elif result.outcome == Feed.Status.NOT_MODIFIED:
            self.not_modified += 1
        elif result.outcome == "skipped":
            self.skipped += 1
        else:
            self.failed += 1
            self.feed_errors.append(f"{feed.url}: {result.error}")
        self.new_articles += len(result.new_article_ids)

    def add_article(self, article: Article) -> None:
        if article.status == Article.Status.FAILED:
            self.article_errors.append(f"{article.url}: {article.error}")
        else:
            self.extracted += 1


def ingest_feeds(feeds, *, on_feed=None, on_article=None, fetch_articles=True) -> IngestReport:
    """Poll each feed and fetch its new articles, here and now (no broker needed).

    Nothing one feed or one article does stops the run: each failure is recorded on its row.
    """
    report = IngestReport()
    for feed in feeds:
        result = poll_feed(feed)
        report.add_poll(feed, result)
        if on_feed:
            on_feed(feed, result)
        if not fetch_articles:
            continue
        for article in Article.objects.filter(pk__in=result.new_article_ids):
            report.add_article(fetch_safely(article))
            if on_article:
                on_article(article)
    return report


def fetch_safely(article: Article, **kwargs) -> Article:
    """fetch_article, with any unexpected error recorded on the article instead of raised."""
    try:
        with transaction.atomic():
            return fetch_article(article, **kwargs)
    except Exception as exc:
        log.exception("fetching article %s failed unexpectedly", article.pk)
        article.refresh_from_db()
        return _mark_failed(article, f"unexpected error: {type(exc).__name__}: {exc}")
