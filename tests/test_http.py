"""The safe HTTP client, driven against a loopback server; DNS is faked where a test needs it."""

from __future__ import annotations

import gzip
import pickle
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request
from werkzeug import Response as WerkzeugResponse

from articles import http as fetching
from articles.http import (
    BlockedAddressError,
    FetchError,
    FetchPolicy,
    FetchTimeoutError,
    HTTPStatusError,
    InvalidURLError,
    RateLimitedError,
    TooLargeError,
    TooManyRedirectsError,
    address_refusal,
    fetch,
    parse_allowed_hosts,
    parse_retry_after,
)

# The names tests fake DNS for, allowed on the test server's port only (never the others).
TEST_HOSTS = ("127.0.0.1", "news.example", "mixed.example", "rebind.example", "secure.example")


def allowing(server: HTTPServer | int, **options: Any) -> FetchPolicy:
    """A policy that lets fetches reach exactly the test server's port on the test host names."""
    port = server if isinstance(server, int) else server.port
    defaults: dict[str, Any] = {"connect_timeout": 2, "read_timeout": 2, "total_timeout": 10}
    return FetchPolicy(
        allow_hosts=parse_allowed_hosts(f"{host}:{port}" for host in TEST_HOSTS),
        **{**defaults, **options},
    )


class FakeDNS:
    """Answers chosen host names from a script; every other name goes to the real resolver."""

    def __init__(self) -> None:
        self.answers: dict[str, list[list[str]]] = {}
        self.calls: list[str] = []
        self._real = socket.getaddrinfo

    def set(self, host: str, *answers: list[str]) -> None:
        self.answers[host] = list(answers)

    def __call__(self, host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in self.answers:
            return self._real(host, port, *args, **kwargs)
        self.calls.append(host)
        script = self.answers[host]
        addresses = script.pop(0) if len(script) > 1 else script[0]
        return [_addrinfo(address, int(port)) for address in addresses]


def _addrinfo(address: str, port: int) -> tuple[Any, ...]:
    if ":" in address:
        return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    fake = FakeDNS()
    monkeypatch.setattr(fetching.socket, "getaddrinfo", fake)
    return fake


@pytest.fixture
def server(httpserver_ipv4: HTTPServer) -> HTTPServer:
    return httpserver_ipv4


def test_it_returns_the_body_headers_and_content_type(server: HTTPServer) -> None:
    server.expect_request("/page").respond_with_data(
        "<p>café</p>".encode("latin-1"),
        content_type="text/html; charset=ISO-8859-1",
        headers={"ETag": '"v1"'},
    )
    response = fetch(server.url_for("/page"), allowing(server))
    assert response.status == 200
    assert response.body == "<p>café</p>".encode("latin-1")
    assert response.content_type == "text/html"
    assert response.charset == "iso-8859-1"
    assert response.headers["etag"] == '"v1"'
    assert response.headers["ETag"] == '"v1"'
    assert response.url == server.url_for("/page")
    assert response.redirects == ()
    assert response.permanent_redirect is None


def test_it_drops_a_charset_python_does_not_know(server: HTTPServer) -> None:
    server.expect_request("/odd").respond_with_data(b"x", content_type="text/plain; charset=nope")
    response = fetch(server.url_for("/odd"), allowing(server))
    assert (response.content_type, response.charset) == ("text/plain", None)


def test_it_sends_the_policy_user_agent_and_the_accept_header(server: HTTPServer) -> None:
    policy = allowing(server, user_agent="Newsdesk-test/9 (+ops@example.org)")
    server.expect_request(
        "/ua",
        headers={
            "User-Agent": "Newsdesk-test/9 (+ops@example.org)",
            "Accept": "application/rss+xml",
        },
    ).respond_with_data(b"ok")
    response = fetch(server.url_for("/ua"), policy, accept="application/rss+xml")
    assert response.body == b"ok"


def test_it_sends_validators_and_returns_an_empty_body_on_304(server: HTTPServer) -> None:
    modified = "Wed, 01 Jan 2025 10:00:00 GMT"
    server.expect_request(
        "/feed", headers={"If-None-Match": '"abc"', "If-Modified-Since": modified}
    ).respond_with_data(b"", status=304, headers={"ETag": '"abc"'})
    response = fetch(
        server.url_for("/feed"), allowing(server), etag='"abc"', last_modified=modified
    )
    assert response.status == 304
    assert response.body == b""
    assert response.headers["etag"] == '"abc"'


def test_it_leaves_out_a_stored_validator_that_would_break_the_header(server: HTTPServer) -> None:
    def no_validator(request: Request) -> WerkzeugResponse:
        return WerkzeugResponse(str("If-None-Match" in request.headers))

    server.expect_request("/feed").respond_with_handler(no_validator)
    assert (
        fetch(server.url_for("/feed"), allowing(server), etag='"a"\r\nX-Evil: 1').body == b"False"
    )


def test_it_decodes_a_gzip_body(server: HTTPServer) -> None:
    server.expect_request("/gz").respond_with_data(
        gzip.compress(b"<rss>" + b"item " * 1000 + b"</rss>"),
        headers={"Content-Encoding": "gzip"},
        content_type="application/rss+xml",
    )
    response = fetch(server.url_for("/gz"), allowing(server))
    assert response.body.startswith(b"<rss>item item")
    assert len(response.body) == 5 * 1000 + 11


def _redirect(server: HTTPServer, path: str, location: str, status: int = 302) -> None:
    server.expect_request(path).respond_with_data(
        b"", status=status, headers={"Location": location}
    )


def test_it_follows_a_redirect_chain_and_records_each_hop(server: HTTPServer) -> None:
    _redirect(server, "/a", server.url_for("/b"), 302)
    _redirect(server, "/b", "/c?x=1", 301)  # relative, resolved against /b
    server.expect_request("/c", query_string="x=1").respond_with_data(b"final")
    response = fetch(server.url_for("/a"), allowing(server))
    assert response.body == b"final"
    assert response.url == server.url_for("/c?x=1")
    assert response.redirects == (server.url_for("/a"), server.url_for("/b"))
    assert response.permanent_redirect is None


@pytest.mark.parametrize(
    ("statuses", "permanent"),
    [((301,), True), ((308, 301), True), ((301, 302), False), ((307,), False), ((303,), False)],
)
def test_it_reports_a_permanent_redirect_only_when_every_hop_is_permanent(
    server: HTTPServer, statuses: tuple[int, ...], permanent: bool
) -> None:
    for hop, status in enumerate(statuses):
        _redirect(server, f"/hop{hop}", server.url_for(f"/hop{hop + 1}"), status)
    final = server.url_for(f"/hop{len(statuses)}")
    server.expect_request(f"/hop{len(statuses)}").respond_with_data(b"here")
    response = fetch(server.url_for("/hop0"), allowing(server))
    assert response.url == final
    assert response.permanent_redirect == (final if permanent else None)


def test_it_gives_up_on_a_redirect_loop(server: HTTPServer) -> None:
    _redirect(server, "/ping", server.url_for("/pong"))
    _redirect(server, "/pong", server.url_for("/ping"))
    with pytest.raises(TooManyRedirectsError, match="loop") as caught:
        fetch(server.url_for("/ping"), allowing(server))
    assert caught.value.retryable is False


def test_it_gives_up_after_max_redirects(server: HTTPServer) -> None:
    for hop in range(4):
        _redirect(server, f"/r{hop}", f"/r{hop + 1}")
    server.expect_request("/r4").respond_with_data(b"too far")
    policy = allowing(server, max_redirects=3)
    with pytest.raises(TooManyRedirectsError, match="more than 3 times"):
        fetch(server.url_for("/r0"), policy)
    assert fetch(server.url_for("/r1"), policy).body == b"too far"


def test_it_refuses_a_host_resolving_to_loopback_unless_loopback_is_allowed(
    server: HTTPServer, dns: FakeDNS
) -> None:
    dns.set("news.example", ["127.0.0.1"])
    server.expect_request("/story").respond_with_data(b"story")
    url = f"http://news.example:{server.port}/story"
    with pytest.raises(BlockedAddressError) as caught:
        fetch(url, FetchPolicy())
    assert "news.example resolves to 127.0.0.1, a loopback address" in caught.value.reason
    assert caught.value.retryable is False
    assert fetch(url, allowing(server)).body == b"story"


def test_it_refuses_when_any_resolved_address_is_private(server: HTTPServer, dns: FakeDNS) -> None:
    dns.set("mixed.example", ["127.0.0.1", "10.0.0.7"])
    server.expect_request("/").respond_with_data(b"never")
    with pytest.raises(BlockedAddressError, match=r"10\.0\.0\.7, a private address"):
        fetch(f"http://mixed.example:{server.port}/", allowing(server))
    assert server.log == []


def test_it_refuses_a_redirect_to_the_metadata_address(server: HTTPServer) -> None:
    _redirect(server, "/go", "http://169.254.169.254/latest/meta-data/")
    with pytest.raises(BlockedAddressError, match="cloud metadata"):
        fetch(server.url_for("/go"), allowing(server))


def test_it_rechecks_a_redirect_to_a_host_resolving_to_a_private_address(
    server: HTTPServer, dns: FakeDNS
) -> None:
    dns.set("intranet.example", ["192.168.1.20"])
    _redirect(server, "/go", f"http://intranet.example:{server.port}/admin")
    with pytest.raises(BlockedAddressError) as caught:
        fetch(server.url_for("/go"), allowing(server))
    assert "intranet.example resolves to 192.168.1.20, a private address" in str(caught.value)
    # The error keeps the URL that was asked for and names the redirect that led astray.
    assert caught.value.url == server.url_for("/go")
    assert caught.value.redirected_to == f"http://intranet.example:{server.port}/admin"
    assert caught.value.reason.startswith(
        f"{server.url_for('/go')} redirected to http://intranet.example:{server.port}/admin, "
        "which failed: refused:"
    )


def test_it_connects_to_the_address_it_checked(server: HTTPServer, dns: FakeDNS) -> None:
    # A rebinding server answers loopback first, then an address we must never reach.
    dns.set("rebind.example", ["127.0.0.1"], ["192.0.2.1"])
    server.expect_request("/", headers={"Host": f"rebind.example:{server.port}"}).respond_with_data(
        b"pinned"
    )
    response = fetch(f"http://rebind.example:{server.port}/", allowing(server))
    assert response.body == b"pinned"
    assert dns.calls == ["rebind.example"]


def test_it_refuses_a_private_address_without_opening_a_socket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_sockets(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(fetching.socket, "socket", no_sockets)
    with pytest.raises(BlockedAddressError) as caught:
        fetch("http://10.0.0.1/", allowing(80))
    assert caught.value.reason == "refused: 10.0.0.1 is a private address"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.0.1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("100.100.100.200", "cloud metadata"),
        ("100.64.0.1", "shared"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address to refuse, not a bind
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("fd00:ec2::254", "cloud metadata"),
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
        ("::", "unspecified"),
        ("::ffff:10.1.2.3", "private"),
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("2002:a00:1::", "private address (10.0.0.1) wrapped in IPv6"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "private"),  # Teredo
    ],
)
def test_it_never_allows_non_public_addresses(address: str, reason: str) -> None:
    refusal = address_refusal(address)
    assert refusal is not None
    assert reason in refusal


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_it_refuses_loopback_addresses(address: str) -> None:
    assert address_refusal(address) == "a loopback address"


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700:4700::1111", "2002:5db8:d70e::"])
def test_it_allows_public_addresses(address: str) -> None:
    assert address_refusal(address) is None


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.org/feed.xml",
        "gopher://example.org/",
        "data:text/plain,hello",
        "javascript:alert(1)",
        "example.org/feed.xml",
    ],
)
def test_it_refuses_urls_that_are_not_http(url: str) -> None:
    with pytest.raises(InvalidURLError, match="only http and https") as caught:
        fetch(url, allowing(80))
    assert caught.value.retryable is False


