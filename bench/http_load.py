"""Requests per second of the busiest tag page under load, against a trivial Django view.

Both are served by the same gunicorn, with the same settings and middleware, in the same run,
and loaded by wrk for the same time at the same concurrency. Needs a database filled by
bench/generate.py and wrk (Debian package `wrk`).

    uv run python bench/http_load.py --database newsdesk_scale [--seconds 30 --connections 32]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import RssSampler, database_url, stop_process  # noqa: E402

WRK_LINE = re.compile(r"Requests/sec:\s+([\d.]+)")
WRK_ERRORS = re.compile(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)")
LATENCY = re.compile(r"Latency\s+([\d.]+)(\w+)\s+([\d.]+)(\w+)\s+([\d.]+)(\w+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def biggest_tag(db_url: str) -> tuple[str, int]:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT slug, article_count FROM tags_tag WHERE is_active "
            "ORDER BY article_count DESC LIMIT 1"
        ).fetchone()
    if row is None:
        sys.exit("The database has no topics: fill it with bench/generate.py first.")
    return row[0], row[1]


def server_env(db_url: str, hot_seconds: int = 10) -> dict[str, str]:
    env = {
        "NEWSDESK_HOT_PAGE_SECONDS": str(hot_seconds),
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": db_url,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "WARNING",
    }
    # The production cache: rendered topic pages are shared by all gunicorn workers.
    env["REDIS_URL"] = env["CELERY_BROKER_URL"] = "redis://127.0.0.1:6379/12"
    return env


def collectstatic(db_url: str) -> None:
    """As a deployment does before starting gunicorn with DEBUG off."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=ROOT,
        env=server_env(db_url),
        check=True,
    )


def start_gunicorn(
    db_url: str, port: int, workers: int, threads: int, hot_seconds: int
) -> subprocess.Popen:
    env = server_env(db_url, hot_seconds)
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "newsdesk.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        "--worker-class=gthread",
        f"--threads={threads}",
        "--log-level=warning",
    ]
    return subprocess.Popen(cmd, cwd=ROOT, env=env)


def wait_until_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    sys.exit(f"gunicorn did not answer {url} in {timeout:.0f} s")


def wrk(url: str, seconds: int, connections: int, threads: int) -> dict[str, object]:
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(WRK_LINE.search(out).group(1))
    errors = 0
    for non_2xx, socket_errors in WRK_ERRORS.findall(out):
        if non_2xx:
            errors += int(non_2xx)
        if socket_errors:
            errors += sum(int(n) for n in re.findall(r"\d+", socket_errors))
    p50 = re.search(r"50%\s+([\d.]+\w+)", out)
    p99 = re.search(r"99%\s+([\d.]+\w+)", out)
    return {
        "rps": rps,
        "errors": errors,
        "p50": p50.group(1) if p50 else "",
        "p99": p99.group(1) if p99 else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="newsdesk_scale")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")

    db_url = database_url(args.database)
    slug, count = biggest_tag(db_url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    targets = {
        "trivial view": f"{base}/bench/trivial/",
        "biggest tag, page 1": f"{base}/tags/{slug}/",
    }

    collectstatic(db_url)
    results, peak = {}, 0
    # The same gunicorn twice: as configured (whole topic pages kept 10 s in each worker), and
    # with that off, so the cost of a real render under load shows too.
    for hot_seconds in (10, 0):
        server = start_gunicorn(db_url, port, args.workers, args.threads, hot_seconds)
        try:
            wait_until_up(targets["trivial view"])
            for url in targets.values():
                wrk(url, 3, args.connections, 2)  # warm every worker's connections and caches
            with RssSampler(server.pid) as sampler:
                if hot_seconds:
                    for name, url in targets.items():
                        results[name] = wrk(url, args.seconds, args.connections, 2)
                else:
                    results["biggest tag, page 1, no hot cache"] = wrk(
                        targets["biggest tag, page 1"], args.seconds, args.connections, 2
                    )
            peak = max(peak, sampler.peak)
        finally:
            stop_process(server)

    ratio = results["biggest tag, page 1"]["rps"] / results["trivial view"]["rps"]
    errors = sum(r["errors"] for r in results.values())
    report = {
        "tag": slug,
        "tag_articles": count,
        "seconds": args.seconds,
        "connections": args.connections,
        "gunicorn": f"{args.workers} workers x {args.threads} threads (gthread)",
        "results": results,
        "ratio": round(ratio, 3),
        "errors": errors,
        "ratio_without_hot_cache": round(
            results["biggest tag, page 1, no hot cache"]["rps"] / results["trivial view"]["rps"], 3
        ),
        "peak_rss_mb": round(peak / 2**20, 1),
        "load_average": os.getloadavg(),
        "pass": ratio >= 0.5 and errors == 0,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"gunicorn {report['gunicorn']}, wrk {args.connections} connections x {args.seconds} s")
    for name, r in results.items():
        latency = f"p50 {r['p50']:>8}  p99 {r['p99']:>8}"
        print(f"  {name:<34} {r['rps']:>8.1f} req/s  {latency}  errors {r['errors']}")
    print(f"  ratio tag page / trivial view: {ratio:.2f} (target >= 0.5)  errors: {errors}")
    print(f"  without the hot-page cache:    {report['ratio_without_hot_cache']:.2f}")
    print(f"  peak RSS of gunicorn (all workers): {report['peak_rss_mb']} MB")
    print("PASS" if report["pass"] else "FAIL")


if __name__ == "__main__":
    main()
