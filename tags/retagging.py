"""Work over many articles after a rule change, a delete or a merge: chunked and resumable.

A job is queued → running (one chunk per task, each re-enqueuing the next) → done | failed |
superseded, moved on by `newsdesk.jobs`. The job row is the state: a chunk delivered twice
finds its number taken and does nothing; a lost message is resumed by `resume_stalled` (beat).
Articles are re-tagged a few dozen per short transaction with the matcher current at that
moment, so count rows are never locked for a whole chunk, and a job can never write results
older than the rules. A newer job over the same topic supersedes an older one at its next chunk.

Scope: a topic's rule change can only affect the articles it links now and those containing its
aliases (found through the search index); only a change without a topic (or a new model for
every topic, `whole_archive=True`) walks the whole archive. Starting a job only queues it (the
admin's request does no counting); its first chunk takes the scope once into `RetagScope` rows
(`scope_ids`: one bitmap scan of the full-text index, never a walk of the primary key testing
every article's text) and every chunk walks those ids. And a topic's rule change rewrites only
that topic's and its ancestors' links (`affected_topics`): no other link depends on its rules.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from articles.models import Article
from newsdesk import jobs
from tags import folding, jobchanges, linking
from tags.models import Alias, ArticleTag, RetagJob, RetagScope, Tag, TagDecision

log = logging.getLogger(__name__)

BATCH_SIZE = 1000
TRANSACTION_SIZE = 100
CONTINUE = jobs.CONTINUE
# Article ids per RetagScope row.
SCOPE_ROW = 1000


# --- Starting jobs -------------------------------------------------------------------------------


def start(
    tag: Tag | None = None,
    *,
    whole_archive: bool | None = None,
    run_now: bool = False,
    also: Collection[int] = (),
) -> RetagJob:
    """Queue a retag job and hand it to a worker (in-process mode runs it at commit).

    `tag=None` re-runs every rule over the whole archive; with a tag, only what its change can
    affect: that topic's links and its ancestors' (and those of `also`, e.g. the ancestors it
    had before its parent changed). `whole_archive=True` widens a topic's job to every article
    (e.g. a new model), still rewriting only those topics' links.
    """
    whole = tag is None if whole_archive is None else whole_archive
    job = RetagJob.objects.create(
        kind=RetagJob.Kind.RETAG,
        tag=tag,
        tag_name=tag.name if tag else "",
        whole_archive=whole,
        phrases=phrases_of(tag) if tag and not whole else [],
        topics=affected_topics(tag, also) if tag else [],
    )
    return _launch(job, run_now)


def start_delete(tag: Tag, *, run_now: bool = False) -> RetagJob:
    """Delete a topic through a job: it disappears from readers now, its links go in chunks
    (each article re-tagged so its parents' links follow), then the row itself."""
    Tag.objects.filter(pk=tag.pk).update(is_active=False)
    tag.default_for_feeds.clear()
    linking.rules_changed()
    job = RetagJob.objects.create(
        kind=RetagJob.Kind.DELETE,
        tag=tag,
        tag_name=tag.name,
        topics=affected_topics(tag),  # its links go; its ancestors' parent links follow
    )
    return _launch(job, run_now)


def start_merge(source: Tag, target: Tag, *, run_now: bool = False) -> RetagJob:
    """Move a merged topic's links to its target in chunks (tags.merging moved the rest)."""
    job = RetagJob.objects.create(
        kind=RetagJob.Kind.MERGE, tag=source, tag_name=source.name, target=target
    )
    return _launch(job, run_now)


def _launch(job: RetagJob, run_now: bool) -> RetagJob:
    # No counting here (this is the admin's request): the worker takes the scope.
    _supersede_older(job)
    if run_now:
        return run(job)
    from tags.tasks import run_retag_job

    transaction.on_commit(lambda: run_retag_job.delay(job.pk))
    return job


def phrases_of(tag: Tag) -> list[str]:
    return [tag.name, *Alias.objects.filter(tag=tag).values_list("phrase", flat=True)]


def ancestors_of(tag_id: int | None) -> list[int]:
    """The topic's parent, its parent's parent, and so on (archived topics included)."""
    parents = dict(Tag.objects.values_list("pk", "parent_id"))
    chain: list[int] = []
    parent = parents.get(tag_id)
    while parent is not None and parent not in chain and parent != tag_id:
        chain.append(parent)
        parent = parents.get(parent)
    return chain


def affected_topics(tag: Tag, also: Collection[int] = ()) -> list[int]:
    """The topics whose links a change to `tag`'s rules can change: `tag` (its own match,
    or a parent link from below) and its ancestors (the parent links it gives them). A
    topic's matches never depend on another topic's rules, and parent links only go up."""
    return sorted({tag.pk, *ancestors_of(tag.pk), *also})


# --- Scope ---------------------------------------------------------------------------------------


def candidates() -> QuerySet[Article]:
    return Article.objects.filter(status=Article.Status.OK).order_by("pk")


def scope(job: RetagJob) -> QuerySet[Article]:
    """The articles the job walks, as a query (the worker takes them once, by `scope_ids`)."""
    if job.kind in (RetagJob.Kind.DELETE, RetagJob.Kind.MERGE):
        linked = ArticleTag.objects.filter(tag_id=job.tag_id).values("article_id")
        return Article.objects.filter(pk__in=linked).order_by("pk")
    if job.whole_archive or job.tag_id is None:
        return candidates()
    linked = ArticleTag.objects.filter(tag_id=job.tag_id).values("article_id")
    return candidates().filter(Q(pk__in=linked) | _containing(_phrases(job)))


def _phrases(job: RetagJob) -> list[str]:
    phrases = [p for p in job.phrases if p.strip()] or phrases_of(job.tag)
    return sorted({p.strip().lower() for p in phrases})


def take_scope(job: RetagJob) -> bool:
    """Snapshot the job's article ids, once, into RetagScope rows and set `total`. False when
    the job is no longer queued or running (superseded meanwhile): nothing is written."""
    if job.scope_taken:
        return True
    started = time.perf_counter()
    ids = scope_ids(job)
    with transaction.atomic():
        # A copy of this chunk, or a try a crash cut short, may have left rows: they go.
        RetagScope.objects.filter(job=job).delete()
        taken = RetagJob.objects.filter(
            pk=job.pk, state__in=jobs.UNFINISHED, scope_taken=False
        ).update(scope_taken=True, total=len(ids))
        if not taken:
            return False
        RetagScope.objects.bulk_create(
            (
                RetagScope(job=job, first_id=part[0], last_id=part[-1], ids=part)
                for part in (ids[at : at + SCOPE_ROW] for at in range(0, len(ids), SCOPE_ROW))
            ),
            batch_size=100,
        )
    job.scope_taken, job.total = True, len(ids)
    log.info(
        "retag job %s: scope of %s articles taken in %.1f s",
        job.pk,
        len(ids),
        time.perf_counter() - started,
    )
    return True


def scope_ids(job: RetagJob) -> list[int]:
    """The job's article ids, in id order.

    A topic's on PostgreSQL: its links by the tag's index, and the extracted articles
    containing all the words of one of its phrases by one bitmap scan of the full-text index.
    Words rather than phrases: a phrase query must re-read each candidate's search document
    (stored out of line, half a million of them for a common alias), a query of plain words
    is answered by the index alone; the scope is a superset either way, the matcher decides.
    No id order or limit in the query (either walks the primary key testing every article's
    text), and the planner is told not to scan the table: it cannot see what reading each
    article's search document costs (a sequential scan took 100 s on a million articles).
    Linked articles are kept whatever their state: tagging passes over those not extracted.
    """
    if not (
        connection.vendor == "postgresql"
        and job.kind == RetagJob.Kind.RETAG
        and not job.whole_archive
        and job.tag_id is not None
    ):
        return list(scope(job).values_list("pk", flat=True))
    linked = set(ArticleTag.objects.filter(tag_id=job.tag_id).values_list("article_id", flat=True))
    phrases = _phrases(job)
    with transaction.atomic(), connection.cursor() as cursor:
        for setting in SCOPE_PLANNER:
            cursor.execute(setting)
        cursor.execute(_containing_sql(len(phrases)), [*phrases, Article.Status.OK])
        containing = {row[0] for row in cursor.fetchall()}
    return sorted(linked | containing)


# For the snapshot's full-text query only (SET LOCAL: to the end of its transaction): a bitmap
# of the index, exact (a lossy one re-reads documents), never a scan of the table.
SCOPE_PLANNER = (
    "SET LOCAL enable_seqscan = off",
    "SET LOCAL enable_indexscan = off",
    "SET LOCAL work_mem = '64MB'",
)


def _containing_sql(n: int) -> str:
    """The extracted articles containing all the words of one of `n` phrases. The full-text
    condition alone chooses the rows (OFFSET 0 keeps the state test out of the inner query,
    where the planner could pick the state's index and read every article's document)."""
    return (
        "SELECT id FROM (SELECT id, status FROM articles_article"  # noqa: S608
        f" WHERE search_document @@ ({_any_of(n)}) OFFSET 0) AS matching WHERE status = %s"
    )


def _any_of(n: int) -> str:
    """A full-text query matching all the words of any one of `n` phrase parameters."""
    return " || ".join(["plainto_tsquery('english', %s)"] * n)


def next_ids(job: RetagJob, after: int, size: int) -> list[int]:
    """The job's next `size` article ids after `after`, in id order, from its snapshot."""
    rows = RetagScope.objects.filter(job=job, last_id__gt=after).order_by("last_id")
    ids: list[int] = []
    for part in rows.values_list("ids", flat=True)[: size // SCOPE_ROW + 2]:
        ids += [pk for pk in part if pk > after]
        if len(ids) >= size:
            break
    return ids[:size]


def drop_scope(job_id: int) -> None:
    RetagScope.objects.filter(job_id=job_id).delete()


def _containing(phrases: list[str]) -> Q:
    """Articles containing any of the phrases: the full-text index on PostgreSQL (all the
    phrase's words: a superset of what the matcher finds, stemmed, case-folded), a substring
    match elsewhere."""
    if connection.vendor == "postgresql":
        sql = f"SELECT id FROM articles_article WHERE search_document @@ ({_any_of(len(phrases))})"  # noqa: S608
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
    older = RetagJob.objects.filter(pk__lt=job.pk, kind=RetagJob.Kind.RETAG)
    if not job.whole_archive:
        older = older.filter(tag_id=job.tag_id, whole_archive=False)
    jobs.supersede(older)


# --- Running chunks ------------------------------------------------------------------------------


def run_chunk(job_id: int, chunk: int | None = None, size: int = BATCH_SIZE) -> str:
    """Do chunk number `chunk` (by default the next) of the job; returns CONTINUE, or the
    job's state when there is nothing (more) for this message to do."""
    job = RetagJob.objects.filter(pk=job_id).first()
    if job is None:
        return "gone"
    if job.is_finished:
        drop_scope(job.pk)  # a superseded job's snapshot goes with its last message
        return job.state
    # Claim the chunk by its number: a copy of this message, delivered while it runs or after,
    # finds the number taken and does nothing.
    if not jobs.claim_chunk(job, chunk):
        return jobs.state_of(job)
    job.refresh_from_db()
    deadline = time.monotonic() + settings.NEWSDESK_RETAG_CHUNK_SECONDS
    try:
        if not take_scope(job):  # superseded before its scope was taken
            return jobs.state_of(job)
        ids = next_ids(job, job.last_article_id, size)
        if not ids:
            return _finish(job)
        before = listed_links(ids)
        changed, taken = _do_chunk(job, ids, deadline)
        gained, lost = jobchanges.diff(before, listed_links(ids))
        changes = jobchanges.record(job.changes, gained, lost, topic_names(gained | lost))
        ids = ids[:taken]
    except Exception as exc:
        log.exception("retag job %s failed", job.pk)
        jobs.fail(job, exc)
        drop_scope(job.pk)
        raise
    if not ids:  # superseded before its first transaction
        return jobs.state_of(job)
    updated = jobs.record_chunk(
        job,
        done=job.done + len(ids),
        changed=job.changed + changed,
        last_article_id=ids[-1],
        changes=changes,
    )
    if not updated:  # superseded while this chunk ran: say so, do no more
        return jobs.state_of(job)
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


def _do_chunk(job: RetagJob, ids: list[int], deadline: float) -> tuple[int, int]:
    """Re-tag the chunk's articles a transaction at a time; returns (articles changed, how
    many of `ids` were done). A chunk ends early after NEWSDESK_RETAG_CHUNK_SECONDS, so it
    stays well inside the task time limits however slow the machine or the path; the next
    chunk goes on from the last article done."""
    if job.kind == RetagJob.Kind.MERGE:
        return _merge_links(job, ids), len(ids)
    # A topic's rule change (or deletion) rewrites only the links it can change; the
    # per-article path (the benchmark's baseline) still re-applies every rule.
    only = job.topics or None
    changed = taken = 0
    for start in range(0, len(ids), TRANSACTION_SIZE):
        if jobs.is_superseded(job):
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
                changed += linking.tag_articles(articles, only=only)
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
    jobs.set_state(job, state, error)
    RetagJob.objects.filter(pk=job.pk, total__lt=job.done).update(total=job.done)
    drop_scope(job.pk)


def run(
    job: RetagJob, progress: Callable[[int], None] | None = None, size: int = BATCH_SIZE
) -> RetagJob:
    """Run the job's chunks here until it finishes (the shell and in-process mode)."""
    return jobs.run(job, run_chunk, progress, size=size)


def resume_stalled(now=None) -> list[int]:
    """Jobs whose chunk message was lost (a worker killed, a broker restarted): their ids, with
    their heartbeat moved so the next look does not send them twice. Snapshots of jobs that
    finished without a last message (superseded while queued) go too."""
    RetagScope.objects.exclude(job__state__in=jobs.UNFINISHED).delete()
    return jobs.resume_stalled(RetagJob, now)
