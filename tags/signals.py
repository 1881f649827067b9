"""Keep tag counts exact when links disappear by any route, and matchers fresh after edits."""

from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from articles.models import Article, Source
from tags import freshness
from tags.linking import rules_changed
from tags.models import Alias, ArticleTag, Exclusion, Tag


@receiver(post_delete, sender=ArticleTag)
def link_deleted(sender, instance: ArticleTag, **kwargs) -> None:
    if instance.is_visible:
        Tag.objects.filter(pk=instance.tag_id, article_count__gt=0).update(
            article_count=F("article_count") - 1
        )
        freshness.touch_tags([instance.tag_id])


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


# Topic pages and feeds are revalidated against Tag.content_changed_at (tags.freshness): every
# save that can change what they show moves it. A new article has no links yet; linking moves
# the stamp of the topics it joins.
@receiver(post_save, sender=Article)
def article_saved(sender, instance: Article, created: bool, **kwargs) -> None:
    if not created and not kwargs.get("raw"):
        freshness.touch_article(instance.pk)


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
