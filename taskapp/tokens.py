"""Issuing tokens, kept apart from checking them: `taskapp token` and the embedded default."""

import time

import jwt

DEFAULT_TTL_SECONDS = 24 * 3600


def issue_token(user_id: str, secret: str, ttl: int = DEFAULT_TTL_SECONDS) -> str:
    """An HS256 token carrying only what the API requires: sub, iat and exp."""
    now = int(time.time())
    return jwt.encode({"sub": user_id, "iat": now, "exp": now + ttl}, secret, algorithm="HS256")
