from django.core.management.base import BaseCommand
from tqdm import tqdm

from articles.ingest import reextract
from articles.models import Article


class Command(BaseCommand):
    help = "Run extraction again from the stored HTML (no fetching), then re-tag."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--article", type=int, action="append", default=[], metavar="ID")
        parser.add_argument("--failed", action="store_true", help="only articles that failed")

    def handle(self, *args, **options) -> None:
        articles = Article.objects.filter(raw_page__isnull=False).order_by("pk")
        if options["article"]:
            articles = articles.filter(pk__in=options["article"])
        if options["failed"]:
            articles = articles.filter(status=Article.Status.FAILED)
        counts: dict[str, int] = {}
        for article in tqdm(
            articles.iterator(),
            total=articles.count(),
            unit="page",
            disable=options["verbosity"] == 0,
        ):
            status = reextract(article).status
            counts[status] = counts.get(status, 0) + 1
        for status, n in sorted(counts.items()):
            self.stdout.write(f"{status:<10} {n:>6}")
