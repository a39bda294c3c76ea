"""An agent's calls: the REST API, called with the agent's own bearer token.

Every tool is one or a few requests to the API, through the whole of it: the token is verified
as for any client, the rate limit is spent, and every statement acts as the token's subject with
the identity proof. Writes go through `POST /batch`, so that several of them are one transaction
and one Idempotency-Key makes a retry safe.

The requests go one of two ways, through the same HTTP client: in process, to the Flask
application that serves the API (the MCP server `taskapp serve` runs, which holds the
service's configuration anyway), or over the network to a running API (`taskapp mcp` over
stdio, which an agent starts on its own machine with nothing but a token: it holds no key, no
database address, nothing that could act for anyone else).
"""

from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import httpx2
from flask import Flask

from taskapp.identity.bearer import KeysUnavailable, Unauthenticated, identify

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class APIUnreachable(Exception):
    """The API could not be reached (over the network), or could not check tokens now."""


@dataclass
class Answer:
    status: int
    body: object
    headers: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def next_cursor(self) -> str | None:
        """The `cursor` of the `Link: <…>; rel="next"` header, if another page follows."""
        link = self.headers.get("link")
        if not link or 'rel="next"' not in link:
            return None
        target = link[link.index("<") + 1:link.index(">")]
        return parse_qs(urlsplit(target).query).get("cursor", [None])[0]


class CallerAPI:
    """The API as one caller sees it: each call carries their token."""

    def __init__(self, client: httpx2.Client, app: Flask | None = None):
        self.client = client
        self.app = app

    @classmethod
    def in_process(cls, app: Flask) -> "CallerAPI":
        transport = httpx2.WSGITransport(app=app)
        return cls(httpx2.Client(transport=transport, base_url="http://taskapp.internal"), app)

    @classmethod
    def over_network(cls, base_url: str, timeout: float = 30) -> "CallerAPI":
        """The API at `base_url`, reached directly (no proxy from the environment: the token goes
        to the API and nowhere else), over https unless it is on this machine (loopback)."""
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"The API's URL must be http(s)://host[:port], not {base_url!r}.")
        if parts.scheme == "http" and parts.hostname not in LOOPBACK:
            raise ValueError(f"The API's URL must be https:// (a bearer token is sent to it), unless it is on "
                             f"this machine: {base_url!r}.")
        return cls(httpx2.Client(base_url=base_url.rstrip("/"), timeout=timeout, trust_env=False))

    def subject(self, token: str) -> str | None:
        """In process: the token's `sub` when the API would accept it (the same check, the same
        settings); else None. APIUnreachable when the keys to check it cannot be had now."""
        assert self.app is not None, "a token's subject is checked where the API's settings are"
        with self.app.test_request_context("/api/me/tasks", headers={"Authorization": f"Bearer {token}"}):
            try:
                return identify()
            except Unauthenticated:
                return None
            except KeysUnavailable as error:
                raise APIUnreachable("The identity provider's keys cannot be fetched now.") from error

    def call(self, token: str, method: str, path: str, *, json=None, query=None,
             idempotency_key: str | None = None) -> Answer:
        headers = {"Authorization": f"Bearer {token}"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        query = {name: value for name, value in (query or {}).items() if value is not None}
        try:
            response = self.client.request(method, f"/api/me{path}", json=json, params=query, headers=headers)
        except httpx2.InvalidURL as error:  # a value too long for a URL: the API's 414, said before sending
            return Answer(414, {"code": 414, "message": f"The request is too long to send: {error}."})
        except httpx2.HTTPError as error:
            raise APIUnreachable(f"The API at {self.client.base_url} cannot be reached: "
                                 f"{error.__class__.__name__}.") from error
        try:
            body = response.json()
        except ValueError:
            if 200 <= response.status_code < 300 and response.status_code != 204:
                raise APIUnreachable(f"The API at {self.client.base_url} answered {response.status_code} "
                                     "without JSON (is something else at that address?).") from None
            body = None
        return Answer(response.status_code, body, {name.lower(): value for name, value in response.headers.items()})
