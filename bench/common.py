"""Small helpers shared by the bench/ scripts.

- `PageServer`: a threaded loopback HTTP server over a dict of routes, with fixed or streamed
  bodies (declared length or chunked), counting the bytes it actually sent per path.
- `scratch_database()`: a PostgreSQL database dropped and recreated for one run, then dropped.
- `migrate()`, `project_env()`: run the project's manage.py against such a database.
- `RssSampler`: samples a process tree's resident memory in a thread (psutil).
- `rss_feed()`, `filler_html()`, `corpus_pages()`: feeds and pages to serve.

None of this imports Django: benchmarks drive the project through subprocesses or pure modules.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
ADMIN_DATABASE_URL = os.environ.get(
    "BENCH_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
MB = 1024 * 1024
_CHUNK = 64 * 1024


# --- Pages and feeds -----------------------------------------------------------------------------


def corpus_pages() -> list[bytes]:
    """The real article pages under shared/corpus/pages/html, sorted by name; [] if absent."""
    folder = CORPUS / "pages" / "html"
    return [path.read_bytes() for path in sorted(folder.glob("*.html"))]


def filler_html(size: int, chunk: int = _CHUNK) -> Iterator[bytes]:
    """Exactly `size` bytes of a plausible HTML page, made chunk by chunk, never held whole."""
    head = b"<!doctype html><html><head><meta charset='utf-8'><title>Big</title></head><body>"
    tail = b"</body></html>"
    paragraph = (
        b"<p>Officials said the review would take months, and shipments slowed again as "
        b"manufacturers looked for other suppliers of the affected materials.</p>\n"
    )
    block = paragraph * (chunk // len(paragraph) + 1)
    remaining = max(0, size - len(head) - len(tail))
    yield head[:size]
    while remaining > 0:
        piece = block[: min(chunk, remaining)]
        remaining -= len(piece)
        yield piece
    if size > len(head):
        yield tail[: size - len(head)]


@dataclass(frozen=True)
class FeedItem:
    title: str
    link: str
    published: datetime
    description: str = ""


def rss_feed(items: Iterable[FeedItem], *, title: str, link: str) -> bytes:
    """An RSS 2.0 document; each item's link is also its (non-permalink) GUID."""
    rendered = []
    for item in items:
        description = (
            f"<description>{escape(item.description)}</description>" if item.description else ""
        )
        rendered.append(
            f"<item><title>{escape(item.title)}</title><link>{escape(item.link)}</link>"
            f'<guid isPermaLink="false">{escape(item.link)}</guid>'
            f"<pubDate>{format_datetime(item.published)}</pubDate>{description}</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>{escape(link)}</link>"
        f"<description>Benchmark feed</description>{''.join(rendered)}</channel></rss>"
    ).encode()


def recent(index: int, *, now: datetime | None = None) -> datetime:
    """A distinct, recent publication time for the index-th item (one minute apart)."""
    return (now or datetime.now(UTC)).replace(microsecond=0) - timedelta(minutes=index)


