"""The HTTP server under `taskapp serve` (Granian): the limits it applies before the API sees a
request are the ones the contract and the OpenAPI document state."""

import http.client

import pytest

from tests.support.served import Served


@pytest.fixture(scope="module")
def served(database):
    server = Served(database.app_url, workers=1, threads=2)
    yield server
    server.close()


def send(served, target: str, headers: dict | None = None) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    try:
        connection.request("GET", target, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        connection.close()


def test_a_long_target_below_the_limit_reaches_the_api_and_one_at_it_is_414(served, alice):
    path = "/api/me/tasks?q="
    status, kind, body = send(served, path + "a" * (65534 - len(path)), alice.headers)
    assert status == 422 and kind == "application/json" and b'"q"' in body  # the API's own answer
    status, _, body = send(served, path + "a" * (65535 - len(path)), alice.headers)
    assert status == 414 and body == b""


def test_headers_over_the_servers_buffer_or_too_many_are_431(served, alice):
    status, kind, _ = send(served, "/api/me/summary", {**alice.headers, "X-Padding": "p" * 300_000})
    assert status == 200 and kind == "application/json"
    status, _, body = send(served, "/api/me/summary", {**alice.headers, "X-Padding": "p" * 600_000})
    assert status == 431 and body == b""
    many = {f"X-Field-{n}": "x" for n in range(99)}  # with Authorization and Host: 101 fields
    status, _, body = send(served, "/api/me/summary", {**alice.headers, **many})
    assert status == 431 and body == b""
    fewer = {f"X-Field-{n}": "x" for n in range(90)}
    assert send(served, "/api/me/summary", {**alice.headers, **fewer})[0] == 200
