"""Per-caller rate limits: a budget per user, and per client address for requests without a token.

Budgets are parsed by the `limits` library (the one Flask-Limiter is built on) and counted in
fixed windows: in this process's memory by default, or in Redis through `limits` when
TASKAPP_RATE_LIMIT_STORAGE_URL names one, so that every node of the service counts together.
Flask-Limiter's own request machinery cost about a fifth of a small request (bench/README.md,
"Rate limits"); this hook counts once per window. Over budget is 429 in the shared error shape, with
`Retry-After`; every answer carries the IETF draft's `RateLimit-Limit`, `RateLimit-Remaining`,
`RateLimit-Reset` (seconds) and `RateLimit-Policy` for the window closest to running out. The
defaults are far above what an honest client sends (docs/operators.md, "Rate limits"): they
exist so that one caller cannot take the service from everyone else.
"""

import logging
import math
import threading
import time

from flask import Flask, Response, current_app, g, request
from limits import parse_many
from limits.storage import storage_from_string

from taskapp.web.errors import error_response

log = logging.getLogger(__name__)

# Probes and metrics answer orchestrators and scrapers, which must never be throttled.
EXEMPT_ENDPOINTS = frozenset({"health.Liveness", "health.Readiness", "metrics"})
NAMESPACE = "taskapp"


class ProcessCounters:
    """Fixed windows counted in this process: {key: (window's end, requests in it)}.

    (Not `limits`' MemoryStorage: it starts a timer thread to expire keys every 10 ms while
    requests come in, which cost the served benchmark a tenth of its throughput.)
    """

    SWEEP_ABOVE = 10_000  # keys; expired ones are dropped once there are more than this

    def __init__(self):
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, seconds: int) -> tuple[int, float]:
        """(requests in the key's current window, this one included; seconds until it ends)."""
        now = time.monotonic()
        with self._lock:
            end, count = self._windows.get(key, (0.0, 0))
            if end <= now:
                end, count = now + seconds, 0
            self._windows[key] = (end, count + 1)
            if len(self._windows) > self.SWEEP_ABOVE:
                self._windows = {k: v for k, v in self._windows.items() if v[0] > now}
        return count + 1, end - now


class SharedCounters:
    """Fixed windows counted in Redis by the `limits` library, shared by every process and node."""

    def __init__(self, url: str):
        # A Redis that stops answering costs each request at most half a second, then is skipped.
        self.storage = storage_from_string(url, socket_timeout=0.5, socket_connect_timeout=0.5)

    def hit(self, key: str, seconds: int) -> tuple[int, float]:
        count = self.storage.incr(key, seconds)
        return count, self.storage.get_expiry(key) - time.time()


class RateLimits:
    """The budgets of one application and where they are counted."""

    def __init__(self, user_limits: str, anonymous_limits: str, storage_url: str | None):
        shared = storage_url and not storage_url.startswith("memory")
        self.counters = SharedCounters(storage_url) if shared else ProcessCounters()
        self.user = parse_many(user_limits)
        self.anonymous = parse_many(anonymous_limits)

    def spend(self) -> tuple[dict, bool, object] | None:
        """Count this request against its caller's windows: (the headers of the window closest to
        running out, whether it is used up, that window); None when the counts cannot be had."""
        user_id = g.get("user_id")
        caller = f"user:{user_id}" if user_id is not None else f"address:{request.remote_addr}"
        tightest = None
        try:
            for item in self.user if user_id is not None else self.anonymous:
                seconds = item.get_expiry()
                count, reset = self.counters.hit(item.key_for(NAMESPACE, caller), seconds)
                left = item.amount - count
                if tightest is None or left < tightest[1]:
                    tightest = (item, left, reset)
        except Exception as error:  # a storage outage must not take the API down with it
            log.warning("rate limits skipped: %s", error.__class__.__name__)
            return None
        item, left, reset = tightest
        return {
            "RateLimit-Limit": str(item.amount),
            "RateLimit-Remaining": str(max(0, left)),
            "RateLimit-Reset": str(max(0, math.ceil(reset))),
            "RateLimit-Policy": f"{item.amount};w={item.get_expiry()}",
        }, left < 0, item


def check():
    """Before the view: spend the caller's budget; 429 when a window is used up."""
    if request.endpoint in EXEMPT_ENDPOINTS or request.method == "OPTIONS":
        return None
    spent = current_app.extensions["taskapp.rate_limits"].spend()
    if spent is None:
        return None
    headers, over, item = spent
    if over:
        whose = "you" if g.get("user_id") is not None else "your address (without a valid token)"
        return error_response(
            429, f"Too many requests: at most {item.amount} per {item.get_expiry()} s for {whose}; "
                 f"try again in {headers['RateLimit-Reset']} s.",
            headers={**headers, "Retry-After": str(max(1, int(headers["RateLimit-Reset"])))},
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
