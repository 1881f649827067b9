"""Small helpers shared by the bench/ scripts.

- `PageServer`: a threaded loopback HTTP server over a dict of routes, with fixed or streamed
  bodies (declared length or chunked), counting the bytes it actually sent per path.
- `scratch_database()`: a PostgreSQL database dropped and recreated for one run, then dropped.
- `migrate()`, `project_env()`: run the project's manage.py against such a database.
- `RssSampler`: samples a process tree's resident memory in a thread (psutil).
- `rss_feed()`, `filler_html()`, `corpus_pages()`: feeds and pages to serve.
- `marked_copy()`, `CorpusCopies`, `serve_corpus_articles()`, `serve_feeds()`: many distinct
  articles from the corpus pages, and the feeds that list them.
- `create_feeds()`, `article_status_counts()`: the project's rows, read and written from outside.
- `start_worker()`, `wait_worker_ready()`, `stop_process()`, `tree_cpu_seconds()`: a real
  Celery worker in a subprocess.

None of this imports Django: benchmarks drive the project through subprocesses or pure modules.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import partial
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
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


# --- Many distinct articles ----------------------------------------------------------------------

# Paragraph starts and line breaks: some pages set their article text with <br> alone.
_TEXT_BLOCK = re.compile(rb"<(?:p|br)\b[^>]*>", re.IGNORECASE)


def marked_copy(page: bytes, copy: int) -> bytes:
    """The page with every paragraph and line break marked as copy N (copy 0 is the page).

    Each copy then extracts to its own text: identical copies would be stored as duplicates by
    the content hash, skipping text storage and tagging.
    """
    if copy == 0:
        return page
    marker = b"Copy %d. " % copy
    return _TEXT_BLOCK.sub(lambda m: m.group(0) + marker, page)


class CorpusCopies:
    """`copies(i)` is the i-th distinct article: the corpus pages in turn, each round a new copy.

    Equal to `marked_copy(corpus[i % n], i // n)`, but each page is split at its text blocks
    once, so a copy is one join: serving thousands of them costs the benchmark little CPU.
    """

    def __init__(self, corpus: Sequence[bytes]) -> None:
        self._pieces = [self._split(page) for page in corpus]

    @staticmethod
    def _split(page: bytes) -> list[bytes]:
        bounds = [0, *(m.end() for m in _TEXT_BLOCK.finditer(page)), len(page)]
        return [page[start:end] for start, end in pairwise(bounds)]

    def __len__(self) -> int:
        return len(self._pieces)

    def __call__(self, index: int) -> bytes:
        pieces = self._pieces[index % len(self._pieces)]
        copy = index // len(self._pieces)
        return (b"Copy %d. " % copy if copy else b"").join(pieces)


def serve_corpus_articles(
    server: PageServer, copies: CorpusCopies, indexes: Iterable[int]
) -> list[str]:
    """Serve `copies(i)` at /a/NNNNN.html for each index; returns the URLs.

    Bodies are made per request, so thousands of pages never sit in the benchmark's memory.
    """
    links = []
    for index in indexes:
        path = f"/a/{index:05d}.html"
        server.routes[path] = Route.lazy(partial(copies, index), "text/html")
        links.append(server.url(path))
    return links


def serve_feeds(
    server: PageServer, links: Sequence[str], per_feed: int, *, prefix: str = "/feeds/"
) -> list[str]:
    """Serve RSS feeds listing `links`, `per_feed` to a feed; returns the feed URLs."""
    feed_urls = []
    for number, start in enumerate(range(0, len(links), per_feed)):
        items = [
            FeedItem(title=f"Bench story {link.rsplit('/', 1)[-1]}", link=link, published=recent(n))
            for n, link in enumerate(links[start : start + per_feed])
        ]
        path = f"{prefix}{number:04d}.xml"
        body = rss_feed(items, title=f"Bench feed {prefix}{number}", link=server.base_url + "/")
        server.routes[path] = Route.of(body, "application/rss+xml")
        feed_urls.append(server.url(path))
    return feed_urls


# --- The project's rows --------------------------------------------------------------------------

_CREATE_FEEDS = """
import json, sys
from articles.models import Feed
for i, url in enumerate(json.load(sys.stdin)):
    Feed.objects.create(url=url, title=f"Bench feed {i}")
"""


def create_feeds(env: dict[str, str], urls: Sequence[str]) -> list[int]:
    """Create a Feed per URL through manage.py; returns their ids in URL order."""
    manage("shell", "-c", _CREATE_FEEDS, env=env, stdin=json.dumps(list(urls)))
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        rows = conn.execute(
            "SELECT url, id FROM articles_feed WHERE url = ANY(%s)", (list(urls),)
        ).fetchall()
    ids = dict(rows)
    return [ids[url] for url in urls]


def article_status_counts(db_url: str) -> Counter[str]:
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT status, count(*) FROM articles_article GROUP BY status")
        return Counter({status: count for status, count in rows})


# --- A Celery worker -----------------------------------------------------------------------------


def start_worker(
    env: dict[str, str],
    log_path: Path,
    *,
    pool: str = "solo",
    concurrency: int = 1,
    name: str = "bench",
    extra: Sequence[str] = (),
) -> subprocess.Popen[bytes]:
    """`celery -A newsdesk worker` on every queue, its output written to `log_path`."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "newsdesk",
        "worker",
        f"--pool={pool}",
        "--queues=poll,fetch,tag,default",
        "--without-mingle",
        "--without-gossip",
        f"--hostname={name}-{secrets.token_hex(4)}@%h",
        "--loglevel=INFO",
    ]
    if pool != "solo":
        command.append(f"--concurrency={concurrency}")
    with log_path.open("wb") as log:
        # A file, not a pipe nobody drains, which would block the worker.
        return subprocess.Popen(
            [*command, *extra], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )


def wait_worker_ready(
    worker: subprocess.Popen[bytes], log_path: Path, timeout: float = 90.0
) -> None:
    """Return once the worker logs that it is ready; SystemExit if it dies or takes too long."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            raise SystemExit(f"the worker exited at start:\n{log_path.read_text()[-3000:]}")
        if re.search(r"@\S+ ready\.", log_path.read_text(errors="replace")):
            return
        time.sleep(0.2)
    raise SystemExit(f"the worker was not ready after {timeout:.0f}s")


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """SIGTERM (a Celery worker's warm shutdown), then SIGKILL if it does not end in time."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of a process, its live descendants and its reaped children.

    A pool child replaced mid-run is counted through its parent's children_* times.
    """
    try:
        proc = psutil.Process(pid)
        times = proc.cpu_times()
        descendants = proc.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0.0
    total = times.user + times.system + times.children_user + times.children_system
    for child in descendants:
        try:
            child_times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += child_times.user + child_times.system
    return total


def tree_hwm(pid: int) -> int:
    """The largest kernel high-water mark (VmHWM) among a process and its live descendants."""
    try:
        procs = [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
    except psutil.NoSuchProcess:
        return 0
    return max((peak_rss_hwm(each) or 0) for each in procs)
