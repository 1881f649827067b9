"""A loopback web server for the bundled demo publishers (standard library only).

The site files write absolute URLs as ``{{BASE}}``; the server swaps in its own address when it
serves them, because the port is only known once the socket is bound.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

logger = logging.getLogger(__name__)

SITE_ROOT = Path(__file__).resolve().parent / "site"
BASE_PLACEHOLDER = "{{BASE}}"
FEED_FILE_NAMES = ("feed.xml", "atom.xml")

_CONTENT_TYPES = {
    ".html": "text/html",
    ".xml": "application/xml",
    ".txt": "text/plain",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
}
_FEED_CONTENT_TYPES = {"feed.xml": "application/rss+xml", "atom.xml": "application/atom+xml"}
_BINARY_TYPES = {"image/png", "image/jpeg", "application/octet-stream"}

_NOT_FOUND_PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Page not found</title></head>
<body><h1>Page not found</h1><p>Sorry, we could not find that page.</p></body></html>
"""
_FORBIDDEN_PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Forbidden</title></head>
<body><h1>Forbidden</h1></body></html>
"""


@dataclass(frozen=True)
class Payload:
    """The bytes and validators of one served file."""

    body: bytes
    content_type: str
    etag: str
    mtime: float


def resolve_request_path(root: Path, target: str) -> Path | None:
    """Map a request target to a path under ``root``, or ``None`` when it must be refused.

    ``root`` must already be resolved. Segments are joined one by one, so an absolute or
    percent-encoded absolute path stays inside the root; dot segments and symlinks that land
    outside the root are refused.
    """
    raw_path = target.split("?", 1)[0].split("#", 1)[0]
    if not raw_path.startswith("/"):
        # Absolute-form targets ("GET http://host/path") carry the path after the authority.
        raw_path = urlsplit(raw_path).path
    path = unquote(raw_path)
    if "\x00" in path or "\\" in path:
        return None
    segments = [segment for segment in path.split("/") if segment]
    # Dot-files and dot segments are never part of the site; refusing them covers "..".
    if any(segment.startswith(".") for segment in segments):
        return None
    candidate = root.joinpath(*segments).resolve()
    if not candidate.is_relative_to(root):
        return None
    return candidate


def content_type_for(path: Path) -> str:
    """The Content-Type header for ``path``, with a UTF-8 charset on text types."""
    base = _FEED_CONTENT_TYPES.get(path.name) or _CONTENT_TYPES.get(
        path.suffix.lower(), "application/octet-stream"
    )
    return base if base in _BINARY_TYPES else f"{base}; charset=utf-8"


def load_payload(path: Path, base_url: str) -> Payload:
    """Read ``path`` and substitute the placeholder in text files; raises ``OSError``."""
    body = path.read_bytes()
    content_type = content_type_for(path)
    if "charset=" in content_type:
        body = body.replace(BASE_PLACEHOLDER.encode(), base_url.encode())
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return Payload(body=body, content_type=content_type, etag=etag, mtime=path.stat().st_mtime)


def is_not_modified(headers: Mapping[str, str], payload: Payload) -> bool:
    """Apply If-None-Match, else If-Modified-Since, as RFC 9110 orders them."""
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        return _etag_matches(if_none_match, payload.etag)
    if_modified_since = headers.get("If-Modified-Since")
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        return False
    # HTTP dates have one-second resolution; compare whole seconds.
    return int(payload.mtime) <= since.timestamp()


def _etag_matches(header: str, etag: str) -> bool:
    candidates = [candidate.strip() for candidate in header.split(",")]
    if "*" in candidates:
        return True
    # If-None-Match uses the weak comparison: a W/ prefix does not matter.
    return any(candidate.removeprefix("W/") == etag for candidate in candidates)


class _DemoServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], root: Path) -> None:
        super().__init__(address, _DemoHandler)
        self.root = root
        host, port = self.server_address[:2]
        self.base_url = f"http://{host}:{port}"


class _DemoHandler(BaseHTTPRequestHandler):
    server: _DemoServer
    server_version = "NewsdeskDemo/1.0"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._respond(send_body=True)

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("demo site %s: %s", self.address_string(), format % args)

    def _respond(self, *, send_body: bool) -> None:
        path = resolve_request_path(self.server.root, self.path)
        if path is None:
            self._send_page(HTTPStatus.FORBIDDEN, _FORBIDDEN_PAGE, send_body=send_body)
            return
        if path.is_dir():
            if not self.path.split("?", 1)[0].endswith("/"):
                self._redirect_to_directory()
                return
            path = path / "index.html"
        try:
            payload = load_payload(path, self.server.base_url)
        except OSError:
            self._send_page(HTTPStatus.NOT_FOUND, _NOT_FOUND_PAGE, send_body=send_body)
            return
        if is_not_modified(self.headers, payload):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self._send_validators(payload)
            self.end_headers()
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", payload.content_type)
        self.send_header("Content-Length", str(len(payload.body)))
        self._send_validators(payload)
        self.end_headers()
        if send_body:
            self.wfile.write(payload.body)

    def _send_validators(self, payload: Payload) -> None:
        self.send_header("ETag", payload.etag)
        self.send_header("Last-Modified", formatdate(payload.mtime, usegmt=True))

    def _redirect_to_directory(self) -> None:
        path, _, query = self.path.partition("?")
        location = self.server.base_url + path + "/" + (f"?{query}" if query else "")
        self.send_response(HTTPStatus.MOVED_PERMANENTLY)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send_page(self, status: HTTPStatus, body: bytes, *, send_body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)


class DemoSite:
    """The demo publishers served over HTTP on a background thread; use as a context manager."""

    def __init__(self, root: Path | None = None, host: str = "127.0.0.1", port: int = 0) -> None:
        self.root = (root or SITE_ROOT).resolve()
        self.host = host
        self.port = port
        self.base_url = ""
        self._server: _DemoServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> DemoSite:
        if self._server is not None:
            raise RuntimeError("DemoSite is already running")
        server = _DemoServer((self.host, self.port), self.root)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="demo-site",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        self.base_url = server.base_url
        logger.debug("demo site serving %s at %s", self.root, self.base_url)
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        self._server = self._thread = None
        self.base_url = ""

    def __enter__(self) -> DemoSite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def feed_urls(self) -> list[str]:
        """Absolute URLs of every publisher's feed."""
        base = self._running_base_url()
        return [
            f"{base}/{feed.parent.name}/{feed.name}"
            for feed in sorted(self.root.glob("*/*"))
            if feed.name in FEED_FILE_NAMES and feed.is_file()
        ]

    def home_urls(self) -> list[str]:
        """Absolute URLs of every publisher's home page, for feed autodiscovery."""
        base = self._running_base_url()
        return [
            f"{base}/{home.parent.name}/"
            for home in sorted(self.root.glob("*/index.html"))
            if home.is_file()
        ]

    def _running_base_url(self) -> str:
        if not self.base_url:
            raise RuntimeError("DemoSite is not running; call start() first")
        return self.base_url


def main(argv: list[str] | None = None) -> None:
    """Serve the demo publishers in the foreground until interrupted."""
    parser = argparse.ArgumentParser(description="Serve the Newsdesk demo publishers.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    with DemoSite(host=args.host, port=args.port) as site:
        print(f"Demo publishers at {site.base_url}/ (Ctrl-C to stop)")
        for url in site.feed_urls():
            print(f"  feed  {url}")
        for url in site.home_urls():
            print(f"  home  {url}")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("stopped")