def test_it_refuses_a_redirect_to_a_file_url(server: HTTPServer) -> None:
    _redirect(server, "/sneaky", "file:///etc/passwd")
    with pytest.raises(InvalidURLError, match="file: scheme"):
        fetch(server.url_for("/sneaky"), allowing(server))


def test_it_refuses_urls_with_credentials(server: HTTPServer) -> None:
    url = server.url_for("/private").replace("http://", "http://editor:secret@")
    with pytest.raises(InvalidURLError, match="user name or password"):
        fetch(url, allowing(server))


def test_it_refuses_an_oversized_body_announced_by_content_length(server: HTTPServer) -> None:
    server.expect_request("/big").respond_with_data(b"x" * 5000)
    with pytest.raises(TooLargeError, match="declares 5000 bytes") as caught:
        fetch(server.url_for("/big"), allowing(server, max_bytes=4096))
    assert caught.value.retryable is False


def test_it_stops_an_oversized_streamed_body(server: HTTPServer) -> None:
    def endless() -> Iterator[bytes]:
        for _ in range(200):
            yield b"y" * 16384

    server.expect_request("/stream").respond_with_response(WerkzeugResponse(endless()))
    with pytest.raises(TooLargeError, match="more than 100000 bytes"):
        fetch(server.url_for("/stream"), allowing(server, max_bytes=100_000))


