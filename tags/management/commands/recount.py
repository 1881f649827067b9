from django.core.management.base import BaseCommand

from tags.linking import recount


class Command(BaseCommand):
    help = "Recompute every topic's article count from its links and fix any that drifted."

    def handle(self, *args, **options) -> None:
        fixed = recount()
        self.stdout.write(f"{fixed} topic counts corrected.")
