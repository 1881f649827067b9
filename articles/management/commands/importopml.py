from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from articles.feedlist import import_opml


class Command(BaseCommand):
    help = "Add every feed listed in an OPML file."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path)

    def handle(self, *args, **options) -> None:
        try:
            report = import_opml(options["path"].read_bytes())
        except OSError as exc:
            raise CommandError(f"Cannot read {options['path']}: {exc.strerror}") from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        for result in report.results:
            line = f"{result.outcome:<8} {result.url}"
            line += f"  ({result.detail})" if result.detail else ""
            style = self.style.WARNING if result.outcome == "refused" else str
            self.stdout.write(style(line))
        self.stdout.write(self.style.SUCCESS(report.summary()))
