from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from tags import combining, modelling
from tags.models import Tag


class Command(BaseCommand):
    help = (
        "Train the topic models on imported labels and editors' decisions; the new version "
        "replaces the current one only if its cross-validated F1 is not worse."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--topic", metavar="SLUG", help="report this topic (the model covers all topics)"
        )
        parser.add_argument(
            "--no-retag", action="store_true", help="do not re-tag the archive afterwards"
        )

    def handle(self, *args, **options) -> None:
        slug = options["topic"]
        if slug and not Tag.objects.active().filter(slug=slug).exists():
            raise CommandError(f"No active topic with slug {slug!r}.")
        n_topics = Tag.objects.active().count()
        verbose = options["verbosity"] > 0
        with tqdm(total=n_topics, unit="topic", disable=not verbose) as bar:

            def progress(step: str) -> None:
                if step.startswith("cross-validating"):
                    bar.set_description(step)
                else:
                    bar.set_description(f"fitting {step}")
                    bar.update(1)

            result = modelling.train(progress=progress)
            bar.update(max(0, n_topics - bar.n))
        version = result.version
        verdict = "now current" if result.accepted else "not used"
        self.stdout.write(
            f"Model {version.version}: {version.n_examples} articles, CV F1 "
            f"{version.cv_f1:.3f}, {verdict} ({result.message})."
        )
        for topic, info in sorted(version.topics.items()):
            if slug and topic != slug:
                continue
            if info["skipped"]:
                self.stdout.write(f"  {topic}: stays on rules: {info['skipped']}")
                continue
            figures = "  ".join(
                f"{mode} P {f['precision']:.2f} R {f['recall']:.2f} F1 {f['f1']:.2f}"
                for mode, f in info["cv"].items()
            )
            self.stdout.write(f"  {topic} ({info['positives']} positives): {figures}")
            if advice := suggested(info):
                self.stdout.write(f"    {advice}")
        if result.accepted and not options["no_retag"]:
            modelling.apply_to_archive()


def suggested(info: dict) -> str:
    """The advice the topic form gives (``tags.suggesting``, stored with the version), in one
    line: an operator training from the shell should not have to open the form to see it."""
    mode = info.get("suggested_mode")
    if not mode:
        return ""
    # The mode as the figures above name it.
    advice = f"suggested: {mode}"
    # A level only where the mode uses it: rules only publishes what the rules match.
    if mode != combining.RULES and info.get("suggested_mode_publish_at") is not None:
        advice += f", model publishes at {info['suggested_mode_publish_at']:.2f}"
    if mode == combining.RULES_AND_MODEL and info.get("suggested_mode_veto_at") is not None:
        advice += f", overrules a rule match below {info['suggested_mode_veto_at']:.2f}"
    advice += f" (cross-validated F1 {info['suggested_mode_f1']:.2f})"
    if info.get("suggested_publish_at") is not None:
        advice += f"; the model alone is best at {info['suggested_publish_at']:.2f}"
    return advice + "."
