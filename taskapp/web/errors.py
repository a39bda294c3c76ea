"""The one place that shapes error bodies: `{"code", "status", "message", "errors"?}`."""

import logging
import uuid

import marshmallow as ma
from flask import Flask, Response, current_app, jsonify
from flask_smorest import abort as smorest_abort
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.http import HTTP_STATUS_CODES

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "5"

# Every error answer needs a message; werkzeug's long descriptions are replaced by these.
MESSAGES = {
    400: "The request could not be understood.",
    401: "Authentication required.",
    403: "You may only access your own tasks.",
    404: "Not found.",
    405: "Method not allowed.",
    412: "The resource has changed since it was read (If-Match does not match).",
    413: "The request body is larger than 1 MiB.",
    415: "The request body must be JSON (Content-Type: application/json).",
    422: "The request is not valid.",
    500: "Internal server error.",
    503: "The database is unavailable; try again shortly.",
}


class ErrorSchema(ma.Schema):
    """The OpenAPI document's `Error`: what error_body makes (only documents; bodies are not dumped with it)."""

    code = ma.fields.Integer(required=True, metadata={"description": "The HTTP status code."})
    status = ma.fields.String(required=True, metadata={"description": "The status's name, such as `Not Found`."})
    message = ma.fields.String(required=True, metadata={"description": "What went wrong, in a sentence."})
    errors = ma.fields.Dict(metadata={
        "description": "What is wrong with the request, by location (`json`, `query`, `headers`) and field; "
        "present when a body or parameters were refused for what they hold."})
    operation = ma.fields.String(metadata={
        "description": "In a batch's answer: the JSON pointer of the operation that failed (`/operations/3`); "
        "nothing of the batch was written."})


def error_body(code: int, message: str | None = None, errors=None, operation: str | None = None) -> dict:
    body = {
        "code": code,
        "status": HTTP_STATUS_CODES.get(code, "Unknown Error"),
        "message": message or MESSAGES.get(code, HTTP_STATUS_CODES.get(code, "Error")),
    }
    if errors is not None:
        body["errors"] = errors
    if operation is not None:
        body["operation"] = operation
    return body


def abort(code: int, message: str | None = None, errors=None, headers=None, operation: str | None = None):
    """Stop the request with a JSON error; taskapp.web.api.TaskApi shapes it with error_body."""
    data = {"message": message or MESSAGES.get(code)}
    if errors is not None:
        data["errors"] = errors
    if headers:
        data["headers"] = headers
    if operation is not None:
        data["operation"] = operation
    smorest_abort(code, **data)


def found(row):
    """The row, or a 404 when there is none (row-level security hides another user's rows alike)."""
    if row is None:
        abort(404)
    return row


def uuid_or_404(raw: str) -> uuid.UUID:
    """An id from the path; a malformed one is just another resource that does not exist."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        abort(404)


def error_response(code: int, message: str | None = None, errors=None, headers=None) -> Response:
    """A JSON error response, for places that must return rather than raise (JWT loaders)."""
    response = jsonify(error_body(code, message, errors))
    response.status_code = code
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def database_unavailable(error: Exception):
    """A lost or unreachable database is the server's condition, not a bug: 503, retry later."""
    log.warning("database unavailable: %s", error.__class__.__name__)
    return error_response(503, headers={"Retry-After": RETRY_AFTER_SECONDS})


def database_error(error: DBAPIError):
    if error.connection_invalidated:
        return database_unavailable(error)
    current_app.logger.error("database error", exc_info=error)
    return error_response(500)


def init_app(app: Flask) -> None:
    app.register_error_handler(OperationalError, database_unavailable)
    app.register_error_handler(PoolTimeoutError, database_unavailable)
    app.register_error_handler(DBAPIError, database_error)
