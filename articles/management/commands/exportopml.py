from django.core.management.base import BaseCommand

from articles.feedlist import export_opml
from articles.models import Feed


class Command(BaseCommand):
    help = "Write every feed as OPML to standard output (or --output FILE)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--output", "-o")

    def handle(self, *args, **options) -> None:
        body = export_opml(Feed.objects.select_related("source").order_by("pk"))
        if options["output"]:
            with open(options["output"], "wb") as out:
                out.write(body)
        else:
            self.stdout.write(body.decode("utf-8"))
