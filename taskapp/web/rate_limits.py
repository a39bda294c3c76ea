"""Per-caller rate limits: a budget per user, and per client address for requests without a token.

Counted with the `limits` library (the one Flask-Limiter is built on) in fixed windows: in this
process's memory by default, or in Redis when TASKAPP_RATE_LIMIT_STORAGE_URL names one, so that
every node of the service counts together. Flask-Limiter's own request machinery cost about a
fifth of a small request (bench/README.md, "Rate limits"); this hook does one counter increment
per window and one expiry lookup. Over budget is 429 in the shared error shape, with
`Retry-After`; every answer carries the IETF draft's `RateLimit-Limit`, `RateLimit-Remaining`,
`RateLimit-Reset` (seconds) and `RateLimit-Policy` for the window closest to running out. The
defaults are far above what an honest client sends (docs/operators.md, "Rate limits"): they
exist so that one caller cannot take the service from everyone else.
"""

import logging
import math
import time

from flask import Flask, Response, current_app, g, request
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string

from taskapp.web.errors import error_response

log = logging.getLogger(__name__)

# Probes and metrics answer orchestrators and scrapers, which must never be throttled.
EXEMPT_ENDPOINTS = frozenset({"health.Liveness", "health.Readiness", "metrics"})
NAMESPACE = "taskapp"


class RateLimits:
    """The budgets of one application and where they are counted."""

    def __init__(self, user_limits: str, anonymous_limits: str, storage_url: str | None):
        url = storage_url or "memory://"
        # A Redis that stops answering costs each request at most half a second, then is skipped.
        options = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5} if url.startswith("redis") else {}
        self.storage = storage_from_string(url, **options)
        # Smallest window first: the one to refuse by, when several run out at once.
        self.user = sorted(parse_many(user_limits), key=RateLimitItem.get_expiry)
        self.anonymous = sorted(parse_many(anonymous_limits), key=RateLimitItem.get_expiry)

    def spend(self) -> tuple[RateLimitItem, int, str] | None:
        """Count this request against its caller's windows: (the window closest to running out,
        the requests left in it, its counter's key); None when the storage cannot be reached."""
        user_id = g.get("user_id")
        caller = f"user:{user_id}" if user_id is not None else f"address:{request.remote_addr}"
        tightest = None
        try:
            for item in self.user if user_id is not None else self.anonymous:
                key = item.key_for(NAMESPACE, caller)
                left = item.amount - self.storage.incr(key, item.get_expiry())
                if tightest is None or left < tightest[1]:
                    tightest = (item, left, key)
        except Exception as error:  # a storage outage must not take the API down with it
            log.warning("rate limits skipped: %s", error.__class__.__name__)
            return None
        return tightest

    def headers(self, item: RateLimitItem, left: int, key: str) -> dict:
        try:
            reset = max(0, math.ceil(self.storage.get_expiry(key) - time.time()))
        except Exception:
            reset = item.get_expiry()
        return {
            "RateLimit-Limit": str(item.amount),
            "RateLimit-Remaining": str(max(0, left)),
            "RateLimit-Reset": str(reset),
            "RateLimit-Policy": f"{item.amount};w={item.get_expiry()}",
        }


def check():
    """Before the view: spend the caller's budget; 429 when a window is used up."""
    if request.endpoint in EXEMPT_ENDPOINTS or request.method == "OPTIONS":
        return None
    limits: RateLimits = current_app.extensions["taskapp.rate_limits"]
    spent = limits.spend()
    if spent is None:
        return None
    item, left, key = spent
    headers = limits.headers(item, left, key)
    if left < 0:
        whose = "you" if g.get("user_id") is not None else "your address (without a valid token)"
        return error_response(
            429, f"Too many requests: at most {item.amount} per {item.get_expiry()} s for {whose}; "
                 f"try again in {headers['RateLimit-Reset']} s.",
            headers={**headers, "Retry-After": headers["RateLimit-Reset"]},
        )
    g.rate_limit_headers = headers
    return None


def with_headers(response: Response) -> Response:
    headers = g.pop("rate_limit_headers", None)
    if headers is not None:
        response.headers.update(headers)
    return response


def init_app(app: Flask) -> None:
    """After the token check (whose answer waits: an unauthenticated flood spends its address's budget)."""
    config = app.config
    if config["TASKAPP_RATE_LIMIT"] == "off":
        return
    app.extensions["taskapp.rate_limits"] = RateLimits(
        config["TASKAPP_RATE_LIMIT"], config["TASKAPP_ANONYMOUS_RATE_LIMIT"], config["TASKAPP_RATE_LIMIT_STORAGE_URL"])
    app.before_request(check)
    app.after_request(with_headers)
