from django.core.management.base import BaseCommand, CommandError

from articles.feedlist import AddFeedError, add_feed
from articles.models import Feed


class Command(BaseCommand):
    help = "Add a feed by its URL, or by a site URL whose page links to its feed."

    def add_arguments(self, parser) -> None:
        parser.add_argument("url")
        parser.add_argument("--title", default="")
        parser.add_argument(
            "--tag",
            action="append",
            default=[],
            metavar="SLUG",
            help="give every article from this feed this topic (repeatable)",
        )

    def handle(self, *args, **options) -> None:
        # The topics model, through the relation a feed declares (ingestion imports no tags).
        Tag = Feed._meta.get_field("default_tags").related_model
        tags = []
        for slug in options["tag"]:
            tag = Tag.objects.filter(slug=slug).first()
            if tag is None:
                raise CommandError(f"No topic with slug {slug!r}.")
            tags.append(tag)
        try:
            feed, created = add_feed(options["url"], title=options["title"], tags=tags)
        except AddFeedError as exc:
            raise CommandError(str(exc)) from exc
        verb = "Added" if created else "Already had"
        self.stdout.write(self.style.SUCCESS(f"{verb} feed {feed.pk}: {feed.url}"))
