from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from tags.labels import LabelsError, parse_labels, parse_mapping
from tags.models import LabelledExample, Tag

BATCH = 1000


class Command(BaseCommand):
    help = (
        "Import a labelled archive (JSONL: title, body, topics, date) as training examples for "
        "the topic models. Codes map to topics with the same slug, or by --map CODE=SLUG."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="a JSONL file, one labelled article a line")
        parser.add_argument(
            "--map", action="append", default=[], metavar="CODE=SLUG", help="repeatable"
        )
        parser.add_argument(
            "--map-file", metavar="FILE", help="CODE=SLUG lines (# starts a comment)"
        )
        parser.add_argument(
            "--source", help="name the import is stored under (default: the file name)"
        )

    def handle(self, *args, **options) -> None:
        path = Path(options["file"])
        try:
            mapping_lines = list(options["map"])
            if options["map_file"]:
                mapping_lines += Path(options["map_file"]).read_text().splitlines()
            mapping = parse_mapping(mapping_lines)
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        tags = dict(Tag.objects.active().values_list("slug", "pk"))
        missing = sorted({slug for slug in mapping.values() if slug not in tags})
        if missing:
            raise CommandError(f"--map names topics that do not exist: {', '.join(missing)}")
        known = {code: code for code in tags} | mapping
        try:
            with path.open(encoding="utf-8") as lines:
                parsed = parse_labels(lines, known)
        except UnicodeDecodeError as exc:
            raise CommandError(f"{path}: not UTF-8 ({exc})") from exc
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror or exc}") from exc
        except LabelsError as exc:
            raise CommandError(f"{path}: {exc}") from exc
        source = options["source"] or path.name
        created = updated = 0
        positives: dict[str, int] = {}
        with transaction.atomic():
            existing = dict(
                LabelledExample.objects.filter(source=source).values_list("external_id", "pk")
            )
            through = LabelledExample.tags.through
            verbose = options["verbosity"] > 0
            for start in tqdm(
                range(0, len(parsed.lines), BATCH), unit="batch", disable=not verbose
            ):
                chunk = parsed.lines[start : start + BATCH]
                rows = [
                    LabelledExample(
                        pk=existing.get(line.external_id),
                        source=source,
                        external_id=line.external_id,
                        title=line.title[:500],
                        body=line.body,
                        date=line.date,
                        codes=list(line.codes),
                    )
                    for line in chunk
                ]
                new = [r for r in rows if r.pk is None]
                old = [r for r in rows if r.pk is not None]
                LabelledExample.objects.bulk_create(new)
                LabelledExample.objects.bulk_update(old, ["title", "body", "date", "codes"])
                created, updated = created + len(new), updated + len(old)
                through.objects.filter(labelledexample_id__in=[r.pk for r in old]).delete()
                links = []
                for row, line in zip(rows, chunk, strict=True):
                    slugs = {known[c] for c in line.codes if c in known}
                    for slug in slugs:
                        positives[slug] = positives.get(slug, 0) + 1
                        links.append(through(labelledexample_id=row.pk, tag_id=tags[slug]))
                through.objects.bulk_create(links)
        self.stdout.write(
            f"{created} labelled articles imported, {updated} updated, from {path.name}."
        )
        targets = sorted(set(known.values()) & set(tags))
        for slug in targets:
            n = positives.get(slug, 0)
            if slug in mapping.values() or n:
                self.stdout.write(f"  {slug}: {n} positive examples")
        for slug in sorted(set(mapping.values())):
            if not positives.get(slug):
                self.stdout.write(
                    self.style.WARNING(f"  {slug}: no positive examples in this file")
                )
        if parsed.unknown:
            listed = ", ".join(f"{c} ({n})" for c, n in parsed.unknown.most_common(15))
            more = len(parsed.unknown) - 15
            self.stdout.write(
                self.style.WARNING(
                    f"{len(parsed.unknown)} topic codes match no topic and were not used as "
                    f"labels: {listed}{f' and {more} more' if more > 0 else ''}. "
                    "Map them with --map CODE=SLUG."
                )
            )
