"""Stories listen to ingestion: each extracted article (or exact duplicate) awaits a story from
the moment its extraction is stored (it has no ``StoryMembership``), and asks for a drain of
that queue (stories.tasks.drain). An article already placed whose date the extraction moved
has its membership re-dated, and one that failed to place is tried again. ``articles`` knows
nothing of this."""

import logging

from django.dispatch import receiver

from articles.models import Article
from articles.signals import article_extracted
from stories import assignment, failures, tasks

log = logging.getLogger(__name__)


@receiver(article_extracted)
def place_in_story(sender, article: Article, **kwargs) -> None:
    # Never raises: tagging listens to the same signal, and a failure here must not cost the
    # article its tags. A missed article is found by the sweep (stories.tasks.sweep).
    if article.status in assignment.ASSIGNABLE:
        redate_quietly(article)
        forget_failure_quietly(article)
        try:
            tasks.request_drain()
        except Exception:
            log.exception(
                "could not ask for a story drain; the sweep will place article %s", article.pk
            )


def redate_quietly(article: Article) -> None:
    """A re-extraction may have moved a placed article's date (``assignment.redate``); like
    placing, a failure here is logged and costs the article nothing else."""
    try:
        assignment.redate(article)
    except Exception:
        log.exception("could not move article %s's date in its story", article.pk)


def forget_failure_quietly(article: Article) -> None:
    """A page extracted again may now place where it failed (``stories.failures``): it joins
    the queue again, with its count of tries forgotten."""
    try:
        failures.clear([article.pk])
    except Exception:
        log.exception("could not clear article %s's story placement failure", article.pk)
