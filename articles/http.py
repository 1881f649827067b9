"""The one door to the network: a GET that refuses private addresses on every hop.

Every outbound request (feeds, article pages, robots.txt) goes through `fetch()`. It resolves
the host itself, refuses the whole hop if any address is not public, then connects to exactly
the address it checked, so a rebinding DNS server gets no second answer. Redirects are followed
here, one hop at a time, so each hop is checked the same way.

URLs carrying a user name or password are refused: every URL we fetch ends up stored and shown
on public pages, and authenticated feeds are out of scope.

No Django imports: this module is plain Python over urllib3.
"""

from __future__ import annotations

import codecs
import contextlib
import http.client
import ipaddress
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import quote, urljoin, urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    LocationValueError,
    NewConnectionError,
    SSLError,
)
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util.request import ACCEPT_ENCODING

try:
    import certifi
except ImportError:  # pragma: no cover - certifi comes with trafilatura
    certifi = None

_CHUNK_SIZE = 64 * 1024
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_PERMANENT_STATUSES = frozenset({301, 308})
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_SHARED_NETWORK = ipaddress.ip_network("100.64.0.0/10")
_NAT64_NETWORK = ipaddress.ip_network("64:ff9b::/96")
# Characters left alone when re-quoting a request target: the reserved set plus "%" so
# already-escaped URLs survive; spaces, controls and non-ASCII get percent-encoded.
_TARGET_SAFE = "!#$%&'()*+,/:;=?@[]~"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class FetchPolicy:
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    total_timeout: float = 30.0
    max_bytes: int = 10 * 1024 * 1024  # of the decoded body: also the decompression-bomb limit
    max_redirects: int = 5
    # Exact (host, port) pairs reachable whatever their address class: the one test server or
    # demo site on this machine. Built by `parse_allowed_hosts`; a URL must spell the host the
    # same way (no "localhost" for 127.0.0.1, no "127.1" or "0x7f000001") and use that port.
    allow_hosts: frozenset[tuple[str, int]] = frozenset()
    user_agent: str = "Newsdesk/0.1 (news aggregator)"
    # A server's Retry-After is obeyed up to this: "come back in a year" must not park a host.
    max_retry_after: float = 6 * 3600.0
    ca_certs: str | None = None  # a CA bundle path; None means certifi's bundle


class Headers(Mapping[str, str]):
    """Read-only response headers with case-insensitive lookups; repeated headers joined."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items = {key.lower(): value for key, value in items}

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass(frozen=True)
class Response:
    url: str  # final URL after redirects
    status: int
    headers: Mapping[str, str]
    body: bytes  # decoded; b"" for 304
    charset: str | None
    content_type: str | None  # mime type only, lower-case
    redirects: tuple[str, ...]  # the URLs that answered with a redirect, in order
    permanent_redirect: str | None  # final URL when every hop was 301/308
    elapsed: float


class FetchError(Exception):
    """A fetch failed; `reason` is a sentence for an operator, `retryable` says if waiting helps."""

    default_retryable: ClassVar[bool] = True
    redirected_to: str | None = None  # set when a redirect led to the hop that failed

    def __init__(
        self,
        url: str,
        reason: str,
        *,
        retryable: bool | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.url = url
        self.reason = reason
        self.status = status
        self.retryable = self.default_retryable if retryable is None else retryable

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields would break the default exception pickling Celery relies on.
        return (type(self), (self.url, self.reason), dict(self.__dict__))


class InvalidURLError(FetchError):
    default_retryable = False


class BlockedAddressError(FetchError):
    default_retryable = False


class TooLargeError(FetchError):
    default_retryable = False


class TooManyRedirectsError(FetchError):
    default_retryable = False


class FetchTimeoutError(FetchError):
    default_retryable = True


class HTTPStatusError(FetchError):
    default_retryable = False


class RateLimitedError(HTTPStatusError):
    default_retryable = True

    def __init__(
        self,
        url: str,
        reason: str,
        *,
        retryable: bool | None = None,
        status: int | None = 429,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(url, reason, retryable=retryable, status=status)
        self.retry_after = retry_after


def parse_allowed_hosts(entries: Iterable[str]) -> frozenset[tuple[str, int]]:
    """("127.0.0.1", 8765) pairs from "host:port" strings; ValueError names a malformed one."""
    allowed = set()
    for entry in entries:
        text = entry.strip()
        if not text:
            continue
        try:
            parts = urlsplit("//" + text)
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"{text!r} is not host:port ({exc})") from exc
        if not parts.hostname or port is None or parts.path or parts.query or "@" in text:
            raise ValueError(f"{text!r} is not host:port (e.g. 127.0.0.1:8765)")
        allowed.add((normal_host(parts.hostname), port))
    return frozenset(allowed)


def normal_host(host: str) -> str:
    """An IP literal in its one canonical form, else the lower-case IDNA name without a final dot.

    Only what `ipaddress` accepts counts as an address: "127.1", "0x7f000001", "2130706433" and
    "0177.0.0.1" stay names, which no allowance for 127.0.0.1 matches.
    """
    bare = host.strip("[]")
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    try:
        return bare.encode("idna").decode("ascii").lower().rstrip(".")
    except UnicodeError:
        return bare.lower().rstrip(".")


def address_refusal(address: str | IPAddress) -> str | None:
    """Why an address must not be contacted ("a private address"), or None if it is public."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return address_refusal(ip.ipv4_mapped)
    if ip in _METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    reason = _special_purpose(ip)
    if reason is None and isinstance(ip, ipaddress.IPv6Address):
        reason = _embedded_ipv4_refusal(ip)
    return reason


