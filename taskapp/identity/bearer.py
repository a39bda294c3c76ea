"""Checking bearer tokens: who is calling, decided before any route does anything.

Tokens come from any issuer that signs with the configured key (taskapp.identity.token_keys) in the
one configured algorithm; only `sub` (the identity) and `exp` are required, plus `aud` and
`iss` when JWT_AUDIENCE and JWT_ISSUER are set. Every failure is a 401 JSON error with
`WWW-Authenticate`; keys that cannot be fetched are the server's condition, a 503.
"""

import logging
import math

from flask import Flask, current_app, g, request
from flask_jwt_extended import JWTManager, get_jwt, verify_jwt_in_request
from flask_jwt_extended.exceptions import JWTExtendedException, NoAuthorizationError
from jwt import ExpiredSignatureError, InvalidAudienceError, InvalidIssuerError, MissingRequiredClaimError, PyJWTError

from taskapp.identity.token_cache import VerifiedTokens, bearer_token
from taskapp.identity.token_keys import KeysUnavailable, UnknownKey, key_source
from taskapp.web.errors import RETRY_AFTER_SECONDS, error_response

log = logging.getLogger(__name__)

MAX_SUBJECT_LENGTH = 255
# The endpoints under /api/ that need no token: the OpenAPI document and Swagger UI. Decided by
# the route the path matched, never by a prefix of the path (`/api/docs/tasks` is no doc page).
PUBLIC_ENDPOINTS = frozenset({"api-docs.openapi_json", "docs.page", "docs.asset"})

jwt = JWTManager()


class Unauthenticated(Exception):
    """The request carries no usable token."""

    def __init__(self, message: str, invalid: bool = True):
        super().__init__(message)
        self.message = message
        self.invalid = invalid


def unauthorized(message: str, invalid: bool = True):
    """401 with the RFC 6750 challenge; `invalid` says a token was sent but refused."""
    challenge = 'Bearer realm="taskapp"'
    if invalid:
        safe = message.replace('"', "'")
        challenge += f', error="invalid_token", error_description="{safe}"'
    return error_response(401, message, headers={"WWW-Authenticate": challenge})


def identify() -> str:
    """The subject of the request's bearer token: remembered from a recent check, or verified now."""
    remembered = current_app.extensions["taskapp.verified_tokens"]
    token = bearer_token(request.headers.get("Authorization"))
    subject = remembered.subject(token)
    if subject is None:
        claims = verify()
        subject = claims["sub"]
        remembered.remember(token, subject, claims["exp"], current_app.config["JWT_DECODE_LEEWAY"])
    return subject


def verify() -> dict:
    """Verify the request's bearer token (flask-jwt-extended) and return its claims."""
    try:
        verify_jwt_in_request()
        claims = get_jwt()
    except NoAuthorizationError:
        raise Unauthenticated("A bearer token is required (Authorization: Bearer <JWT>).", False) from None
    except ExpiredSignatureError:
        raise Unauthenticated("The token has expired.") from None
    except UnknownKey:
        raise Unauthenticated("The token is signed with a key (kid) the identity provider does not publish.") from None
    except InvalidAudienceError:
        raise Unauthenticated("The token is not meant for this API (aud).") from None
    except InvalidIssuerError:
        raise Unauthenticated("The token comes from an issuer this API does not trust (iss).") from None
    except MissingRequiredClaimError as exc:
        raise Unauthenticated(f"The token has no {exc.claim} claim.") from None
    except (JWTExtendedException, PyJWTError, ValueError, TypeError, OverflowError):
        raise Unauthenticated("The token is not valid.") from None
    if "exp" not in claims:
        raise Unauthenticated("The token has no expiry (exp).")
    expires = claims["exp"]  # PyJWT accepts a numeric string too; RFC 7519 says a NumericDate
    if isinstance(expires, bool) or not isinstance(expires, int | float) or (
            isinstance(expires, float) and not math.isfinite(expires)):  # (an int is finite, however long)
        raise Unauthenticated("The token's expiry (exp) is not a number.")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip():
        raise Unauthenticated("The token has no subject (sub).")
    if len(subject) > MAX_SUBJECT_LENGTH or "\x00" in subject:
        raise Unauthenticated("The token's subject is not a valid user id.")
    return claims


def identify_caller() -> None:
    """Before anything else on /api/…: the verified caller (g.user_id), or the refusal to answer
    with (g.refusal); the refusal waits for the rate limit, so a flood of bad tokens spends its
    address's budget (taskapp.web.rate_limits)."""
    if not request.path.startswith("/api/") or request.endpoint in PUBLIC_ENDPOINTS:
        return
    if request.method == "OPTIONS":
        return
    try:
        g.user_id = identify()
    except Unauthenticated as exc:
        g.refusal = unauthorized(exc.message, exc.invalid)
    except KeysUnavailable as exc:
        log.warning("cannot verify tokens: %s", exc)
        g.refusal = error_response(
            503, "The identity provider's keys cannot be fetched; try again shortly.",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )


def refuse_unidentified():
    """No valid token, no further answer than 401 (or 503 while the provider's keys cannot be had)."""
    return g.pop("refusal", None)


def verifying_key(header: dict, claims: dict):
    """flask-jwt-extended's decode key: the configured secret, public key or JWKS key by `kid`."""
    return current_app.extensions["taskapp.keys"].key_for(header)


def init_app(app: Flask) -> None:
    config = app.config
    config["JWT_DECODE_ALGORITHMS"] = [config["JWT_ALGORITHM"]]
    audience = config.get("JWT_AUDIENCE") or None
    config["JWT_DECODE_AUDIENCE"] = list(audience) if isinstance(audience, tuple) else audience
    config["JWT_DECODE_ISSUER"] = config.get("JWT_ISSUER") or None
    config["JWT_DECODE_LEEWAY"] = config.get("JWT_LEEWAY") or 0
    app.extensions["taskapp.keys"] = key_source(config)
    app.extensions["taskapp.verified_tokens"] = VerifiedTokens()
    jwt.init_app(app)
    jwt.decode_key_loader(verifying_key)
    # flask-jwt-extended answers some failures with 422 and {"msg"}; make them all ours.
    jwt.unauthorized_loader(lambda reason: unauthorized("A bearer token is required.", False))
    jwt.invalid_token_loader(lambda reason: unauthorized("The token is not valid."))
    jwt.expired_token_loader(lambda header, payload: unauthorized("The token has expired."))
    jwt.token_verification_failed_loader(lambda h, p: unauthorized("The token is not valid."))
    jwt.user_lookup_error_loader(lambda h, p: unauthorized("The token is not valid."))
    jwt.revoked_token_loader(lambda h, p: unauthorized("The token has been revoked."))
    jwt.needs_fresh_token_loader(lambda h, p: unauthorized("The token is not valid."))
    app.before_request(identify_caller)
