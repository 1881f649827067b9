"""Real worker processes, a private Redis and a slow publisher, for the fault tests and
bench/faults.py. Nothing here is eager: tasks go through Redis to `celery worker` processes
that read and write the same PostgreSQL database as the caller."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import redis
from celery import Celery
from kombu import Connection
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Request, Response

ROOT = Path(__file__).resolve().parents[1]
LEAD = (
    "Regulators in Brussels opened a review of rare earth magnet imports on Tuesday, saying "
    "the bloc's carmakers depended on a single country for nearly all of their neodymium."
)


# host:port of every Publisher running, for the workers' exact allowance (NEWSDESK_ALLOW_HOSTS).
PUBLISHED: set[str] = set()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateRedis:
    """A redis-server of our own (no persistence) that a test may restart: never the shared one."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="nd-redis-")
        self.proc: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def postgres_bin(name: str) -> str:
    """A server binary from the newest PostgreSQL installed (initdb is not on PATH on Debian)."""
    found = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3])
    )
    if found:
        return str(found[-1])
    return shutil.which(name) or name


def as_server_user(argv: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: under root (containers, CI) run it as the
    `postgres` system user, which owns the cluster's directory."""
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb in a temp dir, own port and socket dir, trust
    auth) that a test may stop and start: never the machine's shared server."""

    def __init__(self, name: str = "newsdesk_private") -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="nd-pg-")
        self.data = os.path.join(self.dir, "data")
        self.name = name
        self.url = f"postgres://newsdesk@127.0.0.1:{self.port}/{name}"
        if os.geteuid() == 0:
            import pwd

            server = pwd.getpwnam("postgres")
            os.chown(self.dir, server.pw_uid, server.pw_gid)

    def init(self) -> PrivatePostgres:
        subprocess.run(
            as_server_user(
                [
                    postgres_bin("initdb"),
                    "-D",
                    self.data,
                    "-U",
                    "newsdesk",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-sync",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.start()
        subprocess.run(
            [
                postgres_bin("createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "newsdesk",
                self.name,
            ],
            check=True,
        )
        return self

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            as_server_user([postgres_bin("pg_ctl"), "-D", self.data, "-w", "-t", "60", *args]),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c shared_buffers=32MB -c max_connections=40"
        )
        self._ctl("-o", options, "-l", os.path.join(self.dir, "server.log"), "start")

    def stop(self) -> None:
        """A fast shutdown: every session is ended mid-statement, as a restart would."""
        self._ctl("-m", "fast", "stop")

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def query(self, sql: str, *params) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url.replace("postgres://", "postgresql://")) as conn:
            return conn.execute(sql, params).fetchall()

    def manage(self, *args: str, broker_url: str = "", timeout: float = 300) -> str:
        """Run a manage.py command against this cluster (in-process Celery, no broker)."""
        env = {
            **os.environ,
            "DATABASE_URL": self.url,
            "CELERY_BROKER_URL": broker_url,
            "REDIS_URL": broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "false" if broker_url else "true",
            "DEBUG": "false",
            "SECRET_KEY": "fault-tests-only",
        }
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout


class Worker:
    """One `celery worker` process group; `kill()` is SIGKILL to the whole group."""

    def __init__(self, database_url: str, broker_url: str, **env: str) -> None:
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": broker_url,
            "CELERY_BROKER_URL": broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "NEWSDESK_ALLOW_HOSTS": ",".join(sorted(PUBLISHED)),
            "NEWSDESK_HOST_DELAY": "0",
            "DEBUG": "false",
            "SECRET_KEY": "fault-tests-only",
            **env,
        }
        fd, self.log_path = tempfile.mkstemp(prefix="nd-worker-", suffix=".log")
        self.log = os.fdopen(fd, "w")
        self.proc: subprocess.Popen | None = None

    def start(self, concurrency: int = 1) -> Worker:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "newsdesk",
                "worker",
                "--pool=prefork",
                f"--concurrency={concurrency}",
                "--queues=poll,fetch,tag,default",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                f"--hostname=fault-{uuid.uuid4().hex[:8]}@%h",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return Path(self.log_path).read_text(errors="replace")[-4000:]


def send(broker_url: str, task: str, *args, queue: str = "default", times: int = 1) -> None:
    """Send a task by name through an explicit connection; `times` sends the same message
    (same id) again, as a broker redelivering it would."""
    task_id = str(uuid.uuid4())
    with Connection(broker_url) as conn:
        for _ in range(times):
            Celery(set_as_current=False).send_task(
                task, args=list(args), queue=queue, connection=conn, task_id=task_id
            )


def wait_for(predicate, timeout: float = 60.0, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


class Publisher:
    """A loopback site whose pages answer after `page_delay` seconds, logging each request's
    arrival time (monotonic) and path."""

    def __init__(self, page_delay: float = 0.0) -> None:
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.server.no_handler_status_code = 404
        self.page_delay = page_delay
        self.hits: list[tuple[float, str]] = []
        self.lock = threading.Lock()
        self.pages: dict[str, bytes] = {}
        self.feeds: dict[str, bytes] = {}
        # Every path but robots.txt (a 404 there allows everything).
        self.server.expect_request(re.compile(r"^/(?!robots\.txt$).*")).respond_with_handler(
            self._handle
        )
        self.server.start()
        self.host = f"127.0.0.1:{self.server.port}"
        PUBLISHED.add(self.host)

    def _handle(self, request: Request) -> Response:
        with self.lock:
            self.hits.append((time.monotonic(), request.path))
        if request.path in self.feeds:
            return Response(self.feeds[request.path], content_type="application/rss+xml")
        if request.path in self.pages:
            time.sleep(self.page_delay)
            return Response(self.pages[request.path], content_type="text/html; charset=utf-8")
        return Response("no such page", status=404)

    def url(self, path: str) -> str:
        return self.server.url_for(path)

    def add_feed(self, path: str, n: int, prefix: str, *, extra: list[dict] = ()) -> str:
        from tests.factories import article_html, rss

        items = [*extra]
        for i in range(n):
            page = f"/{prefix}/{i}"
            items.append({"title": f"{prefix} story {i}", "link": self.url(page)})
            self.pages[page] = article_html(
                f"{prefix} story {i}", [f"{LEAD} Report {i} of the {prefix} desk."]
            ).encode()
        self.feeds[path] = rss(items).encode()
        return self.url(path)

    def requests_to(self, prefix: str) -> list[float]:
        with self.lock:
            return [t for t, path in self.hits if path.startswith(prefix)]

    def stop(self) -> None:
        PUBLISHED.discard(self.host)
        self.server.stop()
