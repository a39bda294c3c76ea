"""Where a webhook may be sent: an allowlist of global unicast addresses, IPv6 forms judged by
the IPv4 address inside them, and URLs normalised before they are stored.

Only loopback, private and documentation addresses appear where anything could connect.
"""

import ipaddress

import pytest

from taskapp.webhooks.targets import RefusedTarget, check, parse, refused_address

# An IPv6 address carrying a private or loopback IPv4 address is refused, whatever the form.
EMBEDDING_PRIVATE = {
    "IPv4-mapped": "::ffff:127.0.0.1",
    "IPv4-compatible": "::10.0.0.1",
    "6to4 of loopback": "2002:7f00:1::1",
    "6to4 of private": "2002:c0a8:0101::1",
    "NAT64": "64:ff9b::a9fe:a9fe",  # 169.254.169.254, the metadata service
    "Teredo to a private client": "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # client 192.0.2.45
}
# Space that is not global unicast.
NOT_GLOBAL = {
    "site-local (deprecated)": "fec0::1",
    "unique local": "fd12:3456::1",
    "documentation": "2001:db8::1",
    "documentation (RFC 9637)": "3fff::1",
    "local NAT64": "64:ff9b:1::1",
    "loopback": "::1",
    "unspecified": "::",
    "link-local": "fe80::1",
    "multicast": "ff02::1",
    "IPv4 shared (carrier-grade NAT)": "100.64.0.1",
    "IPv4 documentation": "192.0.2.1",
    "IPv4 benchmarking": "198.18.0.1",
}
# Public forms: judged by the public IPv4 inside, or global unicast themselves.
PUBLIC = ["8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1", "64:ff9b::808:808"]


@pytest.mark.parametrize("address", EMBEDDING_PRIVATE.values(), ids=EMBEDDING_PRIVATE.keys())
def test_an_ipv6_form_of_a_private_ipv4_address_is_refused(address):
    reason = refused_address(ipaddress.ip_address(address))
    assert reason is not None and "inside an IPv6 address" in reason


@pytest.mark.parametrize("address", NOT_GLOBAL.values(), ids=NOT_GLOBAL.keys())
def test_an_address_outside_global_unicast_is_refused(address):
    assert refused_address(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_a_global_unicast_address_passes(address):
    assert refused_address(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("host", ["[2002:7f00:1::1]", "[fec0::1]", "[64:ff9b::7f00:1]", "[::127.0.0.1]"])
def test_the_check_refuses_such_hosts_in_urls(host):
    with pytest.raises(RefusedTarget):
        check(f"https://{host}/hook", allow_private=False)


def test_a_url_is_stored_with_an_ascii_host_and_a_percent_encoded_path():
    *_, normalised = parse("https://bücher.example/hooks/äö?q=ü&x=1", allow_private=False)
    assert normalised == "https://xn--bcher-kva.example/hooks/%C3%A4%C3%B6?q=%C3%BC&x=1"


def test_a_url_already_encoded_is_left_as_it_is():
    url = "https://hooks.example.com:8443/a%20b/c?d=%C3%BC&e=1"
    assert parse(url, allow_private=False)[-1] == url


@pytest.mark.parametrize("url, reason", [
    ("https://" + "ü" * 70 + ".example/", "internationalised"),  # a label longer than DNS allows
    ("https://exa\u0085mple.com/", "control characters"),
    ("https://example.com/" + "é" * 700, "percent-encoded"),
])
def test_a_url_that_cannot_be_normalised_is_refused(url, reason):
    with pytest.raises(RefusedTarget, match=reason):
        parse(url, allow_private=False)


def test_the_checked_target_of_a_loopback_url_connects_to_the_normalised_path():
    target = check("http://127.0.0.1:9/ü", allow_private=True)
    assert (target.address, target.path, target.url) == ("127.0.0.1", "/%C3%BC", "http://127.0.0.1:9/%C3%BC")


@pytest.mark.parametrize("url, reason", [
    ("https://example.com:0/", "port"),
    ("https://[::1]x/", "host is not valid"),
    ("https://[v1.x]/", "host is not valid"),
    ("https://straße.example/", "IDNA versions"),
])
def test_a_url_whose_stored_form_would_not_be_what_is_called_is_refused(url, reason):
    with pytest.raises(RefusedTarget, match=reason):
        parse(url, allow_private=True)


def test_a_receiver_that_trickles_its_body_after_connection_close_is_cut_off_at_the_deadline():
    """http.client closes the connection itself on `Connection: close`, before the body is read:
    the deadline still holds for the body."""
    import socket
    import threading
    import time

    from taskapp.webhooks.targets import post

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle():
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
            while not stop.wait(0.3):
                try:
                    connection.sendall(b".")
                except OSError:
                    return

    threading.Thread(target=trickle, daemon=True).start()
    target = check(f"http://127.0.0.1:{listener.getsockname()[1]}/hook", allow_private=True)
    started = time.monotonic()
    try:
        with pytest.raises(TimeoutError):
            post(target, b"{}", {"content-type": "application/json"}, timeout=1.0)
        assert time.monotonic() - started < 5
    finally:
        stop.set()
        listener.close()
