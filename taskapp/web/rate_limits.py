"""Per-caller rate limits: a budget per user, and per client address for requests without a token.

Flask-Limiter (with the `limits` library) counts each caller's requests across the whole API in
fixed windows: in this process's memory by default, or in Redis when
TASKAPP_RATE_LIMIT_STORAGE_URL names one, so that every node of the service counts together.
Over budget is 429 in the shared error shape, with `Retry-After`; every answer carries the IETF
draft's `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds) and
`RateLimit-Policy` for the window closest to running out. The defaults are far above what an
honest client sends (docs/operators.md, "Rate limits"): they exist so that one caller cannot take
the service from everyone else.
"""

import math
import time

from flask import Flask, Response, current_app, g, request
from flask_limiter import ApplicationLimit, Limiter, RequestLimit
from flask_limiter.errors import RateLimitExceeded

from taskapp.web.errors import error_response

# Probes and metrics answer orchestrators and scrapers, which must never be throttled.
EXEMPT_ENDPOINTS = frozenset({"health.Liveness", "health.Readiness", "metrics"})
HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy")


def caller() -> str:
    """Whose budget a request spends: the verified user's, else the client address's."""
    user_id = g.get("user_id")
    return f"user:{user_id}" if user_id is not None else f"address:{request.remote_addr}"


def budget() -> str:
    config = current_app.config
    return config["TASKAPP_RATE_LIMIT"] if g.get("user_id") is not None else config["TASKAPP_ANONYMOUS_RATE_LIMIT"]


def exempt() -> bool:
    return request.endpoint in EXEMPT_ENDPOINTS or request.method == "OPTIONS"


def limiter() -> Limiter:
    return current_app.extensions["taskapp.rate_limits"]


def window_seconds(limit: RequestLimit) -> int:
    return int(limit.limit.get_expiry())


def headers_of(limit: RequestLimit) -> dict:
    reset = max(0, math.ceil(limit.window[0] - time.time()))  # (reset_at rounds up a second more)
    return {
        "RateLimit-Limit": str(limit.limit.amount),
        "RateLimit-Remaining": str(max(0, limit.remaining)),
        "RateLimit-Reset": str(reset),
        "RateLimit-Policy": f"{limit.limit.amount};w={window_seconds(limit)}",
    }


def with_headers(response: Response) -> Response:
    limit = limiter().current_limit
    if limit is not None and response.status_code != 429:
        try:
            response.headers.update(headers_of(limit))
        except Exception:  # the storage went away after the check: the answer stands without them
            pass
    return response


def too_many_requests(error: RateLimitExceeded) -> Response:
    limit = limiter().current_limit
    headers = headers_of(limit) if limit is not None else {}
    retry_after = headers.get("RateLimit-Reset", "1")
    whose = "you" if g.get("user_id") is not None else "your address (without a valid token)"
    return error_response(
        429, f"Too many requests: at most {error.limit.limit} for {whose}; try again in {retry_after} s.",
        headers={**headers, "Retry-After": retry_after},
    )


def init_app(app: Flask) -> None:
    """After the token check (whose answer waits: an unauthenticated flood spends its address's budget)."""
    config = app.config
    if config["TASKAPP_RATE_LIMIT"] == "off":
        return
    made = Limiter(
        caller,
        application_limits=[ApplicationLimit(budget, key_function=caller, exempt_when=exempt)],
        storage_uri=config["TASKAPP_RATE_LIMIT_STORAGE_URL"] or "memory://",
        swallow_errors=True,  # a storage outage must not take the API down with it
        headers_enabled=False,  # written below, as the IETF draft names them
        key_prefix="taskapp",
    )
    app.extensions["taskapp.rate_limits"] = made
    made.init_app(app)
    app.after_request(with_headers)
    app.register_error_handler(RateLimitExceeded, too_many_requests)
