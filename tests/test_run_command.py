"""The README's first command, as a newcomer runs it: a bare checkout to a site with articles."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
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
def test_run_with_no_demo_and_no_feeds_ingests_nothing(capsys):
    call_command("run", "--no-serve", "--no-demo")
    assert "Ingesting 0 feeds" in capsys.readouterr().out
    assert not Feed.objects.exists()


@pytest.mark.integration
def test_a_fresh_checkout_serves_tag_pages_with_demo_articles(tmp_path):
    """`uv run manage.py run` with no environment at all: SQLite, in-process tasks."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DEBUG", "SECRET_KEY"}
    }
    env["NEWSDESK_DATA_DIR"] = str(tmp_path)
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "run",
            "--addr",
            f"127.0.0.1:{port}",
            "--demo-port",
            str(free_port()),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        page = None
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/tags/rare-earths/") as r:
                    page = r.read().decode()
                break
            except OSError:
                time.sleep(0.5)
        assert page is not None, "the site never answered"
        assert "<h1" in page
        assert "rare earths" in page
        assert "Total: " in page
        assert "Tokyo Doubles Rare" in page
        assert (tmp_path / "newsdesk.sqlite3").exists()
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
        print(out[-3000:])
