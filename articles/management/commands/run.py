"""One command from a bare checkout to a running site.

Migrates, says how to get an admin login, ingests (the bundled demo corpus, served from a local
HTTP server so it goes through the real pipeline, or the configured feeds), keeps polling on
schedule in the background, and serves the site.
"""

from __future__ import annotations

import logging
import os
import re
import threading

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, transaction
from django.db.models import Value
from django.db.models.functions import Replace

from articles.demo.server import SITE_ROOT, DemoSite
from articles.feedlist import AddFeedError, add_feed
from articles.ingest import ingest_feeds
from articles.models import Article, ArticleFeed, Feed, Source
from articles.signals import run_report

log = logging.getLogger(__name__)

POLL_EVERY_SECONDS = 60


class Command(BaseCommand):
    help = "Set up, ingest (the demo corpus by default) and serve Newsdesk on one machine."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--no-demo", action="store_true", help="ingest configured feeds only")
        parser.add_argument("--addr", default="127.0.0.1:8000", help="where to serve the site")
        parser.add_argument(
            "--demo-port", type=int, default=8765, help="port of the local demo feed server"
        )
        parser.add_argument("--no-serve", action="store_true", help="set up and ingest, then stop")
        parser.add_argument(
            "--debug",
            action="store_true",
            help="serve Django's debug pages (URL list on a 404, tracebacks on a 500)",
        )

    def handle(self, *args, **options) -> None:
        self.step("Migrating the database")
        call_command("migrate", interactive=False, verbosity=0)
        self.say_about_admin()
        if not options["no_demo"]:
            # The demo's feeds from an earlier run on another port follow it to this one.
            move_demo(options["demo_port"])
        earlier_demo = demo_feeds()
        own_feeds = Feed.objects.exclude(pk__in=earlier_demo)
        use_demo = not options["no_demo"] and not own_feeds.exists()
        demo = self.start_demo(options["demo_port"]) if use_demo else None
        feeds = Feed.objects.filter(url__startswith=demo.base_url + "/") if demo else own_feeds
        try:
            self.ingest_now(feeds)
            if options["no_serve"]:
                return
            self.prepare_to_serve(options["addr"], options["debug"])
            self.start_poller()
            self.step(f"Serving on http://{options['addr']}/  (Ctrl-C stops)")
            call_command("runserver", options["addr"], use_reloader=False, use_threading=True)
        finally:
            if demo is not None:
                demo.stop()

    def prepare_to_serve(self, addr: str, debug: bool) -> None:
        # Links in pages and feeds name the address served, unless SITE_URL says otherwise.
        if "SITE_URL" not in os.environ:
            settings.SITE_URL = site_url_for(addr)
        if not settings.DEBUG:
            # Production settings link hashed static files through a strict manifest.
            self.step("Collecting static files")
            call_command("collectstatic", interactive=False, verbosity=0)
        elif not debug:
            # A reader's missing page is the site's own 404, not Django's page listing every
            # URL; errors still print their tracebacks here. `--debug` keeps Django's pages.
            settings.DEBUG = False

    def step(self, text: str) -> None:
        self.stdout.write(self.style.MIGRATE_HEADING(f"==> {text}"))

    def say(self, line: str) -> None:
        self.stdout.write(f"    {line}")

    def say_about_admin(self) -> None:
        # Tagging says how many topics and which groups are set up (tags.signals).
        run_report.send(sender=Command, stage="set up", say=self.say)
        if not get_user_model().objects.filter(is_superuser=True).exists():
            self.stdout.write(
                "    No admin login yet: run `uv run manage.py createsuperuser`, then open /admin/."
            )

    def start_demo(self, port: int) -> DemoSite:
        self.step("Starting the demo publishers' site (bundled pages, no internet needed)")
        try:
            demo = DemoSite(port=port).start()
        except OSError as exc:
            raise CommandError(
                f"Cannot serve the demo on port {port} ({exc.strerror}); try --demo-port."
            ) from exc
        # The demo lives on this machine: exactly its host:port is allowed, nothing else local
        # (not localhost, not another port, not Redis or this site's own admin).
        allowance = demo.base_url.removeprefix("http://")
        settings.NEWSDESK_ALLOW_HOSTS = [*settings.NEWSDESK_ALLOW_HOSTS, allowance]
        # The demo is ours: no politeness delay for it, and only for it. A feed an operator
        # adds while this runs keeps NEWSDESK_HOST_DELAY.
        settings.NEWSDESK_HOST_DELAYS = {**settings.NEWSDESK_HOST_DELAYS, allowance: 0.0}
        for url in demo.home_urls():
            try:
                feed, created = add_feed(url)
            except AddFeedError as exc:
                raise CommandError(f"The demo site is broken: {exc}") from exc
            if created:
                self.stdout.write(f"    discovered feed {feed.url}")
        return demo

    def ingest_now(self, feeds) -> None:
        feeds = list(feeds.filter(is_active=True).order_by("pk"))
        self.step(f"Ingesting {len(feeds)} feeds")
        report = ingest_feeds(
            feeds, on_article=lambda a: self.stdout.write(f"    {a.status:<9} {a.title or a.url}")
        )
        self.stdout.write(
            f"    {report.new_articles} new articles, {report.extracted} extracted, "
            f"{len(report.article_errors)} kept with an error, {report.failed} feeds failed"
        )
        # Tagging lists the busiest topics' pages (tags.signals).
        run_report.send(sender=Command, stage="ingested", say=self.say)

    def start_poller(self) -> None:
        if not settings.CELERY_TASK_ALWAYS_EAGER:
            self.stdout.write("    A broker is configured: Celery beat and workers do the polling.")
            return
        thread = threading.Thread(target=_poll_forever, name="newsdesk-poller", daemon=True)
        thread.start()


