from datetime import UTC, datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date, parse_datetime
from tqdm import tqdm

from stories import restory
from stories.models import RestoryJob


def parse_since(value: str) -> datetime:
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(
                f"--since wants a date (2026-11-01) or a date and time, not {value!r}."
            )
        moment = datetime.combine(day, time.min)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "Re-assign stories for the articles published since a date (all when omitted), in "
        "published order; articles editors pinned and leads they chose stay."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--since", metavar="DATE", help="e.g. 2026-11-01 (UTC)")

    def handle(self, *args, **options) -> None:
        since = parse_since(options["since"]) if options["since"] else None
        job = RestoryJob.objects.create(since=since)
        job.total = restory.scope(job).count()
        job.save(update_fields=["total"])
        with tqdm(total=job.total, unit="article", disable=options["verbosity"] == 0) as bar:
            job = restory.run(job, progress=bar.update)
        if job.state != RestoryJob.State.DONE:
            raise CommandError(f"Restory job {job.pk} ended {job.state}: {job.error}")
        self.stdout.write(f"{job.done} articles placed again, {job.changed} in another story.")
