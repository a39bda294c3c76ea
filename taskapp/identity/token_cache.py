"""Tokens verified moments ago, remembered for a minute.

A client sends the same bearer token with every request; checking its signature and claims
again each time was about a fifth of a small request's time in Python. A token is remembered
only after flask-jwt-extended accepted it, under its exact text, for at most 60 seconds and
never past its own expiry (plus JWT_LEEWAY), so a remembered token is one that would be
accepted again, except that a JWKS key withdrawn by the provider stops working within a minute
instead of at once.
"""

import re
import threading
import time

TOKEN = re.compile(r"Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)")
REMEMBER_SECONDS = 60.0
MAX_REMEMBERED = 4096


def bearer_token(authorization: str | None) -> str | None:
    """The token of a plain `Authorization: Bearer <JWT>` header; None for any other form."""
    match = TOKEN.fullmatch(authorization or "")
    return match.group(1) if match else None


class VerifiedTokens:
    """Subjects of recently verified tokens, by token text; safe to share between threads."""

    def __init__(self, size: int = MAX_REMEMBERED, seconds: float = REMEMBER_SECONDS):
        self.size = size
        self.seconds = seconds
        self._subjects: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def subject(self, token: str | None) -> str | None:
        entry = self._subjects.get(token) if token else None
        if entry is None:
            return None
        subject, valid_until = entry
        if time.time() < valid_until:
            return subject
        with self._lock:
            self._subjects.pop(token, None)
        return None

    def remember(self, token: str | None, subject: str, expires_at: float, leeway: float) -> None:
        if not token:
            return
        valid_until = min(time.time() + self.seconds, expires_at + leeway)
        with self._lock:
            while len(self._subjects) >= self.size:
                self._subjects.pop(next(iter(self._subjects)))
            self._subjects[token] = (subject, valid_until)
