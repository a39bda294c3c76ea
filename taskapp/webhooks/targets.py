"""Where a webhook may be sent: the guard against server-side request forgery, and the call.

A subscription's URL is checked when it is given (the API answers 422 with the reason) and
again before every delivery: only `https://` URLs whose host resolves to public addresses
only. The delivery then connects to the address that was checked (never resolving the name a
second time, so a DNS answer cannot change between check and call), sends the TLS server name
and Host header of the URL, and follows no redirect: a 3xx answer is just a failed attempt.
`WEBHOOK_ALLOW_PRIVATE=on` also allows `http://` and private, loopback and link-local
addresses, for local development and tests.
"""

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

TIMEOUT_SECONDS = 5.0
MAX_URL_LENGTH = 2000


class RefusedTarget(ValueError):
    """The URL may not be called; the message says why, for the API's 422 and the attempt's error."""


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (the checked address) and what to ask for."""

    scheme: str
    host: str
    port: int
    address: str
    path: str


def refused_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address is not public (None when it is)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for reason, test in (
        ("a loopback address", address.is_loopback),
        ("an unspecified address", address.is_unspecified),
        ("a link-local address (such as the cloud metadata service 169.254.169.254)", address.is_link_local),
        ("a private address", address.is_private),
        ("a multicast address", address.is_multicast),
        ("a reserved address", address.is_reserved),
    ):
        if test:
            return reason
    if not address.is_global:
        return "an address that is not public"
    return None


def parse(url: str, allow_private: bool) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an acceptable URL; RefusedTarget otherwise."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise RefusedTarget(f"The URL must be 1 to {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise RefusedTarget(f"The URL is not valid: {error}.") from None
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if allow_private else ("https",)
    if scheme not in allowed:
        raise RefusedTarget("Only https:// URLs are allowed." if scheme == "http" or not allow_private
                            else "Only http:// and https:// URLs are allowed.")
    if parts.username is not None or parts.password is not None:
        raise RefusedTarget("The URL must not carry credentials.")
    host = parts.hostname
    if not host:
        raise RefusedTarget("The URL has no host.")
    if parts.fragment:
        raise RefusedTarget("The URL must not have a fragment.")
    if any(ord(character) <= 32 or ord(character) == 127 for character in url):
        raise RefusedTarget("The URL must not contain spaces or control characters.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port or (443 if scheme == "https" else 80), path


def check(url: str, allow_private: bool) -> Target:
    """The URL's target, resolved and checked; RefusedTarget says why it may not be called."""
    scheme, host, port, path = parse(url, allow_private)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise RefusedTarget(f"The host {host} does not resolve.") from None
    addresses = list(dict.fromkeys(info[4][0] for info in found))
    if not addresses:
        raise RefusedTarget(f"The host {host} does not resolve.")
    if not allow_private:
        for address in addresses:
            reason = refused_address(ipaddress.ip_address(address.split("%", 1)[0]))
            if reason:
                raise RefusedTarget(f"The host {host} resolves to {reason} ({address}).")
    return Target(scheme, host, port, addresses[0], path)


class PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to the checked address, whatever the name would resolve to now."""

    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = target.address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class PinnedHTTPSConnection(PinnedHTTPConnection):
    """HTTPS to the checked address, verifying the certificate of the URL's host name."""

    context = ssl.create_default_context()

    def connect(self):
        super().connect()
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.host)


def post(target: Target, body: bytes, headers: dict, timeout: float = TIMEOUT_SECONDS) -> int:
    """POST the body to the checked target and return the answer's status (no redirect is followed).

    Raises OSError (timeouts, refused connections, TLS failures) or http.client's errors.
    """
    kind = PinnedHTTPSConnection if target.scheme == "https" else PinnedHTTPConnection
    connection = kind(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)  # a little of the answer, so the receiver is not cut off mid-write
        return response.status
    finally:
        connection.close()
