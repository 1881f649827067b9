"""Stories listen to ingestion: each extracted article (or exact duplicate) is placed in a
story as soon as its extraction is stored. ``articles`` knows nothing of this."""

from django.dispatch import receiver

from articles.models import Article
from articles.signals import article_extracted
from stories import assignment


@receiver(article_extracted)
def place_in_story(sender, article: Article, **kwargs) -> None:
    # Never raises: tagging listens to the same signal, and a failure here must not cost the
    # article its tags. A missed article is found by the sweep (stories.tasks.sweep).
    if article.status in assignment.ASSIGNABLE:
        assignment.assign_quietly(article.pk)