def test_it_stops_a_gzip_bomb_by_its_decoded_size(server: HTTPServer) -> None:
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 100_000
    server.expect_request("/bomb").respond_with_data(bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(TooLargeError, match="after decompression"):
        fetch(server.url_for("/bomb"), allowing(server, max_bytes=1024 * 1024))


def test_it_times_out_a_server_that_does_not_answer(server: HTTPServer) -> None:
    def slow(request: Request) -> WerkzeugResponse:
        time.sleep(1.0)
        return WerkzeugResponse("late")

    server.expect_request("/slow").respond_with_handler(slow)
    policy = allowing(server, read_timeout=0.5)
    with pytest.raises(FetchTimeoutError) as caught:
        fetch(server.url_for("/slow"), policy)
    assert caught.value.retryable is True
    assert "did not answer in time" in caught.value.reason


def test_it_bounds_a_slow_drip_body_by_the_total_timeout(server: HTTPServer) -> None:
    # Each byte arrives well within the read timeout; only the total deadline can stop it.
    def drip() -> Iterator[bytes]:
        for _ in range(40):
            time.sleep(0.05)
            yield b"."

    server.expect_request("/drip").respond_with_response(WerkzeugResponse(drip()))
    policy = allowing(server, read_timeout=2, total_timeout=0.5)
    with pytest.raises(FetchTimeoutError, match=r"took longer than 0\.5 s"):
        fetch(server.url_for("/drip"), policy)


def test_it_reports_a_refused_connection_as_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError) as caught:
        fetch(f"http://127.0.0.1:{port}/", allowing(port))
    assert type(caught.value) is FetchError
    assert caught.value.retryable is True
    assert caught.value.reason.startswith("could not connect to 127.0.0.1")
    assert caught.value.__cause__ is not None


