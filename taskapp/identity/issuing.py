"""Issuing tokens, kept apart from checking them (taskapp.identity.bearer): `taskapp token` and the embedded default."""

import time

import jwt

DEFAULT_TTL_SECONDS = 24 * 3600


def issue_token(user_id: str, secret: str, ttl: int = DEFAULT_TTL_SECONDS, algorithm: str = "HS256",
                audience=None, issuer: str | None = None) -> str:
    """A token signed with the shared secret, carrying what the API requires: sub and exp (and
    aud and iss when JWT_AUDIENCE and JWT_ISSUER are configured)."""
    now = int(time.time())
    claims = {"sub": user_id, "iat": now, "exp": now + ttl}
    if audience:
        claims["aud"] = list(audience) if isinstance(audience, tuple) else audience
    if issuer:
        claims["iss"] = issuer
    return jwt.encode(claims, secret, algorithm=algorithm)


def issue_for(config, user_id: str, ttl: int = DEFAULT_TTL_SECONDS) -> str:
    """A token the given configuration accepts (needs a symmetric JWT_ALGORITHM)."""
    return issue_token(user_id, config.JWT_SECRET_KEY, ttl, config.JWT_ALGORITHM, config.JWT_AUDIENCE,
                       config.JWT_ISSUER)