def demo_base(port: int) -> str:
    return f"http://127.0.0.1:{port}/"


def site_url_for(addr: str) -> str:
    """The base URL readers reach `runserver addr` at (all interfaces: this machine)."""
    host, _, port = addr.rpartition(":")
    if not host:
        host, port = "127.0.0.1", addr
    if host in {"0.0.0.0", "", "[::]"}:  # noqa: S104 - naming where a server listens
        host = "127.0.0.1"
    return f"http://{host}:{port}"


def _demo_publishers() -> list[str]:
    return sorted(home.parent.name for home in SITE_ROOT.glob("*/index.html") if home.is_file())


def _demo_url(url: str) -> re.Match[str] | None:
    names = "|".join(re.escape(name) for name in _demo_publishers())
    return re.match(rf"^http://127\.0\.0\.1:(\d+)/(?:{names})/", url)


def demo_feeds():
    """The bundled demo's feeds, on whatever port an earlier run served it."""
    ids = [pk for pk, url in Feed.objects.values_list("pk", "url") if _demo_url(url)]
    return Feed.objects.filter(pk__in=ids)


@transaction.atomic
def move_demo(port: int) -> int:
    """Point the demo's feeds, sources and articles from an earlier port at `port`."""
    new = demo_base(port)
    moved = 0
    for old in {demo_base(int(_demo_url(f.url).group(1))) for f in demo_feeds()} - {new}:
        for model, fields in (
            (Feed, ["url", "site_url"]),
            (Source, ["url"]),
            (Article, ["url", "guid"]),
            (ArticleFeed, ["guid"]),
        ):
            for name in fields:
                moved += model.objects.filter(**{f"{name}__startswith": old}).update(
                    **{name: Replace(name, Value(old), Value(new))}
                )
    return moved


def _poll_forever() -> None:
    stop = threading.Event()
    while not stop.wait(POLL_EVERY_SECONDS):
        close_old_connections()
        try:
            ingest_feeds(list(Feed.objects.due()))
        except Exception:
            log.exception("background poll failed; trying again in %s s", POLL_EVERY_SECONDS)