def _special_purpose(ip: IPAddress) -> str | None:
    checks = (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip in _SHARED_NETWORK, "a shared (carrier-grade NAT) address"),
        (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local, "a site-local address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "a non-public address"),
    )
    return next((reason for failed, reason in checks if failed), None)


def _embedded_ipv4_refusal(ip: ipaddress.IPv6Address) -> str | None:
    # 6to4, Teredo and NAT64 addresses carry an IPv4 address a gateway will forward to.
    embedded: list[ipaddress.IPv4Address] = []
    if ip.sixtofour is not None:
        embedded.append(ip.sixtofour)
    if ip.teredo is not None:
        embedded.extend(ip.teredo)
    if ip in _NAT64_NETWORK:
        embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    for inner in embedded:
        reason = address_refusal(inner)
        if reason is not None:
            return f"{reason} ({inner}) wrapped in IPv6"
    return None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def fetch(
    url: str,
    policy: FetchPolicy = FetchPolicy(),
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    accept: str | None = None,
) -> Response:
    """GET `url`, following redirects; raise a FetchError subclass for anything but 2xx/304."""
    started = time.monotonic()
    headers = _request_headers(policy, etag=etag, last_modified=last_modified, accept=accept)
    watchdog = _Watchdog(policy.total_timeout)
    try:
        return _follow(url, policy, headers, watchdog, started)
    finally:
        watchdog.cancel()


def _request_headers(
    policy: FetchPolicy, *, etag: str | None, last_modified: str | None, accept: str | None
) -> dict[str, str]:
    headers = {
        "User-Agent": policy.user_agent,
        "Accept": accept or "*/*",
        "Accept-Encoding": ACCEPT_ENCODING,
        "If-None-Match": etag,
        "If-Modified-Since": last_modified,
    }
    # Stored validators came from remote servers: drop any a header line could not carry.
    return {key: value.strip() for key, value in headers.items() if value and _header_safe(value)}


def _header_safe(value: str) -> bool:
    return bool(value.strip()) and value.isprintable() and value.isascii()


