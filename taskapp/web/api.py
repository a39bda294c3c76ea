"""The flask-smorest Api and Blueprint: OpenAPI document, bearer-JWT security scheme, error answers."""

import json
from http import HTTPStatus

import flask_smorest
from flask import Flask
from flask_smorest import Api
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from taskapp.web.errors import error_body

BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "A JWT whose `sub` is your user id (`taskapp token USER_ID` prints one).",
}

USER_ID_PARAMETER = {
    "in": "path",
    "name": "user_id",
    "required": True,
    "description": "Your token's `sub`, or `me`. Any other value is 403.",
    "schema": {"type": "string"},
}


class JSONBodyParser(FlaskParser):
    """webargs' parser, with JSON nested deeper than Python can parse counted as invalid JSON (400)."""

    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            raise json.JSONDecodeError("JSON nested too deeply", doc="-", pos=0) from None


def documentation_only(decorator):
    """A flask-smorest decorator that only documents, applied without its per-request wrapper.

    `doc` and `alt_response` record their part of the OpenAPI document in the view's `_apidoc`
    and wrap the view in one more call per request that does nothing else. The view keeps the
    documentation and loses the wrapper; tests/test_openapi.py holds the document unchanged.
    """

    def apply(view):
        view._apidoc = decorator(view)._apidoc
        return view

    return apply


def string_header(description: str, name: str | None = None, **schema) -> dict:
    """An OpenAPI string header: a response header, or a request parameter when named."""
    header = {"description": description, "schema": {"type": "string", **schema}}
    return {"in": "header", "name": name, "required": False, **header} if name else header


ALWAYS_POSSIBLE = (503,)  # the database (or the identity provider's keys) unavailable


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, parsing bodies with JSONBodyParser; `doc` and `alt_response`
    document without wrapping the view."""

    ARGUMENTS_PARSER = JSONBodyParser()

    @staticmethod
    def doc(**kwargs):
        return documentation_only(flask_smorest.Blueprint.doc(**kwargs))

    def alt_response(self, *args, **kwargs):
        return documentation_only(super().alt_response(*args, **kwargs))

    def documents_errors(self, *codes):
        """Document the error answers an operation can give, in the shared error shape."""

        def decorator(func):
            for code in (*codes, *ALWAYS_POSSIBLE):
                func = self.alt_response(code, response=HTTPStatus(code).name)(func)
            return self.alt_response(414, response="URI_TOO_LONG")(func)

        return decorator


# The one answer that is not ours: gunicorn refuses a request line over 8190 bytes before the
# application sees it, with its own small HTML page.
URI_TOO_LONG = {
    "description": "The request line (method, path and query) is longer than 8190 bytes; "
    "answered by the HTTP server (gunicorn) before the API, as HTML.",
    "content": {"text/html": {"schema": {"type": "string"}}},
}


class TaskApi(Api):
    """flask-smorest's Api, with every error given a message and its protocol headers kept."""

    USER_ID_PARAMETER = USER_ID_PARAMETER

    def init_app(self, app: Flask, *args, **kwargs) -> None:
        app.config.setdefault("API_SPEC_OPTIONS", {"security": [{"bearerAuth": []}]})
        super().init_app(app, *args, **kwargs)
        self.spec.components.security_scheme("bearerAuth", BEARER_SCHEME)
        self.spec.components.response("URI_TOO_LONG", URI_TOO_LONG)

    def handle_http_exception(self, error: HTTPException):
        data = getattr(error, "data", None) or {}
        errors = data.get("errors", data.get("messages"))
        headers = dict(data.get("headers") or {})
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            headers["Allow"] = ", ".join(error.valid_methods)
        message = None if isinstance(error, InternalServerError) else data.get("message")
        return error_body(error.code, message, errors), error.code, headers


api = TaskApi()
