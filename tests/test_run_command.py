"""The README's first command, as a newcomer runs it: a bare checkout to a site with articles."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.management import call_command

from articles.models import Article, Feed
from tags.models import Tag

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(
    args: list[str], env: dict[str, str], path: str, wait: float
) -> Iterator[tuple[str, str]]:
    """`manage.py run ARGS --addr 127.0.0.1:PORT` as a subprocess: yields (site, first page at
    `path`) once it answers, and stops it afterwards, printing the end of its output."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "run", *args, "--addr", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    site = f"http://127.0.0.1:{port}"
    try:
        page = None
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{site}{path}") as r:
                    page = r.read().decode()
                break
            except OSError:
                time.sleep(0.5)
        assert page is not None, "the site never answered"
        yield site, page
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
        print(out[-3000:])


@pytest.mark.django_db
def test_run_ingests_the_demo_corpus_through_the_real_pipeline(capsys, settings):
    port = free_port()
    call_command("run", "--no-serve", "--demo-port", str(port))
    # Exactly the demo's host:port was allowed: not localhost, not another local port.
    assert [f"127.0.0.1:{port}"] == settings.NEWSDESK_ALLOW_HOSTS
    out = capsys.readouterr().out
    assert "discovered feed" in out
    assert Feed.objects.count() == 3
    assert Article.objects.filter(status=Article.Status.OK).count() >= 12
    # The deliberate traps: a missing page and a stub are kept with their errors.
    assert Article.objects.filter(status=Article.Status.FAILED).exclude(error="").count() == 2
    assert Tag.objects.get(slug="rare-earths").article_count > 0
    assert "createsuperuser" in out
    # The demo pages carry menus, share bars, newsletter boxes, disclaimers in another language,
    # related-story lists and "Read more at" lines: none of it reaches the stored text.
    for text in Article.objects.filter(status=Article.Status.OK).values_list("text", flat=True):
        for boilerplate in ("Related", "Share on", "Read more at", "newsletter", "#Rare", "免責"):
            assert boilerplate not in text


@pytest.mark.django_db
def test_runs_zero_delay_is_for_the_demos_exact_host_only(settings):
    from articles.fetching import HostBusyError, take_turn

    settings.NEWSDESK_HOST_DELAY = 30
    port = free_port()
    call_command("run", "--no-serve", "--demo-port", str(port))
    assert settings.NEWSDESK_HOST_DELAY == 30
    for _ in range(3):  # the demo: no wait between requests
        take_turn(f"http://127.0.0.1:{port}/story", max_wait=0)
    # An operator's feed on another host (or another port of this one) keeps the delay.
    for other in ("https://news.example.org/a", f"http://127.0.0.1:{port + 1}/a"):
        take_turn(other, max_wait=0)
        with pytest.raises(HostBusyError):
            take_turn(other, max_wait=0)


@pytest.mark.django_db
def test_run_with_no_demo_and_no_feeds_ingests_nothing(capsys):
    call_command("run", "--no-serve", "--no-demo")
    assert "Ingesting 0 feeds" in capsys.readouterr().out
    assert not Feed.objects.exists()


@pytest.mark.django_db
def test_run_again_on_another_demo_port_moves_the_demo_feeds(capsys):
    call_command("run", "--no-serve", "--demo-port", str(free_port()))
    articles = Article.objects.count()
    capsys.readouterr()
    port = free_port()
    call_command("run", "--no-serve", "--demo-port", str(port))
    out = capsys.readouterr().out
    assert "Ingesting 3 feeds" in out and "0 feeds failed" in out
    assert sorted(Feed.objects.values_list("url", flat=True)) == [
        url
        for url in sorted(Feed.objects.values_list("url", flat=True))
        if url.startswith(f"http://127.0.0.1:{port}/")
    ]
    assert Feed.objects.count() == 3
    # The same stories, not a second copy of each under the new port.
    assert Article.objects.count() == articles


@pytest.mark.parametrize(
    ("addr", "url"),
    [
        ("127.0.0.1:18100", "http://127.0.0.1:18100"),
        ("0.0.0.0:8000", "http://127.0.0.1:8000"),
        ("8100", "http://127.0.0.1:8100"),
        ("localhost:9000", "http://localhost:9000"),
    ],
)
def test_the_site_url_follows_the_address_served(addr, url):
    from articles.management.commands.run import site_url_for

    assert site_url_for(addr) == url


@pytest.mark.integration
def test_a_fresh_checkout_serves_tag_pages_with_demo_articles(tmp_path):
    """`uv run manage.py run` with no environment at all: SQLite, in-process tasks."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DEBUG", "SECRET_KEY", "SITE_URL"}
    }
    env["NEWSDESK_DATA_DIR"] = str(tmp_path)
    demo = ["--demo-port", str(free_port())]
    with serving(demo, env, "/tags/rare-earths/", wait=240) as (site, page):
        assert "<h1" in page
        assert "rare earths" in page
        assert "Total: " in page
        assert "Tokyo Doubles Rare" in page
        assert (tmp_path / "newsdesk.sqlite3").exists()
        # The address served is the one written in canonical links, og:url and the feeds.
        assert f'<link rel="canonical" href="{site}/tags/rare-earths/">' in page
        assert f'<meta property="og:url" content="{site}/tags/rare-earths/">' in page
        with urllib.request.urlopen(f"{site}/tags/rare-earths/feed/atom/") as r:
            feed = r.read().decode()
        assert f"<id>{site}/tags/rare-earths/</id>" in feed and ":8000" not in feed
        # Sources carry their publishers' names, not the host they share.
        assert ">127.0.0.1<" not in page
        assert "Mineral Wire" in page or "Harbour Ledger" in page
        # Two publishers' reports of one event are one story (assigned at ingest, on SQLite).
        assert "found in" in page and "Also: Pacific Desk" in page
        story = re.search(r'href="(/stories/\d+/)"', page).group(1)
        with urllib.request.urlopen(f"{site}{story}") as r:
            story_page = r.read().decode()
        assert "2 articles from 2 sources" in story_page
        # A missing page is the site's own 404, not Django's list of every URL.
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{site}/no-such-page/")
        body = missing.value.read().decode()
        assert missing.value.code == 404
        assert "URLconf" not in body and "Skip to content" in body


@pytest.mark.integration
def test_run_with_debug_off_collects_its_static_files_and_serves(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "SITE_URL"}
    }
    env.update(
        DEBUG="false",
        SECRET_KEY="a-test-key-that-is-long-enough-for-a-test-run-only",
        SECURE_SSL_REDIRECT="false",
        NEWSDESK_DATA_DIR=str(tmp_path / "data"),
        STATIC_ROOT=str(tmp_path / "static"),
    )
    with serving(["--no-demo"], env, "/", wait=120) as (site, page):
        css = re.search(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', page)
        assert css, page[:1000]
        with urllib.request.urlopen(f"{site}{css.group(1)}") as r:
            assert r.status == 200
