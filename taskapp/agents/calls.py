"""An agent's calls: the REST API, called in process with the agent's own bearer token.

Every tool is one or a few requests to the same Flask application that serves the API, through
the whole of it: the token is verified as for any client, the rate limit is spent, and every
statement acts as the token's subject with the identity proof. Writes go through `POST /batch`,
so that several of them are one transaction and one Idempotency-Key makes a retry safe.
"""

from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from werkzeug.test import Client

from taskapp.identity.bearer import Unauthenticated, identify


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
        link = self.headers.get("Link")
        if not link or 'rel="next"' not in link:
            return None
        target = link[link.index("<") + 1:link.index(">")]
        return parse_qs(urlsplit(target).query).get("cursor", [None])[0]


class CallerAPI:
    """The API as one caller sees it: each call carries their token."""

    def __init__(self, app: Flask):
        self.app = app

    def subject(self, token: str) -> str | None:
        """The token's `sub` when the API would accept it (the same check, the same settings); else None."""
        with self.app.test_request_context("/api/me/tasks", headers={"Authorization": f"Bearer {token}"}):
            try:
                return identify()
            except Unauthenticated:
                return None

    def call(self, token: str, method: str, path: str, *, json=None, query=None,
             idempotency_key: str | None = None) -> Answer:
        headers = {"Authorization": f"Bearer {token}"}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        client = Client(self.app, response_wrapper=self.app.response_class)
        query = {name: value for name, value in (query or {}).items() if value is not None}
        response = client.open(f"/api/me{path}", method=method, json=json, query_string=query, headers=headers)
        return Answer(response.status_code, response.get_json(silent=True), dict(response.headers))
