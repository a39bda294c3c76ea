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

from taskapp.web.errors import abort, error_response

log = logging.getLogger(__name__)

# Probes and metrics answer orchestrators and scrapers, which must never be throttled.
EXEMPT_ENDPOINTS = frozenset({"health.Liveness", "health.Readiness", "metrics"})
NAMESPACE = "taskapp"


class ProcessCounters:
    """Fixed windows counted in this process: {key: (window's end, requests in it)}.

    (Not `limits`' MemoryStorage: it starts a timer thread to expire keys every 10 ms while
    requests come in, which cost the served benchmark a tenth of its throughput.) Expired
    windows are dropped when the table has doubled since the last sweep, so sweeping costs
    each request a constant on average, however many callers come.
    """

    def __init__(self):
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()
        self._sweep_above = 1024

    def hit(self, key: str, seconds: int, cost: int = 1) -> tuple[int, float]:
        """(requests in the key's current window, these `cost` included; seconds until it ends)."""
        now = time.monotonic()
        with self._lock:
            end, count = self._windows.get(key, (0.0, 0))
            if end <= now:
                end, count = now + seconds, 0
            self._windows[key] = (end, count + cost)
            if len(self._windows) > self._sweep_above:
                self._windows = {k: v for k, v in self._windows.items() if v[0] > now}
                self._sweep_above = max(1024, 2 * len(self._windows))
        return count + cost, end - now


class SharedCounters:
    """Fixed windows counted in Redis by the `limits` library, shared by every process and node."""

    RETRY_AFTER_FAILURE_SECONDS = 5.0

    def __init__(self, url: str):
        # A Redis that stops answering costs a request at most half a second; then it is left
        # alone for a few seconds (requests go unlimited) before it is asked again.
        self.storage = storage_from_string(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._resting_until = 0.0

    def hit(self, key: str, seconds: int, cost: int = 1) -> tuple[int, float]:
        if time.monotonic() < self._resting_until:
            raise ConnectionError("the rate-limit storage failed moments ago")
        try:
            count = self.storage.incr(key, seconds, amount=cost)
            return count, self.storage.get_expiry(key) - time.time()
        except Exception:
            self._resting_until = time.monotonic() + self.RETRY_AFTER_FAILURE_SECONDS
            raise


def budget(text: str) -> list:
    """A budget's windows, or none when it is `off`."""
    return [] if text.strip().lower() == "off" else parse_many(text)


class RateLimits:
    """The budgets of one application and where they are counted."""

    def __init__(self, user_limits: str, anonymous_limits: str, storage_url: str | None):
        shared = storage_url and not storage_url.startswith("memory")
        self.counters = SharedCounters(storage_url) if shared else ProcessCounters()
        self.user = budget(user_limits)
        self.anonymous = budget(anonymous_limits)

    def spend(self, cost: int = 1) -> tuple[dict, bool, object] | None:
        """Count `cost` requests against the caller's windows: (the headers of the window to report,
        whether the request is over budget, that window); None when nothing limits it or the
        counts cannot be had. Within budget the window reported is the one closest to running
        out; over budget, the used-up window that ends last (what Retry-After must wait for)."""
        user_id = g.get("user_id")
        caller = f"user:{user_id}" if user_id is not None else f"address:{request.remote_addr}"
        windows = self.user if user_id is not None else self.anonymous
        if not windows:
            return None
        counted = []
        try:
            for item in windows:
                count, reset = self.counters.hit(item.key_for(NAMESPACE, caller), item.get_expiry(), cost)
                counted.append((item.amount - count, reset, item))
        except Exception as error:  # a storage outage must not take the API down with it
            log.warning("rate limits skipped: %s", error.__class__.__name__)
            return None
        used_up = [window for window in counted if window[0] < 0]
        left, reset, item = max(used_up, key=lambda window: window[1]) if used_up else \
            min(counted, key=lambda window: (window[0], window[1]))
        return {
            "RateLimit-Limit": str(item.amount),
            "RateLimit-Remaining": str(max(0, left)),
            "RateLimit-Reset": str(max(0, math.ceil(reset))),
            "RateLimit-Policy": f"{item.amount};w={item.get_expiry()}",
        }, bool(used_up), item


def over_budget(headers: dict, item) -> tuple[str, dict]:
    """The 429's message and headers."""
    whose = "you" if g.get("user_id") is not None else "your address (without a valid token)"
    message = (f"Too many requests: at most {item.amount} per {item.get_expiry()} s for {whose}; "
               f"try again in {headers['RateLimit-Reset']} s.")
    return message, {**headers, "Retry-After": str(max(1, int(headers["RateLimit-Reset"])))}


def check():
    """Before the view: spend the caller's budget; 429 when a window is used up."""
    if request.endpoint in EXEMPT_ENDPOINTS or request.method == "OPTIONS":
        return None
    spent = current_app.extensions["taskapp.rate_limits"].spend()
    if spent is None:
        return None
    headers, over, item = spent
    if over:
        message, headers = over_budget(headers, item)
        return error_response(429, message, headers=headers)
    g.rate_limit_headers = headers
    return None


def charge(requests: int) -> None:
    """Count `requests` more against the caller's budget, for a request that does the work of
    several (a batch's operations beyond its first); 429, before anything is done, when that
    goes over."""
    limits = current_app.extensions.get("taskapp.rate_limits")
    if limits is None or requests <= 0:
        return
    spent = limits.spend(requests)
    if spent is None:
        return
    headers, over, item = spent
    if over:
        message, headers = over_budget(headers, item)
        abort(429, message, headers=headers)
    g.rate_limit_headers = headers


def with_headers(response: Response) -> Response:
    headers = g.pop("rate_limit_headers", None)
    if headers is not None:
        response.headers.update(headers)
    return response


def init_app(app: Flask) -> None:
    """After the token check (whose answer waits: an unauthenticated flood spends its address's budget)."""
    config = app.config
    if config["TASKAPP_RATE_LIMIT"] == "off" and config["TASKAPP_ANONYMOUS_RATE_LIMIT"] == "off":
        return
    app.extensions["taskapp.rate_limits"] = RateLimits(
        config["TASKAPP_RATE_LIMIT"], config["TASKAPP_ANONYMOUS_RATE_LIMIT"], config["TASKAPP_RATE_LIMIT_STORAGE_URL"])
    app.before_request(check)
    app.after_request(with_headers)