def _follow(
    url: str, policy: FetchPolicy, headers: dict[str, str], watchdog: _Watchdog, started: float
) -> Response:
    current, permanent = url, True
    hops: list[str] = []
    for _ in range(policy.max_redirects + 1):
        with _after_redirects(url, hops, current):
            target = _Target.parse(current)
            with (
                _translate_errors(current, watchdog),
                _open(target, policy, headers, watchdog) as raw,
            ):
                location = raw.headers.get("location") if raw.status in _REDIRECT_STATUSES else None
                if not location:
                    return _final_response(current, raw, policy, watchdog, hops, permanent, started)
        hops.append(current)
        permanent = permanent and raw.status in _PERMANENT_STATUSES
        current = urljoin(current, location.strip())
        if current in hops:
            raise TooManyRedirectsError(url, f"gave up: {url} redirects in a loop via {current}")
    raise TooManyRedirectsError(
        url, f"gave up: {url} redirected more than {policy.max_redirects} times"
    )


def _final_response(
    current: str,
    raw: urllib3.BaseHTTPResponse,
    policy: FetchPolicy,
    watchdog: _Watchdog,
    hops: list[str],
    permanent: bool,
    started: float,
) -> Response:
    body = _read_final(current, raw, policy)
    watchdog.raise_if_expired(current)
    content_type, charset = _parse_content_type(raw.headers.get("content-type"))
    return Response(
        url=current,
        status=raw.status,
        headers=Headers(raw.headers.itermerged()),
        body=body,
        charset=charset,
        content_type=content_type,
        redirects=tuple(hops),
        permanent_redirect=current if hops and permanent else None,
        elapsed=time.monotonic() - started,
    )


@contextlib.contextmanager
def _after_redirects(url: str, hops: list[str], current: str) -> Iterator[None]:
    """A failure after redirects names the redirect that led there and keeps the first URL."""
    try:
        yield
    except FetchError as exc:
        if not hops:
            raise
        exc.reason = f"{url} redirected to {current}, which failed: {exc.reason}"
        exc.args = (exc.reason,)
        exc.url = url
        exc.redirected_to = current
        raise


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str  # ASCII (IDNA) form, no brackets
    port: int
    request_target: str  # path and query as sent on the request line

    @classmethod
    def parse(cls, url: str) -> _Target:
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError as exc:
            raise InvalidURLError(url, f"refused: {url!r} is not a valid URL ({exc})") from exc
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            shown = f"the {scheme}: scheme" if scheme else "a URL without a scheme"
            raise InvalidURLError(url, f"refused: {url!r} uses {shown}; only http and https")
        if parts.username is not None or parts.password is not None:
            raise InvalidURLError(url, f"refused: {url!r} carries a user name or password")
        if not parts.hostname:
            raise InvalidURLError(url, f"refused: {url!r} has no host name")
        target = quote(parts.path or "/", safe=_TARGET_SAFE)
        if parts.query:
            target += "?" + quote(parts.query, safe=_TARGET_SAFE)
        return cls(
            url=url,
            scheme=scheme,
            host=_ascii_host(url, parts.hostname),
            port=port if port is not None else (443 if scheme == "https" else 80),
            request_target=target,
        )


def _ascii_host(url: str, hostname: str) -> str:
    try:
        return hostname.encode("idna").decode("ascii").rstrip(".") or hostname
    except UnicodeError as exc:
        raise InvalidURLError(url, f"refused: {hostname!r} is not a valid host name") from exc


AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]]


def _resolve_checked(target: _Target, policy: FetchPolicy) -> list[AddrInfo]:
    """All addresses of the host, after refusing the hop if any one of them is not public."""
    try:
        infos = socket.getaddrinfo(
            target.host, target.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError) as exc:
        permanent = isinstance(exc, socket.gaierror) and exc.errno == socket.EAI_NONAME
        raise FetchError(
            target.url, f"could not resolve {target.host} ({exc})", retryable=not permanent
        ) from exc
    if not infos:
        raise FetchError(target.url, f"could not resolve {target.host}: no addresses")
    allowed = _allowed(target, policy)
    for info in infos:
        address = info[4][0]
        reason = address_refusal(address)
        if reason is not None and allowed and _allowance_covers(target.host, address):
            continue
        if reason is not None:
            said = (
                f"{address} is"
                if target.host == address
                else f"{target.host} resolves to {address},"
            )
            raise BlockedAddressError(target.url, f"refused: {said} {reason}")
    return infos


