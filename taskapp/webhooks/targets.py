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
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

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
    url: str  # the URL as normalised: what is stored and shown


# What may stand unescaped in a path and a query (RFC 3986's unreserved and sub-delims, and
# ':' '@' '/' '?'); anything else, non-ASCII text included, is percent-encoded. '%' stays, so a
# URL already encoded is left as it is.
PATH_SAFE = "/:@!$&'()*+,;=-._~%"
QUERY_SAFE = PATH_SAFE + "?"


GLOBAL_UNICAST_V6 = ipaddress.ip_network("2000::/3")
# IPv6 forms that carry an IPv4 address the packets end up at (RFC 4291 mapped and compatible,
# RFC 3056 6to4, RFC 6052 NAT64, RFC 4380 Teredo): judged by the IPv4 inside.
NAT64 = ipaddress.ip_network("64:ff9b::/96")
LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: a network's own translator
COMPATIBLE = ipaddress.ip_network("::/96")
DOCUMENTATION_V6 = ipaddress.ip_network("3fff::/20")  # RFC 9637 (2001:db8::/32 Python knows already)


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address embeds (and so reaches), in any form taskapp knows."""
    found = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address in COMPATIBLE and int(address) > 1:  # ::a.b.c.d (not :: and ::1)
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address in NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.teredo is not None:
        found.extend(address.teredo)  # the Teredo server and the client behind it
    return found


def refused_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address may not be called (None when it may): an allowlist of global unicast.

    An IPv6 address that carries IPv4 addresses is judged by them; any other must be global
    unicast (2000::/3), and neither site-local nor set aside for documentation.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address in LOCAL_NAT64:
            return "a local NAT64 address"
        inside = embedded_ipv4(address)
        for ipv4 in inside:
            reason = refused_address(ipv4)
            if reason:
                return f"{reason}, inside an IPv6 address"
        if inside:
            return None  # judged by the IPv4 addresses it carries, all of which pass
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
    if isinstance(address, ipaddress.IPv6Address):
        if address.is_site_local:
            return "a site-local address"
        if address in DOCUMENTATION_V6:
            return "a documentation address"
        if address not in GLOBAL_UNICAST_V6:
            return "an address outside global unicast"
    if not address.is_global:
        return "an address that is not public"
    return None


# Characters IDNA 2003 (Python's codec) maps to others than IDNA 2008 and browsers do
# (ß → ss, not xn--zca): a host holding them would be called at another registrant's domain.
IDNA_DEVIATIONS = frozenset("ßς\u200c\u200d")


def ascii_host(host: str) -> str:
    """The host as DNS asks for it: an IDNA name (bücher.example → xn--bcher-kva.example) or an address."""
    if host.isascii():
        return host
    if IDNA_DEVIATIONS & set(host):
        raise RefusedTarget(f"The host {host} holds a character (ß, ς, a joiner) that IDNA versions "
                            "map differently; write its ASCII (xn--) form.")
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        raise RefusedTarget(f"The host {host} is not a valid internationalised domain name.") from None


def parse(url: str, allow_private: bool) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, path with query, normalised URL) of an acceptable URL; RefusedTarget
    otherwise. The normalised URL has an ASCII (IDNA) host and a percent-encoded path and query,
    so that what is stored can be sent as it is."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise RefusedTarget(f"The URL must be 1 to {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise RefusedTarget(f"The URL is not valid: {error}.") from None
    if port == 0:
        raise RefusedTarget("The URL's port must be 1 to 65535.")
    authority = parts.netloc.rsplit("@", 1)[-1]
    if ("[" in authority or "]" in authority) and not (
            authority.startswith("[") and "]" in authority and authority.split("]", 1)[1][:1] in ("", ":")):
        raise RefusedTarget("The URL's host is not valid.")  # nothing may follow a bracketed address but a port
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
    if any(ord(character) <= 32 or 127 <= ord(character) <= 159 for character in url):
        raise RefusedTarget("The URL must not contain spaces or control characters.")
    if host.startswith("v") and "[" in parts.netloc:  # an IPvFuture literal ([v1.x]): nothing to call
        raise RefusedTarget("The URL's host is not valid.")
    host = ascii_host(host)
    try:
        path = quote(parts.path or "/", safe=PATH_SAFE)
        query = quote(parts.query, safe=QUERY_SAFE)
    except UnicodeError:
        raise RefusedTarget("The URL must be valid Unicode text.") from None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc += f":{port}"
    normalised = urlunsplit((scheme, netloc, path, query, ""))
    if len(normalised) > MAX_URL_LENGTH:
        raise RefusedTarget(f"The URL must be 1 to {MAX_URL_LENGTH} characters once percent-encoded.")
    return scheme, host, port or (443 if scheme == "https" else 80), path + (f"?{query}" if query else ""), normalised


def check(url: str, allow_private: bool) -> Target:
    """The URL's target, resolved and checked; RefusedTarget says why it may not be called."""
    scheme, host, port, path, normalised = parse(url, allow_private)
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
    return Target(scheme, host, port, addresses[0], path, normalised)


