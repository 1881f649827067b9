"""NEWSDESK_ALLOW_HOSTS opens exactly one host:port: every other spelling of it stays refused."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response as WerkzeugResponse

from articles.fetching import polite_fetch
from articles.http import (
    BlockedAddressError,
    FetchError,
    FetchPolicy,
    fetch,
    normal_host,
    parse_allowed_hosts,
)


@pytest.fixture
def server():
    # Its own server on 127.0.0.1, so the autouse allowance of the shared one does not apply.
    with HTTPServer(host="127.0.0.1", port=0) as started:
        started.no_handler_status_code = 404
        yield started


def other_spellings(port: int) -> list[str]:
    return [
        f"http://localhost:{port}/story",
        f"http://0x7f000001:{port}/story",
        f"http://2130706433:{port}/story",
        f"http://0177.0.0.1:{port}/story",
        f"http://127.1:{port}/story",
        f"http://[::ffff:127.0.0.1]:{port}/story",
        f"http://127.0.0.2:{port}/story",
        f"http://127.0.0.1:{port + 1 if port < 65535 else port - 1}/story",
        "http://127.0.0.1/story",
    ]


def exact(server: HTTPServer) -> FetchPolicy:
    return FetchPolicy(allow_hosts=parse_allowed_hosts([f"127.0.0.1:{server.port}"]))


def test_the_exact_host_and_port_is_reachable(server: HTTPServer) -> None:
    server.expect_request("/story").respond_with_data(b"story")
    assert fetch(server.url_for("/story"), exact(server)).body == b"story"


def test_every_other_spelling_of_the_address_is_refused(server: HTTPServer) -> None:
    server.expect_request("/story").respond_with_data(b"story")
    for url in other_spellings(server.port):
        with pytest.raises(FetchError) as caught:
            fetch(url, exact(server))
        assert caught.value.retryable is False, url
    assert server.log == []


@pytest.mark.parametrize(
    "location",
    [
        "http://localhost:{port}/story",
        "http://0x7f000001:{port}/story",
        "http://2130706433:{port}/story",
        "http://0177.0.0.1:{port}/story",
        "http://127.1:{port}/story",
        "http://[::ffff:127.0.0.1]:{port}/story",
        "//localhost:{port}/story",
        "//localhost/story",
        "http://127.0.0.1:6379/",
    ],
)
def test_redirects_to_other_spellings_are_refused(server: HTTPServer, location: str) -> None:
    target = location.format(port=server.port)
    server.expect_request("/go").respond_with_response(
        WerkzeugResponse(status=302, headers={"Location": target})
    )
    server.expect_request("/story").respond_with_data(b"story")
    with pytest.raises(BlockedAddressError) as caught:
        fetch(server.url_for("/go"), exact(server))
    assert caught.value.url == server.url_for("/go")
    assert "redirected to" in caught.value.reason
    assert [request.path for request, _ in server.log] == ["/go"]


def test_the_setting_drives_the_client(server: HTTPServer, settings) -> None:
    server.expect_request("/story").respond_with_data(b"story")
    settings.NEWSDESK_ALLOW_HOSTS = [f"127.0.0.1:{server.port}"]
    assert polite_fetch(server.url_for("/story")).body == b"story"
    with pytest.raises(BlockedAddressError):
        polite_fetch(f"http://localhost:{server.port}/story")
    settings.NEWSDESK_ALLOW_HOSTS = []
    with pytest.raises(BlockedAddressError, match="loopback"):
        polite_fetch(server.url_for("/story"))


def test_an_allowed_name_reaches_loopback_only() -> None:
    allowed = parse_allowed_hosts(["demo.test:8765", "[::1]:80", "127.0.0.1:1"])
    assert allowed == frozenset({("demo.test", 8765), ("::1", 80), ("127.0.0.1", 1)})
    assert normal_host("0x7f000001") == "0x7f000001"
    assert normal_host("[0:0::1]") == "::1"
    assert normal_host("Demo.Test.") == "demo.test"


@pytest.mark.parametrize("entry", ["127.0.0.1", "127.0.0.1:port", "http://x:1/path", "a@b:1"])
def test_malformed_allowances_are_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        parse_allowed_hosts([entry])


def test_a_malformed_allowance_fails_the_system_check(settings) -> None:
    from newsdesk.checks import check_allowed_hosts

    settings.NEWSDESK_ALLOW_HOSTS = ["localhost"]
    (error,) = check_allowed_hosts(None)
    assert error.id == "newsdesk.E001"