@pytest.mark.parametrize(
    ("status", "retryable"), [(404, False), (410, False), (403, False), (408, True), (503, True)]
)
def test_it_says_whether_an_error_status_is_worth_retrying(
    server: HTTPServer, status: int, retryable: bool
) -> None:
    server.expect_request("/status").respond_with_data(b"no", status=status)
    with pytest.raises(HTTPStatusError) as caught:
        fetch(server.url_for("/status"), allowing(server))
    assert not isinstance(caught.value, RateLimitedError)
    assert (caught.value.status, caught.value.retryable) == (status, retryable)
    assert f"answered {status}" in caught.value.reason


def test_it_reads_retry_after_seconds_on_429(server: HTTPServer) -> None:
    server.expect_request("/busy").respond_with_data(
        b"", status=429, headers={"Retry-After": "120"}
    )
    with pytest.raises(RateLimitedError) as caught:
        fetch(server.url_for("/busy"), allowing(server))
    assert (caught.value.status, caught.value.retry_after) == (429, 120.0)
    assert caught.value.retryable is True


def test_it_reads_retry_after_as_a_date_on_503(server: HTTPServer) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    server.expect_request("/down").respond_with_data(
        b"", status=503, headers={"Retry-After": later}
    )
    with pytest.raises(RateLimitedError) as caught:
        fetch(server.url_for("/down"), allowing(server))
    assert caught.value.status == 503
    assert caught.value.retry_after is not None
    assert 3000 < caught.value.retry_after <= 3600


def test_it_parses_retry_after_forms() -> None:
    now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("30", now) == 30.0
    assert parse_retry_after("Sat, 01 Mar 2025 12:01:30 GMT", now) == 90.0
    assert parse_retry_after("Sat, 01 Mar 2025 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_its_errors_survive_pickling_for_celery() -> None:
    error = RateLimitedError("http://x.example/", "x answered 429", status=429, retry_after=5.0)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is RateLimitedError
    assert (copy.url, copy.reason, copy.status, copy.retry_after, copy.retryable) == (
        "http://x.example/",
        "x answered 429",
        429,
        5.0,
        True,
    )


# HTTPS: the socket goes to the pinned address, but SNI and certificate checks use the name.


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HTTPServer, Path]]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=secure.example", "-addext", "subjectAltName=DNS:secure.example"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.expect_request("/").respond_with_data(b"over tls")
    server.start()
    yield server, cert
    server.stop()


def test_it_verifies_tls_against_the_host_name_while_connecting_to_the_pinned_address(
    tls_server: tuple[HTTPServer, Path], dns: FakeDNS
) -> None:
    server, cert = tls_server
    dns.set("secure.example", ["127.0.0.1"])
    policy = allowing(server, ca_certs=str(cert))
    assert fetch(f"https://secure.example:{server.port}/", policy).body == b"over tls"


def test_it_refuses_a_certificate_for_another_name(tls_server: tuple[HTTPServer, Path]) -> None:
    server, cert = tls_server
    policy = allowing(server, ca_certs=str(cert))
    with pytest.raises(FetchError, match=r"TLS with 127\.0\.0\.1 failed") as caught:
        fetch(f"https://127.0.0.1:{server.port}/", policy)
    assert caught.value.retryable is False


def test_it_refuses_an_untrusted_certificate(
    tls_server: tuple[HTTPServer, Path], dns: FakeDNS
) -> None:
    server, _ = tls_server
    dns.set("secure.example", ["127.0.0.1"])
    with pytest.raises(FetchError, match="certificate verify failed"):
        fetch(f"https://secure.example:{server.port}/", allowing(server))
