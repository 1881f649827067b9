"""Shared test set-up: which real services are here, and settings every test wants."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.cache import caches

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_reachable(url: str = REDIS_URL) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), 1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def pytest_collection_modifyitems(config, items) -> None:
    on_postgres = settings.USING_POSTGRES
    has_redis = redis_reachable()
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://…")
    skip_redis = pytest.mark.skip(reason=f"needs Redis at {REDIS_URL}")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not has_redis:
            item.add_marker(skip_redis)


def host_port(server_or_url) -> str:
    """ "host:port" of a pytest-httpserver, a demo site or a URL, spelled as its URLs spell it."""
    url = server_or_url if isinstance(server_or_url, str) else server_or_url.url_for("/")
    if not isinstance(server_or_url, str) and hasattr(server_or_url, "base_url"):
        url = server_or_url.base_url
    parts = urlsplit(url)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    return f"{host}:{parts.port}"


@pytest.fixture
def allow_host(settings):
    """allow_host(server_or_url): let fetches reach exactly that server's host:port."""

    def allow(server_or_url) -> str:
        entry = host_port(server_or_url)
        settings.NEWSDESK_ALLOW_HOSTS = [*settings.NEWSDESK_ALLOW_HOSTS, entry]
        return entry

    return allow


@pytest.fixture(autouse=True)
def _fresh_story_frequencies():
    """Story assignment keeps this process's document frequencies between calls; a test's
    rolled-back rows must not leave counts for the next test's decisions."""
    from stories import assignment

    assignment.frequencies.discard()
    yield
    assignment.frequencies.discard()


@pytest.fixture(autouse=True)
def _newsdesk_test_settings(request, settings):
    """Tests fetch from the loopback server they start (that exact host:port, nothing else on
    this machine), and never wait on politeness delays.

    Tasks run in-process unless a test starts a real worker itself (tests/test_worker.py).
    """
    from newsdesk.celery import app

    settings.NEWSDESK_ALLOW_HOSTS = [
        host_port(request.getfixturevalue(name))
        for name in ("httpserver", "httpserver_ipv4")
        if name in request.fixturenames
    ]
    settings.NEWSDESK_HOST_DELAY = 0
    # Whole-page caching would hide every change a test makes for some seconds.
    settings.NEWSDESK_HOT_PAGE_SECONDS = 0
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "hot": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "hot"},
    }
    was_eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    for alias in ("default", "hot"):
        caches[alias].clear()
    yield
    for alias in ("default", "hot"):
        caches[alias].clear()
    app.conf.task_always_eager = was_eager


@pytest.fixture(autouse=True)
def _missing_paths_are_404(request):
    """pytest-httpserver answers unknown paths with 500; a real site says 404 (robots.txt!)."""
    if "httpserver" in request.fixturenames:
        request.getfixturevalue("httpserver").no_handler_status_code = 404


@pytest.fixture
def editor(client):
    """The test client, signed in as a member of the Editors group."""
    from tests.factories import staff

    client.force_login(staff("eddie", "Editors"))
    return client


@pytest.fixture
def operator(client):
    """The test client, signed in as a member of the Operators group."""
    from tests.factories import staff

    client.force_login(staff("olga", "Operators"))
    return client