def check_url(url: str, policy: FetchPolicy) -> None:
    """Raise what `fetch` would before sending anything: InvalidURLError for the URL itself,
    BlockedAddressError for its address class (after resolution, allowances applied), FetchError
    when the host does not resolve now. Used to vet URLs that are stored to be fetched later."""
    _resolve_checked(_Target.parse(url), policy)


def _allowed(target: _Target, policy: FetchPolicy) -> bool:
    return (normal_host(target.host), target.port) in policy.allow_hosts


def _allowance_covers(host: str, address: str) -> bool:
    """An allowed literal covers itself only; an allowed name only loopback addresses (it is
    there for a server on this machine), so it never opens the private network."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    try:
        return ipaddress.ip_address(normal_host(host)) == ip
    except ValueError:
        return ip.is_loopback and ip not in _METADATA_ADDRESSES


class _Watchdog:
    """Bounds a whole fetch: at the deadline it shuts the open socket so any read returns."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        # Duplicates of the connected sockets: shutting one down cuts the connection whatever
        # http.client or ssl did with the original object, and we own it, so its descriptor
        # cannot be reused by someone else before we close it.
        self._shadows: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for shadow in self._shadows:
                with contextlib.suppress(OSError):
                    shadow.shutdown(socket.SHUT_RDWR)

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._shadows.append(sock.dup())

    def release(self) -> None:
        with self._lock:
            for shadow in self._shadows:
                shadow.close()
            self._shadows.clear()

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def raise_if_expired(self, url: str) -> None:
        if self.expired or self.remaining() <= 0:
            raise FetchTimeoutError(url, f"gave up: {url} took longer than {self.seconds:g} s")

    def cancel(self) -> None:
        self._timer.cancel()
        self.release()