class Watchdog:
    """Cuts connections that outlive their deadline: one thread for every delivery of a process.

    A socket timeout bounds each read, not an exchange: a receiver that sends a byte every few
    seconds would hold a worker's thread for as long as it likes. Here the whole exchange has a
    deadline, and a connection past it is shut down, which ends whatever read or write is
    blocked on it.
    """

    def __init__(self):
        self._watched: dict[int, tuple[float, socket.socket, list]] = {}
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def watch(self, key: int, sock: socket.socket, deadline: float, expired: list) -> None:
        with self._changed:
            self._watched[key] = (deadline, sock, expired)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="taskapp-delivery-deadlines", daemon=True)
                self._thread.start()
            self._changed.notify()

    def forget(self, key: int) -> None:
        with self._changed:
            self._watched.pop(key, None)

    def _run(self) -> None:
        with self._changed:
            while True:
                now = time.monotonic()
                for key, (deadline, sock, expired) in list(self._watched.items()):
                    if deadline <= now:
                        del self._watched[key]
                        expired.append(True)
                        try:  # the plain socket's shutdown, also under TLS: the fd is the same
                            socket.socket.shutdown(sock, socket.SHUT_RDWR)
                        except OSError:
                            pass
                soonest = min((deadline for deadline, _, _ in self._watched.values()), default=now + 60)
                self._changed.wait(max(soonest - now, 0.01))


WATCHDOG = Watchdog()


class PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP to the checked address, whatever the name would resolve to now, within a deadline."""

    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = target.address
        self.deadline = time.monotonic() + timeout
        self.expired: list = []

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0 or self.expired:
            raise TimeoutError
        return left

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.remaining())
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        WATCHDOG.watch(id(self), self.sock, self.deadline, self.expired)



class PinnedHTTPSConnection(PinnedHTTPConnection):
    """HTTPS to the checked address, verifying the certificate of the URL's host name."""

    context = ssl.create_default_context()

    def connect(self):
        super().connect()
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.host, do_handshake_on_connect=False)
        WATCHDOG.watch(id(self), self.sock, self.deadline, self.expired)  # the TLS socket now holds the fd
        self.sock.settimeout(self.remaining())
        self.sock.do_handshake()


def post(target: Target, body: bytes, headers: dict, timeout: float = TIMEOUT_SECONDS) -> int:
    """POST the body to the checked target and return the answer's status (no redirect is followed).

    The whole exchange (connecting, TLS, sending, the answer's status line and headers, and what
    is read of its body) must be over within `timeout` seconds, or TimeoutError is raised. Raises OSError (refused
    connections, TLS failures) or http.client's errors otherwise. The watchdog keeps watching
    until this returns (http.client closes the connection itself on `Connection: close`, before
    the body is read).
    """
    kind = PinnedHTTPSConnection if target.scheme == "https" else PinnedHTTPConnection
    connection = kind(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)  # a little of the answer, so the receiver is not cut off mid-write
        if connection.expired:
            raise TimeoutError
        return response.status
    except (OSError, http.client.HTTPException):
        if connection.expired:  # cut off by the watchdog: whatever the read saw, it was the deadline
            raise TimeoutError from None
        raise
    finally:
        WATCHDOG.forget(id(connection))
        connection.close()
