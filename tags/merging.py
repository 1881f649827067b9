"""Merge one topic into another: links, rules and editor decisions move; the old page redirects.

Rules, decisions and feeds move at once; the links (a big topic has hundreds of thousands) move
in chunks through a job (`tags.retagging.start_merge`), in the background when asked. When the
links have moved, the job re-runs the rules over what the merged aliases can match.

What moves and what does not:
- aliases keep their case-sensitivity; the old name becomes an alias only if it was matched;
- hand additions move (the editor wanted the article on that subject); hand removals of the old
  topic do not: they said "not about the old topic", not "not about the target". The target's
  own decisions win where both exist;
- the old topic's exclusions are dropped, not moved: they vetoed only the old topic's matches,
  and on the target they would veto every article, even those the target matched on its own.
  They are returned (`MergeResult.dropped_exclusions`) and shown to the editor who merged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from tags.linking import recount, rules_changed
from tags.models import Alias, Exclusion, RetagJob, Tag, TagDecision
from tags.retagging import start_merge


class MergeError(ValueError):
    pass


@dataclass
class MergeResult:
    target: Tag
    job: RetagJob
    dropped_exclusions: list[str] = field(default_factory=list)

    @property
    def retag(self) -> RetagJob | None:
        """The retag the merge job started when it finished (None while it runs)."""
        return RetagJob.objects.filter(
            kind=RetagJob.Kind.RETAG, tag=self.target, pk__gt=self.job.pk
        ).first()


def merge_tags(source: Tag, target: Tag, *, in_background: bool = False) -> Tag:
    return merge(source, target, in_background=in_background).target


@transaction.atomic
def merge(source: Tag, target: Tag, *, in_background: bool = False) -> MergeResult:
    if source.pk == target.pk:
        raise MergeError("A topic cannot be merged into itself.")
    if target.merged_into_id:
        raise MergeError(f"{target.name} was itself merged away; merge into {target.merged_into}.")
    if source.pk in target.ancestor_ids():
        raise MergeError(f"{source.name} is an ancestor of {target.name}; move it first.")

    _move_aliases(source, target)
    dropped = sorted(Exclusion.objects.filter(tag=source).values_list("phrase", flat=True))
    Exclusion.objects.filter(tag=source).delete()
    _move_decisions(source, target)
    Tag.objects.filter(parent=source).exclude(pk=target.pk).update(parent=target)
    for feed in source.default_for_feeds.all():
        feed.default_tags.add(target)
    source.default_for_feeds.clear()

    Tag.objects.filter(merged_into=source).update(merged_into=target)
    source.merged_into, source.is_active, source.parent = target, False, None
    source.save(update_fields=["merged_into", "is_active", "parent"])
    rules_changed()
    # Decisions now on the target hold for every link it gains: the job skips those.
    job = start_merge(source, target, run_now=not in_background)
    recount([source.pk, target.pk])
    target.refresh_from_db()
    return MergeResult(target, job, dropped)


def _move_aliases(source: Tag, target: Tag) -> None:
    """The target gains the source's aliases (and its name, if it was matched) with their
    case-sensitivity; where the target already has the phrase, the looser of the two wins."""
    have = {a.phrase.casefold(): a for a in Alias.objects.filter(tag=target)}
    incoming = list(Alias.objects.filter(tag=source).values_list("phrase", "case_sensitive"))
    if source.name_is_alias:
        incoming.append((source.name, False))
    for phrase, exact in incoming:
        if target.name_is_alias and phrase.casefold() == target.name.casefold():
            continue
        same = have.get(phrase.casefold())
        if same is None:
            have[phrase.casefold()] = Alias.objects.create(
                tag=target, phrase=phrase, case_sensitive=exact
            )
        elif same.case_sensitive and not exact:
            Alias.objects.filter(pk=same.pk).update(case_sensitive=False)
        elif same.case_sensitive and exact and same.phrase != phrase:
            # Two exact spellings differing in case ("Nd", "ND") both stay exact.
            Alias.objects.get_or_create(tag=target, phrase=phrase, case_sensitive=True)
    Alias.objects.filter(tag=source).delete()


def _move_decisions(source: Tag, target: Tag) -> None:
    """Hand additions move to the target unless it has its own decision; removals stay behind
    (deleted): removing the old topic said nothing about the target."""
    taken = TagDecision.objects.filter(tag=target).values("article_id")
    TagDecision.objects.filter(tag=source, decision=TagDecision.Decision.ADD).exclude(
        article_id__in=taken
    ).update(tag=target)
    TagDecision.objects.filter(tag=source).delete()
