"""What browsers need: CORS for a frontend on another origin, and protective headers on every response."""

from flask import Flask, request
from flask_cors import CORS

REQUEST_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key", "If-Match", "If-None-Match", "X-Request-ID"]
RESPONSE_HEADERS = [
    "ETag", "Idempotent-Replayed", "Location", "Link", "Retry-After", "WWW-Authenticate", "X-Request-ID",
    "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy",
]


def protective_headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    # Task data is per user: no shared cache, and no browser cache, may keep it.
    if request.path.startswith("/api/") and not request.path.startswith("/api/docs"):
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    origins = list(app.config.get("CORS_ORIGINS") or ())
    if origins:
        CORS(
            app,
            resources={r"/api/*": {"origins": origins}},
            allow_headers=REQUEST_HEADERS,
            expose_headers=RESPONSE_HEADERS,
            methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
            max_age=600,
            vary_header=True,
        )
    app.after_request(protective_headers)
