"""Keep tag counts exact when links disappear by any route, matchers fresh after edits, and
place each article ingestion announces."""

from django.db import transaction
from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone

from articles.models import Article, Source
from articles.signals import (
    article_extracted,
    article_failed,
    article_visibility_changed,
    run_report,
)
from stories.models import StoryMembership
from stories.signals import story_changed
from tags import folding, freshness
from tags.linking import redate_links, rules_changed, sync_visibility, tag_article
from tags.models import Alias, ArticleTag, Exclusion, Tag, TagDecision


@receiver(post_delete, sender=ArticleTag)
def link_deleted(sender, instance: ArticleTag, **kwargs) -> None:
    if instance.is_visible:
        Tag.objects.filter(pk=instance.tag_id, article_count__gt=0).update(
            article_count=F("article_count") - 1
        )
        if instance.represents:
            Tag.objects.filter(pk=instance.tag_id, story_count__gt=0).update(
                story_count=F("story_count") - 1
            )
        freshness.touch_tags([instance.tag_id])
    origin = kwargs.get("origin")
    topic_goes = isinstance(origin, Tag) or getattr(origin, "model", None) is Tag
    if instance.represents and instance.story_id is not None and not topic_goes:
        # It was its story's entry on this topic: another member may take over.
        pair = (instance.story_id, instance.tag_id)
        transaction.on_commit(lambda: folding.refold_pairs([pair]))


@receiver(post_save, sender=Tag)
@receiver(post_delete, sender=Tag)
@receiver(post_save, sender=Alias)
@receiver(post_delete, sender=Alias)
@receiver(post_save, sender=Exclusion)
@receiver(post_delete, sender=Exclusion)
def rules_edited(sender, **kwargs) -> None:
    """Any edit to a rule makes every process rebuild its matcher before the next match."""
    if not kwargs.get("raw"):
        rules_changed()


@receiver(article_extracted)
def place_extracted_article(sender, article: Article, **kwargs) -> None:
    """Ingestion stored an extraction: tag the article (or hide the links of one that is not
    visible), then mark it tagged. An error here leaves it extracted-not-tagged for the sweep."""
    redate_links(article)  # a re-extraction may have moved its date
    if article.is_visible:
        tag_article(article)  # which also shows any links an earlier failure hid
    else:
        sync_visibility(article)
    Article.objects.filter(pk=article.pk).update(tagged_at=timezone.now())


@receiver(article_failed)
def hide_failed_article(sender, article: Article, **kwargs) -> None:
    sync_visibility(article)


@receiver(run_report)
def report_topics(sender, stage: str, say, **kwargs) -> None:
    """`manage.py run`'s lines about topics: how many are set up, then the busiest pages."""
    if stage == "set up":
        say(f"{Tag.objects.count()} topics; groups Editors and Operators are set up.")
    elif stage == "ingested":
        busiest = Tag.objects.active().filter(article_count__gt=0).order_by("-article_count")[:5]
        for tag in busiest:
            say(f"/tags/{tag.slug}/  {tag.article_count} articles")


@receiver(article_visibility_changed)
def article_shown_or_hidden(sender, article: Article, **kwargs) -> None:
    """An editor hid or showed the article: its links and the counts follow."""
    sync_visibility(article)


@receiver(post_save, sender=TagDecision)
def decision_recorded(sender, **kwargs) -> None:
    """Enough new hand decisions queue a training run (once the decision is committed)."""
    if not kwargs.get("raw"):
        from tags import modelling

        transaction.on_commit(modelling.maybe_start_training)


# Topic pages and feeds are revalidated against Tag.content_changed_at (tags.freshness): every
# save that can change what they show moves it. A new article has no links yet; linking moves
# the stamp of the topics it joins.
# What a member's row puts in its story's "Also" line on other topics' pages: its source's name
# and whether it is counted at all (visible: not hidden, not failed, not a duplicate).
STORY_LINE_FIELDS = frozenset(
    {"is_hidden", "status", "duplicate_of", "duplicate_of_id", "source", "source_id", "site_name"}
)


@receiver(post_save, sender=Article)
def article_saved(sender, instance: Article, created: bool, update_fields=None, **kwargs) -> None:
    if not created and not kwargs.get("raw"):
        # A save that names its fields and none of those leaves other pages' story lines alone;
        # one that does not name them may have changed any.
        story_line = update_fields is None or not STORY_LINE_FIELDS.isdisjoint(update_fields)
        freshness.touch_article(instance.pk, story_line=story_line)


@receiver(post_save, sender=Tag)
@receiver(post_delete, sender=Tag)
def topic_saved(sender, **kwargs) -> None:
    """A topic's name shows on other topics' pages: all of them revalidate."""
    if not kwargs.get("raw"):
        freshness.touch_all()


@receiver(post_save, sender=Source)
def source_saved(sender, instance: Source, created: bool, **kwargs) -> None:
    """A renamed source shows on the pages of every topic its articles are in."""
    if not created and not kwargs.get("raw"):
        freshness.touch_all()


@receiver(post_delete, sender=Source)
def source_deleted(sender, **kwargs) -> None:
    """Its articles fall back to their site names (SET_NULL, no save of theirs to hear)."""
    freshness.touch_all()


# Story assignment changed members or leads (sent after its commit): each topic page lists one
# entry per story, so the entries those changes can move are settled again (tags.folding).
@receiver(story_changed)
def story_regrouped(sender, story_ids=(), moved=None, leads=(), **kwargs) -> None:
    if moved is None:  # the sender did not say what moved: every member may have
        folding.refold_stories(list(story_ids))
    else:
        folding.refold_moved(list(story_ids), list(moved), list(leads or ()))


@receiver(post_delete, sender=StoryMembership)
def membership_deleted(sender, instance: StoryMembership, **kwargs) -> None:
    """An article left its story without a new one (deleted, or assignment dropped the row):
    the rest of the story may need a new entry, and the article, if it stays, is its own."""
    article_id, story_id = instance.article_id, instance.story_id

    # Its links (if it stays) still say which story they were folded under, so settling the
    # article settles its old story's entries on its topics; a deleted article's links settle
    # their pairs as they go (link_deleted).
    transaction.on_commit(lambda: folding.refold_moved([story_id], [article_id]))
