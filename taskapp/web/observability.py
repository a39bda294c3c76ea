"""What the service is doing: one JSON log line per request, X-Request-ID, Prometheus metrics.

Logs go to stderr as JSON (one object per line): the access line carries the method, the
route template (never the path, which holds ids), the status, the duration, the request id
and a hash of the user id (never the token). Metrics are prometheus-client's; under
`taskapp serve` they are gathered from every worker process (multiprocess mode).
"""

import hashlib
import logging
import os
import re
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event

from taskapp.database.engine import db
from taskapp.web.jsonio import encode

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_ENVIRON = "HTTP_X_REQUEST_ID"
REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")
UNMATCHED = "<unmatched>"

access_log = logging.getLogger("taskapp.access")

REQUESTS = Counter("taskapp_http_requests", "HTTP requests answered", ["method", "route", "status"])
DURATION = Histogram(
    "taskapp_http_request_duration_seconds", "Time to answer an HTTP request", ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
POOL_SIZE = Gauge("taskapp_db_pool_size", "Database connections each worker may open", multiprocess_mode="livesum")
POOL_IN_USE = Gauge("taskapp_db_pool_in_use", "Database connections lent to requests now",
                    multiprocess_mode="livesum")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the record's fields, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return encode(entry, default=str)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the moment (as logging's own last-resort handler does)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def configure_logging() -> None:
    """JSON lines on stderr for taskapp's loggers (the app's own logger is `taskapp`).

    Records do not collect thread details or the calling source line: no line prints them,
    and gathering them (walking the stack, for the source line) costs every request, as the
    logging HOWTO's "Optimization" section says. (Process ids stay: other libraries' lines may print them.)
    """
    logging.logThreads = False
    logging.logMultiprocessing = False
    logging._srcfile = None
    logger = logging.getLogger("taskapp")
    if any(getattr(handler, "taskapp_json", False) for handler in logger.handlers):
        return
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter())
    handler.taskapp_json = True
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def hashed(user_id: str | None) -> str | None:
    return None if user_id is None else hashlib.sha256(user_id.encode()).hexdigest()[:16]


def start_request() -> None:
    """First thing on every request: its id (the client's, if well-formed) and its clock."""
    g.request_started = time.perf_counter()
    incoming = request.environ.get(REQUEST_ID_ENVIRON, "")  # (a missing header costs an exception)
    g.request_id = incoming if REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex


_request_metrics: dict[tuple, tuple] = {}


def request_metrics(method: str, route: str, status: int) -> tuple:
    """The counter and histogram children for one (method, route, status), labelled once."""
    key = (method, route, status)
    children = _request_metrics.get(key)
    if children is None:
        children = (REQUESTS.labels(method, route, str(status)), DURATION.labels(method, route))
        if len(_request_metrics) < 1024:  # methods are the client's to invent: keep the memo bounded
            _request_metrics[key] = children
    return children


def finish_request(response: Response) -> Response:
    elapsed = time.perf_counter() - g.get("request_started", time.perf_counter())
    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers[REQUEST_ID_HEADER] = request_id
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
    if current_app.config["METRICS"]:
        counter, histogram = request_metrics(request.method, route, response.status_code)
        counter.inc()
        histogram.observe(elapsed)
    access_log.info(
        "%s %s %s", request.method, route, response.status_code,
        extra={"fields": {
            "event": "request", "method": request.method, "route": route, "status": response.status_code,
            "duration_ms": round(elapsed * 1000, 2), "request_id": request_id, "user": hashed(g.get("user_id")),
        }},
    )
    return response


class EveryWorkerCollector(multiprocess.MultiProcessCollector):
    """Every worker's numbers, less the live gauges of workers that are gone.

    A worker that died (and that the server replaced) leaves its files behind; its counters
    still count, but its `livesum` gauges (pool size and use) describe nothing any more.
    """

    def collect(self):
        for gauge in Path(self._path).glob("gauge_live*_*.db"):
            pid = gauge.stem.rsplit("_", 1)[1]
            if pid.isdigit() and not process_exists(int(pid)):
                gauge.unlink(missing_ok=True)  # what mark_process_dead does, safe for two scrapes at once
        return super().collect()


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def metrics_registry():
    """Every worker's metrics under `taskapp serve` (PROMETHEUS_MULTIPROC_DIR), else this process's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        EveryWorkerCollector(registry)
        return registry
    return REGISTRY


def metrics() -> Response:
    return Response(generate_latest(metrics_registry()), mimetype=CONTENT_TYPE_LATEST)


def watch_pool(engine) -> None:
    POOL_SIZE.inc(engine.pool.size())
    event.listen(engine, "checkout", lambda *args: POOL_IN_USE.inc())
    event.listen(engine, "checkin", lambda *args: POOL_IN_USE.dec())


def init_app(app: Flask) -> None:
    """Register before anything else, so that even a 401 carries its request id."""
    configure_logging()
    app.before_request(start_request)
    app.after_request(finish_request)
    if app.config["METRICS"]:
        watch_pool(db.engine(app))
        if not app.config["METRICS_PORT"]:
            app.add_url_rule("/metrics", "metrics", metrics)
