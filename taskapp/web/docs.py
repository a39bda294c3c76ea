"""Swagger UI at /api/docs, served entirely by the app: no CDN, works offline and under a strict CSP."""

from pathlib import Path

from flask import Blueprint, abort, render_template, send_from_directory, url_for
from swagger_ui_bundle import swagger_ui_path

ASSETS = frozenset(
    {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "favicon-16x16.png",
        "favicon-32x32.png",
    }
)

# Everything the page loads comes from this origin; Swagger UI sets inline styles and
# data: images, nothing else.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

blp = Blueprint("docs", __name__, url_prefix="/api/docs")


@blp.get("")
@blp.get("/")
def page():
    html = render_template("docs.html", spec_url=url_for("api-docs.openapi_json"))
    return html, 200, {"Content-Security-Policy": CONTENT_SECURITY_POLICY}


@blp.get("/assets/<filename>")
def asset(filename: str):
    if filename not in ASSETS:
        abort(404)
    return send_from_directory(Path(swagger_ui_path), filename, max_age=86400)