class _PinnedConnectionMixin:
    """Connects to addresses resolved and checked beforehand instead of looking the host up."""

    timeout: Any
    sock: socket.socket | None

    def __init__(
        self, *args: Any, pinned: list[AddrInfo], watchdog: _Watchdog, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._pinned = pinned
        self._watchdog = watchdog

    def _new_conn(self) -> socket.socket:
        failure: OSError | None = None
        for family, kind, proto, _, sockaddr in self._pinned:
            limit = self._watchdog.remaining()
            if isinstance(self.timeout, int | float):
                limit = min(limit, self.timeout)
            if limit <= 0:
                failure = TimeoutError("the fetch deadline passed")
                break
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(limit)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                failure = exc
                continue
            self._watchdog.watch(sock)
            return sock
        if isinstance(failure, TimeoutError):
            raise ConnectTimeoutError(self, f"connection timed out ({failure})") from failure
        raise NewConnectionError(self, f"could not connect ({failure})") from failure  # type: ignore[arg-type]


class _PinnedHTTPConnection(_PinnedConnectionMixin, HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedConnectionMixin, HTTPSConnection):
    pass


class _PinnedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


@contextlib.contextmanager
def _open(
    target: _Target, policy: FetchPolicy, headers: dict[str, str], watchdog: _Watchdog
) -> Iterator[urllib3.BaseHTTPResponse]:
    """One hop: check the host's addresses, send the GET, yield the unread response."""
    watchdog.raise_if_expired(target.url)
    pinned = _resolve_checked(target, policy)
    watchdog.raise_if_expired(target.url)  # resolving may have used up the time
    remaining = max(watchdog.remaining(), 0.001)  # urllib3 refuses a zero timeout
    timeout = urllib3.Timeout(
        connect=min(policy.connect_timeout, remaining), read=min(policy.read_timeout, remaining)
    )
    pool: HTTPConnectionPool
    if target.scheme == "https":
        pool = _PinnedHTTPSConnectionPool(
            target.host,
            target.port,
            timeout=timeout,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            ca_certs=policy.ca_certs or (certifi.where() if certifi else None),
            pinned=pinned,
            watchdog=watchdog,
        )
    else:
        pool = _PinnedHTTPConnectionPool(
            target.host, target.port, timeout=timeout, maxsize=1, pinned=pinned, watchdog=watchdog
        )
    try:
        response = pool.urlopen(
            "GET",
            target.request_target,
            headers=headers,
            retries=False,
            redirect=False,
            preload_content=False,
            decode_content=True,
            assert_same_host=False,
        )
        try:
            yield response
        finally:
            response.close()
    finally:
        pool.close()
        watchdog.release()


@contextlib.contextmanager
def _translate_errors(url: str, watchdog: _Watchdog) -> Iterator[None]:
    """Turn urllib3, socket and http.client errors into FetchErrors an operator can read."""
    try:
        yield
    except (Urllib3Error, OSError, http.client.HTTPException) as exc:
        if watchdog.expired or watchdog.remaining() <= 0:
            raise FetchTimeoutError(
                url, f"gave up: {url} took longer than {watchdog.seconds:g} s"
            ) from exc
        raise _describe(url, exc) from exc


def _describe(url: str, exc: Exception) -> FetchError:
    host = urlsplit(url).hostname or url
    if isinstance(exc, NewConnectionError):
        return FetchError(url, f"could not connect to {host}: {_cause(exc)}")
    if isinstance(exc, Urllib3Timeout | TimeoutError):
        return FetchTimeoutError(url, f"gave up: {host} did not answer in time ({_cause(exc)})")
    if isinstance(exc, SSLError):
        return FetchError(url, f"TLS with {host} failed: {_cause(exc)}", retryable=False)
    if isinstance(exc, DecodeError):
        return FetchError(url, f"{host} sent a body that does not decompress", retryable=False)
    if isinstance(exc, LocationValueError):
        return InvalidURLError(url, f"refused: {url!r} is not a valid URL ({exc})")
    return FetchError(url, f"connection to {host} failed: {_cause(exc)}")


def _cause(exc: BaseException) -> str:
    innermost = exc
    while innermost.__cause__ is not None:
        innermost = innermost.__cause__
    return str(innermost) or type(innermost).__name__


def _read_final(url: str, raw: urllib3.BaseHTTPResponse, policy: FetchPolicy) -> bytes:
    if raw.status == 304:
        return b""
    if not 200 <= raw.status < 300:
        raise _status_error(url, raw, policy.max_retry_after)
    declared = raw.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > policy.max_bytes:
        raise TooLargeError(
            url, f"refused: {url} declares {declared} bytes, over the {policy.max_bytes} limit"
        )
    return _read_limited(url, raw, policy.max_bytes)


def _read_limited(url: str, raw: urllib3.BaseHTTPResponse, max_bytes: int) -> bytes:
    # read1 returns decoded bytes, at most _CHUNK_SIZE per call however much the server
    # compressed, so a decompression bomb is stopped after max_bytes + one chunk.
    chunks: list[bytes] = []
    size = 0
    while chunk := raw.read1(_CHUNK_SIZE):
        size += len(chunk)
        if size > max_bytes:
            raise TooLargeError(
                url, f"stopped: {url} sent more than {max_bytes} bytes (after decompression)"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _status_error(url: str, raw: urllib3.BaseHTTPResponse, cap: float) -> HTTPStatusError:
    status = raw.status
    reason = f"{urlsplit(url).hostname} answered {status} {raw.reason or ''}".rstrip()
    retry_after = raw.headers.get("retry-after")
    if status == 429 or (status == 503 and retry_after):
        asked = parse_retry_after(retry_after)
        wait = None if asked is None else min(asked, cap)
        if wait is not None:
            capped = f", capped from {asked:.0f} s" if asked > cap else ""
            reason = f"{reason}; waiting {wait:.0f} s as Retry-After asks{capped}"
        return RateLimitedError(url, reason, status=status, retry_after=wait)
    return HTTPStatusError(url, reason, status=status, retryable=status >= 500 or status == 408)


def _parse_content_type(value: str | None) -> tuple[str | None, str | None]:
    """(mime type, charset) from a Content-Type header; a charset Python lacks becomes None."""
    if not value:
        return None, None
    mime, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, raw_value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = _known_charset(raw_value.strip().strip("\"'"))
    return mime.strip().lower() or None, charset


def _known_charset(name: str) -> str | None:
    try:
        codecs.lookup(name)
    except LookupError:
        return None
    return name.lower()