# --- The loopback HTTP server --------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """What one path serves. `length=None` streams with chunked transfer encoding.

    `make`, when set, builds the whole body per request (served with its Content-Length), so a
    thousand generated pages need not sit in the benchmark's own memory.
    """

    chunks: Callable[[], Iterable[bytes]]
    content_type: str = "text/html; charset=utf-8"
    length: int | None = None
    make: Callable[[], bytes] | None = None

    @classmethod
    def of(cls, body: bytes, content_type: str = "text/html; charset=utf-8") -> Route:
        return cls(lambda: (body,), content_type, len(body))

    @classmethod
    def lazy(cls, make: Callable[[], bytes], content_type: str = "text/html") -> Route:
        return cls(lambda: (), content_type, None, make)

    @classmethod
    def streamed(
        cls, chunks: Callable[[], Iterable[bytes]], *, length: int | None, content_type: str
    ) -> Route:
        return cls(chunks, content_type, length)


@dataclass
class _Stats:
    hits: dict[str, int] = field(default_factory=dict)
    bytes_sent: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, path: str, sent: int) -> None:
        with self.lock:
            self.hits[path] = self.hits.get(path, 0) + 1
            self.bytes_sent[path] = self.bytes_sent.get(path, 0) + sent


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    routes: dict[str, Route]
    stats: _Stats


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked transfer encoding needs it
    server: _Server

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        route = self.server.routes.get(path)
        if route is None:
            self.send_error(404)
            return
        if route.make is not None:
            body = route.make()
            route = Route.of(body, route.content_type)
        self.send_response(200)
        self.send_header("Content-Type", route.content_type)
        chunked = route.length is None
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(route.length))
        self.end_headers()
        sent = 0
        try:
            for chunk in route.chunks():
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                sent += len(chunk)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            # The client hung up, e.g. a size limit refused the body: that is the point.
            self.close_connection = True
        finally:
            self.server.stats.record(path, sent)

    def log_message(self, format: str, *args: object) -> None:
        return


class PageServer:
    """`with PageServer(routes) as server:` serves on 127.0.0.1 at a free port in a thread.

    Routes may be added (`server.routes[path] = ...`) while it runs, e.g. feeds that must name
    the server's own URLs.
    """

    def __init__(self, routes: dict[str, Route] | None = None) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.routes = dict(routes or {})
        self._server.stats = _Stats()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def routes(self) -> dict[str, Route]:
        return self._server.routes

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def hits(self, path: str) -> int:
        return self._server.stats.hits.get(path, 0)

    def bytes_sent(self, path: str) -> int:
        return self._server.stats.bytes_sent.get(path, 0)

    def __enter__(self) -> PageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# --- PostgreSQL ----------------------------------------------------------------------------------


def database_url(name: str, admin_url: str = ADMIN_DATABASE_URL) -> str:
    """The admin URL with its database replaced by `name`."""
    parts = urlsplit(admin_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))


def _drop(name: str, admin_url: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        # FORCE ends sessions a killed worker may have left behind (PostgreSQL 13+).
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextmanager
def scratch_database(name: str, admin_url: str = ADMIN_DATABASE_URL) -> Iterator[str]:
    """Drop and create database `name`, yield its URL, and drop it afterwards."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"not a plain database name: {name!r}")
    _drop(name, admin_url)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield database_url(name, admin_url)
    finally:
        _drop(name, admin_url)


def project_env(database_url: str, *, debug: bool = False, **extra: str) -> dict[str, str]:
    """The environment for a manage.py or Celery subprocess, production-like by default.

    DEBUG is off unless asked for, as in production: with it on, Django keeps every SQL query a
    connection ran (up to 9,000, with their parameters) in memory.
    """
    env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "true" if debug else "false"}
    env.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    env.update(extra)
    return env


def manage(*args: str, env: dict[str, str], stdin: str | None = None) -> str:
    """Run `manage.py ARGS` in the project; returns its stdout, raises with its output on error."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def migrate(env: dict[str, str]) -> None:
    manage("migrate", "--noinput", "--verbosity", "0", env=env)


# --- Memory --------------------------------------------------------------------------------------


def tree_rss(pid: int, *, children: bool = True) -> int:
    """Resident bytes of a process, plus its descendants; 0 once it is gone."""
    try:
        proc = psutil.Process(pid)
        procs = [proc, *(proc.children(recursive=True) if children else [])]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for each in procs:
        try:
            total += each.memory_info().rss
        except psutil.NoSuchProcess:
            continue  # a child that ended between listing and reading
    return total


def peak_rss_hwm(pid: int) -> int | None:
    """The kernel's resident high-water mark (VmHWM) of one process, in bytes (Linux only).

    Unlike sampling, this cannot miss a short spike; it covers this process, not its children.
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) * 1024 if found else None


class RssSampler:
    """Samples a process tree's RSS every `interval` seconds in a thread, keeping the peak."""

    def __init__(self, pid: int, *, interval: float = 0.1, children: bool = True) -> None:
        self.pid = pid
        self.interval = interval
        self.children = children
        self.first = 0
        self.last = 0
        self.peak = 0
        self.peak_at = 0.0
        self.samples = 0
        self._started = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> int:
        rss = tree_rss(self.pid, children=self.children)
        if rss:
            if not self.samples:
                self.first = rss
            self.samples += 1
            self.last = rss
            if rss > self.peak:
                self.peak, self.peak_at = rss, time.monotonic() - self._started
        return rss

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def start(self) -> RssSampler:
        self._started = time.monotonic()
        self.sample()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def __enter__(self) -> RssSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
