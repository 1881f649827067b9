"""Merge one topic into another: links, rules and editor decisions move; the old page redirects."""

from __future__ import annotations

from django.db import transaction

from tags.linking import recount, relist_weak, rules_changed
from tags.models import Alias, ArticleTag, Exclusion, Tag, TagDecision


class MergeError(ValueError):
    pass


@transaction.atomic
def merge_tags(source: Tag, target: Tag) -> Tag:
    if source.pk == target.pk:
        raise MergeError("A topic cannot be merged into itself.")
    if target.merged_into_id:
        raise MergeError(f"{target.name} was itself merged away; merge into {target.merged_into}.")
    if source.pk in target.ancestor_ids():
        raise MergeError(f"{source.name} is an ancestor of {target.name}; move it first.")

    _move_phrases(Alias, source, target, extra=[source.name])
    _move_phrases(Exclusion, source, target)
    _move_rows(TagDecision, source, target)
    _move_rows(ArticleTag, source, target)
    # Decisions now on the target hold for every link it gained.
    removed = TagDecision.objects.filter(tag=target, decision=TagDecision.Decision.REMOVE)
    ArticleTag.objects.filter(tag=target, article__in=removed.values("article")).delete()
    Tag.objects.filter(parent=source).exclude(pk=target.pk).update(parent=target)
    for feed in source.default_for_feeds.all():
        feed.default_tags.add(target)
    source.default_for_feeds.clear()

    Tag.objects.filter(merged_into=source).update(merged_into=target)
    source.merged_into, source.is_active, source.parent = target, False, None
    source.save(update_fields=["merged_into", "is_active", "parent"])
    # Weak links moved over follow the target's choice to publish weak matches or not.
    relist_weak(target)
    recount([source.pk, target.pk])
    rules_changed()
    target.refresh_from_db()
    return target


def _move_phrases(model, source: Tag, target: Tag, extra: list[str] = ()) -> None:
    have = {p.casefold() for p in model.objects.filter(tag=target).values_list("phrase", flat=True)}
    have.add(target.name.casefold())
    for phrase in [*model.objects.filter(tag=source).values_list("phrase", flat=True), *extra]:
        if phrase.casefold() not in have:
            model.objects.create(tag=target, phrase=phrase)
            have.add(phrase.casefold())
    model.objects.filter(tag=source).delete()


def _move_rows(model, source: Tag, target: Tag) -> None:
    """Re-point rows to the target, keeping the target's own row where both exist."""
    taken = model.objects.filter(tag=target).values("article_id")
    model.objects.filter(tag=source).exclude(article_id__in=taken).update(tag=target)
    model.objects.filter(tag=source).delete()
