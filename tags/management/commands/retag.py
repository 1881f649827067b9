from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from tags import retagging
from tags.models import RetagJob, Tag


class Command(BaseCommand):
    help = "Re-run the topic rules over existing articles, respecting editors' decisions."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--tag",
            metavar="SLUG",
            help="only what this topic's rules can affect: its links and its aliases' matches",
        )

    def handle(self, *args, **options) -> None:
        tag = None
        if options["tag"]:
            tag = Tag.objects.filter(slug=options["tag"]).first()
            if tag is None:
                raise CommandError(f"No topic with slug {options['tag']!r}.")
        job = RetagJob.objects.create(
            tag=tag,
            tag_name=tag.name if tag else "",
            whole_archive=tag is None,
            phrases=retagging.phrases_of(tag) if tag else [],
            topics=retagging.affected_topics(tag) if tag else [],
        )
        retagging.take_scope(job)  # the article ids, once: the bar's total
        with tqdm(total=job.total, unit="article", disable=options["verbosity"] == 0) as bar:
            retagging.run(job, progress=bar.update)
        self.stdout.write(f"{job.done} articles checked, {job.changed} changed.")
