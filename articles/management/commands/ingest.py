from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from articles.ingest import IngestReport, ingest_feeds
from articles.models import Feed


class Command(BaseCommand):
    help = "Poll feeds and fetch their new articles now, in this process, with a progress bar."

    def add_arguments(self, parser) -> None:
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument("--all", action="store_true", help="every active feed, due or not")
        scope.add_argument("--feed", help="one feed, by id or URL (even if inactive)")

    def handle(self, *args, **options) -> None:
        feeds = self.select(options)
        if not feeds:
            self.stdout.write("No feeds are due. Use --all to poll every active feed.")
            return
        with tqdm(total=len(feeds), unit="feed", disable=options["verbosity"] == 0) as bar:
            report = ingest_feeds(feeds, on_feed=lambda feed, result: bar.update(1))
        self.print_report(report)

    def select(self, options) -> list[Feed]:
        if options["feed"]:
            key = options["feed"]
            feed = Feed.objects.filter(pk=int(key)).first() if key.isdigit() else None
            feed = feed or Feed.objects.filter(url=key).first()
            if feed is None:
                raise CommandError(f"No feed with id or URL {key!r}.")
            return [feed]
        feeds = Feed.objects.filter(is_active=True) if options["all"] else Feed.objects.due()
        return list(feeds.order_by("pk"))

    def print_report(self, report: IngestReport) -> None:
        rows = [
            ("feeds ok", report.ok),
            ("feeds not modified", report.not_modified),
            ("feeds failed", report.failed),
            ("feeds skipped (being polled elsewhere)", report.skipped),
            ("new articles", report.new_articles),
            ("articles extracted", report.extracted),
            ("article errors", len(report.article_errors)),
        ]
        width = max(len(label) for label, _ in rows)
        for label, value in rows:
            self.stdout.write(f"{label:<{width}}  {value:>6}")
        for line in report.feed_errors + report.article_errors:
            self.stdout.write(self.style.WARNING(f"  {line}"))
