from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from articles.feedlist import import_opml


class Command(BaseCommand):
    help = "Add every feed listed in an OPML file."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", type=Path)

    def handle(self, *args, **options) -> None:
        try:
            created, known = import_opml(options["path"].read_bytes())
        except OSError as exc:
            raise CommandError(f"Cannot read {options['path']}: {exc.strerror}") from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Added {len(created)} feeds; {known} were known."))
