"""Work over many articles after a rule change, a delete or a merge: chunked and resumable.

A job is queued → running (one chunk per task, each re-enqueuing the next) → done | failed |
superseded. The job row is the state: a chunk delivered twice finds its number taken and does
nothing; a lost message is resumed by `resume_stalled` (beat). Articles are re-tagged a few
dozen per short transaction with the matcher current at that moment, so count rows are never
locked for a whole chunk, and a job can never write results older than the rules. A newer job
over the same topic supersedes an older one at its next chunk.

Scope: a topic's rule change can only affect the articles it links now and those containing its
aliases (found through the search index); only a change without a topic (or a new model for
every topic, `whole_archive=True`) walks the whole archive.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from articles.models import Article
from tags import folding, jobchanges, linking
from tags.models import Alias, ArticleTag, RetagJob, Tag, TagDecision

log = logging.getLogger(__name__)

BATCH_SIZE = 1000
TRANSACTION_SIZE = 100
CONTINUE = "continue"


# --- Starting jobs -------------------------------------------------------------------------------


def start(
    tag: Tag | None = None, *, whole_archive: bool | None = None, run_now: bool = False
) -> RetagJob:
    """Queue a retag job and hand it to a worker (in-process mode runs it at commit).

    `tag=None` re-runs every rule over the whole archive; with a tag, only what its change can
    affect. `whole_archive=True` widens a topic's job to every article (e.g. a new model).
    """
    whole = tag is None if whole_archive is None else whole_archive
    job = RetagJob.objects.create(
        kind=RetagJob.Kind.RETAG,
        tag=tag,
        tag_name=tag.name if tag else "",
        whole_archive=whole,
        phrases=phrases_of(tag) if tag and not whole else [],
    )
    return _launch(job, run_now)


def start_delete(tag: Tag, *, run_now: bool = False) -> RetagJob:
    """Delete a topic through a job: it disappears from readers now, its links go in chunks
    (each article re-tagged so its parents' links follow), then the row itself."""
    Tag.objects.filter(pk=tag.pk).update(is_active=False)
    tag.default_for_feeds.clear()
    linking.rules_changed()
    job = RetagJob.objects.create(kind=RetagJob.Kind.DELETE, tag=tag, tag_name=tag.name)
    return _launch(job, run_now)


def start_merge(source: Tag, target: Tag, *, run_now: bool = False) -> RetagJob:
    """Move a merged topic's links to its target in chunks (tags.merging moved the rest)."""
    job = RetagJob.objects.create(
        kind=RetagJob.Kind.MERGE, tag=source, tag_name=source.name, target=target
    )
    return _launch(job, run_now)


def _launch(job: RetagJob, run_now: bool) -> RetagJob:
    job.total = scope(job).count()
    RetagJob.objects.filter(pk=job.pk).update(total=job.total)
    _supersede_older(job)
    if run_now:
        return run(job)
    from tags.tasks import run_retag_job

    transaction.on_commit(lambda: run_retag_job.delay(job.pk))
    return job


def phrases_of(tag: Tag) -> list[str]:
    return [tag.name, *Alias.objects.filter(tag=tag).values_list("phrase", flat=True)]


# --- Scope ---------------------------------------------------------------------------------------


def candidates() -> QuerySet[Article]:
    return Article.objects.filter(status=Article.Status.OK).order_by("pk")


def scope(job: RetagJob) -> QuerySet[Article]:
    """The articles the job walks, by id."""
    if job.kind in (RetagJob.Kind.DELETE, RetagJob.Kind.MERGE):
        linked = ArticleTag.objects.filter(tag_id=job.tag_id).values("article_id")
        return Article.objects.filter(pk__in=linked).order_by("pk")
    if job.whole_archive or job.tag_id is None:
        return candidates()
    phrases = [p for p in job.phrases if p.strip()] or phrases_of(job.tag)
    if connection.vendor == "postgresql":
        # A UNION reads each part through its own index; `linked OR containing` would test
        # every article's text (tens of seconds on a million articles).
        query = " || ".join(["phraseto_tsquery('english', %s)"] * len(phrases))
        sql = (
            "SELECT article_id FROM tags_articletag WHERE tag_id = %s UNION "  # noqa: S608
            f"SELECT id FROM articles_article WHERE search_document @@ ({query})"
        )
        return candidates().filter(pk__in=RawSQL(sql, [job.tag_id, *phrases]))  # noqa: S611
    linked = ArticleTag.objects.filter(tag_id=job.tag_id).values("article_id")
    return candidates().filter(Q(pk__in=linked) | _containing(phrases))


def next_ids(job: RetagJob, after: int, size: int) -> list[int]:
    """The job's next `size` article ids after `after`, in id order.

    A topic's scope is its links or the full-text matches of its phrases; one query with that
    OR cannot use either index and tests every article's text (over a second per chunk on a
    large archive). The first `size` ids of a union are among the first `size` of each part,
    so each part is read through its own index with the limit and the two are merged.
    """
    if job.kind != RetagJob.Kind.RETAG or job.whole_archive or job.tag_id is None:
        return list(scope(job).filter(pk__gt=after).values_list("pk", flat=True)[:size])
    ok = Article.Status.OK
    linked = list(
        ArticleTag.objects.filter(tag_id=job.tag_id, article_id__gt=after, article__status=ok)
        .order_by("article_id")
        .values_list("article_id", flat=True)[:size]
    )
    phrases = [p for p in job.phrases if p.strip()] or phrases_of(job.tag)
    containing = list(
        candidates().filter(_containing(phrases), pk__gt=after).values_list("pk", flat=True)[:size]
    )
    return sorted(set(linked) | set(containing))[:size]


def _containing(phrases: list[str]) -> Q:
    """Articles containing any of the phrases: the full-text index on PostgreSQL (a superset
    of what the matcher finds: stemmed, case-folded), a substring match elsewhere."""
    if connection.vendor == "postgresql":
        query = " || ".join(["phraseto_tsquery('english', %s)"] * len(phrases))
        sql = f"SELECT id FROM articles_article WHERE search_document @@ ({query})"  # noqa: S608
        return Q(pk__in=RawSQL(sql, phrases))  # noqa: S611
    found = Q(pk__in=[])
    for phrase in phrases:
        found |= Q(title__icontains=phrase) | Q(summary__icontains=phrase)
        found |= Q(text__icontains=phrase) | Q(keywords__icontains=phrase)
    return found


def _supersede_older(job: RetagJob) -> None:
    """Older unfinished jobs this one covers stop at their next chunk."""
    if job.kind != RetagJob.Kind.RETAG:
        return
    older = RetagJob.objects.filter(
        pk__lt=job.pk,
        kind=RetagJob.Kind.RETAG,
        state__in=[RetagJob.State.QUEUED, RetagJob.State.RUNNING],
    )
    if not job.whole_archive:
        older = older.filter(tag_id=job.tag_id, whole_archive=False)
    older.update(state=RetagJob.State.SUPERSEDED, finished_at=timezone.now())


# --- Running chunks ------------------------------------------------------------------------------


def run_chunk(job_id: int, chunk: int | None = None, size: int = BATCH_SIZE) -> str:
    """Do chunk number `chunk` (by default the next) of the job; returns CONTINUE, or the
    job's state when there is nothing (more) for this message to do."""
    job = RetagJob.objects.filter(pk=job_id).first()
    if job is None:
        return "gone"
    if job.is_finished:
        return job.state
    now = timezone.now()
    if job.state == RetagJob.State.QUEUED:
        RetagJob.objects.filter(pk=job.pk, state=RetagJob.State.QUEUED).update(
            state=RetagJob.State.RUNNING, started_at=now, heartbeat_at=now
        )
    # Claim the chunk by its number: a copy of this message, delivered while it runs or after,
    # finds the number taken and does nothing.
    expected = job.chunks if chunk is None else chunk
    claimed = RetagJob.objects.filter(
        pk=job.pk, state=RetagJob.State.RUNNING, chunks=expected
    ).update(chunks=expected + 1, heartbeat_at=now)
    if not claimed:
        return RetagJob.objects.values_list("state", flat=True).get(pk=job.pk)
    try:
        ids = next_ids(job, job.last_article_id, size)
        if not ids:
            return _finish(job)
        before = listed_links(ids)
        changed, taken = _do_chunk(job, ids)
        gained, lost = jobchanges.diff(before, listed_links(ids))
        changes = jobchanges.record(job.changes, gained, lost, topic_names(gained | lost))
        ids = ids[:taken]
    except Exception as exc:
        log.exception("retag job %s failed", job.pk)
        _set_state(job, RetagJob.State.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    if not ids:  # superseded before its first transaction
        return RetagJob.objects.values_list("state", flat=True).get(pk=job.pk)
    updated = RetagJob.objects.filter(pk=job.pk, state=RetagJob.State.RUNNING).update(
        done=job.done + len(ids),
        changed=job.changed + changed,
        last_article_id=ids[-1],
        heartbeat_at=timezone.now(),
        changes=changes,
    )
    if not updated:  # superseded while this chunk ran: say so, do no more
        return RetagJob.objects.values_list("state", flat=True).get(pk=job.pk)
    return CONTINUE


def listed_links(ids: list[int]) -> set[tuple[int, int]]:
    """The (article, topic) pairs readers see among these articles."""
    return set(
        ArticleTag.objects.filter(article_id__in=ids, is_visible=True).values_list(
            "article_id", "tag_id"
        )
    )


def topic_names(pairs: set[tuple[int, int]]) -> dict[int, str]:
    ids = {tag_id for _, tag_id in pairs}
    return dict(Tag.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}


def _do_chunk(job: RetagJob, ids: list[int]) -> tuple[int, int]:
    """Re-tag the chunk's articles a transaction at a time; returns (articles changed, how
    many of `ids` were done). A chunk ends early after NEWSDESK_RETAG_CHUNK_SECONDS, so it
    stays well inside the task time limits however slow the machine or the path; the next
    chunk goes on from the last article done."""
    if job.kind == RetagJob.Kind.MERGE:
        return _merge_links(job, ids), len(ids)
    changed = taken = 0
    deadline = time.monotonic() + settings.NEWSDESK_RETAG_CHUNK_SECONDS
    for start in range(0, len(ids), TRANSACTION_SIZE):
        if RetagJob.objects.filter(pk=job.pk, state=RetagJob.State.SUPERSEDED).exists():
            break
        if start and time.monotonic() > deadline:
            break
        part = ids[start : start + TRANSACTION_SIZE]
        # A few dozen articles per transaction: count rows stay locked for a moment, not for
        # a chunk, and commits stay few.
        with transaction.atomic():
            articles = list(Article.objects.filter(pk__in=part).order_by("pk"))
            if job.kind == RetagJob.Kind.DELETE:
                TagDecision.objects.filter(article_id__in=part, tag_id=job.tag_id).delete()
                ArticleTag.objects.filter(article_id__in=part, tag_id=job.tag_id).delete()
            if settings.NEWSDESK_RETAG_PER_ARTICLE:
                # The matcher current now (one cache read): never results older than the rules.
                changed += sum(linking.tag_article(article) for article in articles)
            else:
                # The same, for the whole part in a few queries (one rules check for the part).
                changed += linking.tag_articles(articles)
        taken = start + len(part)
    return changed, taken


def _merge_links(job: RetagJob, ids: list[int]) -> int:
    with transaction.atomic():
        linking.lock_tags({job.tag_id, job.target_id})
        links = ArticleTag.objects.filter(article_id__in=ids)
        taken = links.filter(tag_id=job.target_id).values("article_id")
        refused = job.target.decisions.filter(decision="remove").values("article_id")
        moved = (
            links.filter(tag_id=job.tag_id)
            .exclude(article_id__in=taken)
            .exclude(article_id__in=refused)
            .update(tag_id=job.target_id)
        )
        # What the target already had (or its editors refused) goes, counted by the signal.
        ArticleTag.objects.filter(article_id__in=ids, tag_id=job.tag_id).delete()
        # A moved link may meet its story's entry already on the target: one of them stays.
        folding.refold_articles(ids, [job.target_id])
        linking.recount([job.tag_id, job.target_id])
    return moved


def _finish(job: RetagJob) -> str:
    if job.kind == RetagJob.Kind.DELETE and job.tag_id:
        Tag.objects.filter(pk=job.tag_id).delete()
    if job.kind == RetagJob.Kind.MERGE:
        # Weak links moved over follow the target's choice to publish weak matches or not.
        if job.target is not None:
            linking.relist_weak(job.target)
        linking.recount([job.tag_id, job.target_id])
        # The target's rules now hold the merged aliases: re-run them over what they can match.
        if job.target is not None and job.target.merged_into_id is None:
            start(job.target)
    _set_state(job, RetagJob.State.DONE)
    log.info("%s done: %s articles, %s changed", job, job.done, job.changed)
    return RetagJob.State.DONE


def _set_state(job: RetagJob, state: str, error: str = "") -> None:
    now = timezone.now()
    RetagJob.objects.filter(pk=job.pk).exclude(state=RetagJob.State.SUPERSEDED).update(
        state=state, finished_at=now, heartbeat_at=now, error=error
    )
    RetagJob.objects.filter(pk=job.pk, total__lt=job.done).update(total=job.done)


def run(
    job: RetagJob, progress: Callable[[int], None] | None = None, size: int = BATCH_SIZE
) -> RetagJob:
    """Run the job's chunks here until it finishes (the shell and in-process mode)."""
    done = job.done
    while run_chunk(job.pk, size=size) == CONTINUE:
        job.refresh_from_db()
        if progress:
            progress(job.done - done)
        done = job.done
    job.refresh_from_db()
    return job


def resume_stalled(now=None) -> list[int]:
    """Jobs whose chunk message was lost (a worker killed, a broker restarted): their ids, with
    their heartbeat moved so the next look does not send them twice."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.NEWSDESK_STUCK_AFTER)
    stalled = RetagJob.objects.filter(
        state__in=[RetagJob.State.QUEUED, RetagJob.State.RUNNING]
    ).filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff))
    ids = list(stalled.values_list("pk", flat=True))
    RetagJob.objects.filter(pk__in=ids).update(heartbeat_at=now)
    return ids
