from django.core.management.base import BaseCommand

from articles.ingest import prune


class Command(BaseCommand):
    help = "Delete stored HTML and poll history older than their retention settings."

    def handle(self, *args, **options) -> None:
        for what, n in prune().items():
            self.stdout.write(f"deleted {n} {what.replace('_', ' ')}")
