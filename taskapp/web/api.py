"""The flask-smorest Api and Blueprint: OpenAPI document, bearer-JWT security scheme, error answers.

The document is written for generated clients (docs/generated-clients.md): every operation has an
operationId, response schemas say which properties are always sent (`required`), request schemas
state their defaults in words rather than as `default` (which TypeScript generators read as "always
present"), and every response declares the headers the server sends with it.
"""

import json
from http import HTTPStatus

import flask_smorest
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from taskapp.web.errors import ErrorSchema, error_body
from taskapp.web.fields import Tagged

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
    """webargs' parser, counting as invalid JSON (400) whatever Python's parser fails on besides a
    syntax error: nesting deeper than it recurses, and an integer longer than it converts (4,300
    digits, Python's guard against quadratic-time conversion)."""

    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            raise json.JSONDecodeError("JSON nested too deeply", doc="-", pos=0) from None
        except ValueError as error:  # JSONDecodeError is a ValueError too, and passes as it is
            if isinstance(error, json.JSONDecodeError):
                raise
            raise json.JSONDecodeError("a number in the JSON is too long", doc="-", pos=0) from None


def documentation_only(decorator):
    """A flask-smorest decorator that only documents, applied without its per-request wrapper.

    `doc` and `alt_response` record their part of the OpenAPI document in the view's `_apidoc`
    and wrap the view in one more call per request that does nothing else. The view keeps the
    documentation and loses the wrapper; tests/api/test_openapi.py holds the document unchanged.
    """

    def apply(view):
        view._apidoc = decorator(view)._apidoc
        return view

    return apply


def string_header(description: str, name: str | None = None, *, required: bool = False, **schema) -> dict:
    """An OpenAPI string header: a response header (`required`: always sent), or a request parameter
    when named (never required)."""
    header = {"description": description, "schema": {"type": "string", **schema}}
    if name:
        return {"in": "header", "name": name, "required": False, **header}
    return {**header, "required": True} if required else header


# The OpenAPI document's top-level description. The answers that are not the API's are said here,
# once, rather than on every operation (where generated clients would type every error as
# `Error | string`): the HTTP server (Granian) refuses, before the application sees them, a request
# target of 64 KiB or more and request headers over its buffer.
API_DESCRIPTION = (
    "Your tasks, their completions, a change feed to sync them and webhooks to be told of them; "
    "every path under `/api/{user_id}/` is yours alone (`{user_id}` is your token's `sub`, or `me`).\n\n"
    "Every answer of the API is JSON, errors included (`Error`), and carries `X-Request-ID`. "
    "Two answers come from the HTTP server instead, before the API sees the request, and are listed "
    "on no operation, with an empty body: a request target (path and query) of 65,535 bytes or more is "
    "`414 URI Too Long`, and request headers larger than its buffer (400-512 KiB, depending on how "
    "they arrive) or more than 100 of them are `431 Request Header Fields Too Large`."
)
# Relative: the API is at the root of the origin that serves this document (`/api/openapi.json`).
SERVERS = [{"url": "/"}]

# Headers sent with every answer, or with every answer of a kind (taskapp.web.observability,
# taskapp.identity.bearer, taskapp.web.errors, taskapp.web.idempotency).
REQUEST_ID = "X-Request-ID"
REQUEST_ID_HEADER = string_header(
    "The request's id: the client's own X-Request-ID when it is 1-128 of `A-Za-z0-9._:/+=-`, else a new "
    "one; the server's log line of the request carries it.",
    required=True,
)
# The caller's budget (taskapp.web.rate_limits), on every answer while rate limits are on.
RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": string_header("Requests allowed in the window closest to running out.", pattern="^[0-9]+$"),
    "RateLimit-Remaining": string_header("Requests left in that window.", pattern="^[0-9]+$"),
    "RateLimit-Reset": string_header("Seconds until that window starts again.", pattern="^[0-9]+$"),
    "RateLimit-Policy": string_header("The window: `<requests>;w=<seconds>` (IETF draft).",
                                      pattern="^[0-9]+;w=[0-9]+$"),
}
EVERY_ANSWER = {REQUEST_ID: REQUEST_ID, **{name: name for name in RATE_LIMIT_HEADERS}}
RETRY_AFTER_HEADER = {"Retry-After": string_header("Seconds to wait before trying again.", required=True,
                                                   pattern="^[0-9]+$")}
STATUS_HEADERS = {
    HTTPStatus.UNAUTHORIZED: {"WWW-Authenticate": string_header(
        'The RFC 6750 challenge: `Bearer realm="taskapp"`, with `error="invalid_token"` and an '
        "`error_description` when a token was sent but refused.", required=True)},
    HTTPStatus.NOT_MODIFIED: {"ETag": string_header("The version tag the client already has.", required=True)},
    HTTPStatus.SERVICE_UNAVAILABLE: RETRY_AFTER_HEADER,
    HTTPStatus.TOO_MANY_REQUESTS: RETRY_AFTER_HEADER,
}

# An error answer with a response of its own; any other status's is named after the status.
KEY_IN_USE = "IDEMPOTENCY_KEY_IN_USE"
NAMED_ERRORS = {
    KEY_IN_USE: (HTTPStatus.CONFLICT, {
        "description": "Conflict: a request with the same Idempotency-Key is still being processed; "
        "retry after `Retry-After` seconds.",
        "headers": RETRY_AFTER_HEADER,
    }),
}

# The database (or the identity provider's keys) unavailable; the caller over budget.
ALWAYS_POSSIBLE = (429, 503)


def tagged_union(converter, field, ret: dict, **kwargs) -> dict:
    """apispec: a Tagged field as a reference to its union, a component that is a `oneOf` of its
    variants with a `discriminator` naming each variant's tag (the field's description is the
    component's: OpenAPI 3.0 ignores whatever stands beside a `$ref`)."""
    if not isinstance(field, Tagged):
        return {}
    ret.clear()
    components = converter.spec.components
    if field.component not in components.schemas:
        variants = {tag: converter.resolve_nested_schema(schema) for tag, schema in field.variants.items()}
        described = {"description": field.metadata["description"]} if "description" in field.metadata else {}
        components.schema(field.component, {
            **described,
            "oneOf": list(variants.values()),
            "discriminator": {"propertyName": field.tag,
                              "mapping": {tag: ref["$ref"] for tag, ref in variants.items()}},
        })
    return components.get_ref("schema", field.component)


def default_in_words(converter, field, ret: dict, **kwargs) -> dict:
    """apispec: what a request field defaults to, said in its description instead of as `default`.

    openapi-typescript reads a `default` as "always present" and makes the property required in
    the type it generates, which for a request body would mean the client must send it. What the
    server does is marshmallow's `load_default`, unchanged.
    """
    if "default" in ret:
        default = ret.pop("default")
    elif field.load_default in (list, dict):  # apispec leaves out callables; these two make plain values
        default = field.load_default()
    else:
        return {}
    words = f"Default: `{default if isinstance(default, str) else json.dumps(default)}`."
    return {"description": f"{ret['description']} {words}" if ret.get("description") else words}


class DocumentPlugin(MarshmallowPlugin):
    """apispec's marshmallow plugin, with the two conversions above."""

    def init_spec(self, spec) -> None:
        super().init_spec(spec)
        self.converter.add_attribute_function(tagged_union)
        self.converter.add_attribute_function(default_in_words)


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, parsing bodies with JSONBodyParser; `doc` and `alt_response`
    document without wrapping the view."""

    ARGUMENTS_PARSER = JSONBodyParser()

    @staticmethod
    def doc(**kwargs):
        return documentation_only(flask_smorest.Blueprint.doc(**kwargs))

    def response(self, status_code, schema=None, *, headers=None, **kwargs):
        """flask-smorest's response, documented with the headers every answer carries."""
        return super().response(status_code, schema, headers={**(headers or {}), **EVERY_ANSWER}, **kwargs)

    def alt_response(self, *args, **kwargs):
        return documentation_only(super().alt_response(*args, **kwargs))

    def documents_errors(self, *answers):
        """Document the error answers an operation can give, in the shared error shape: each a
        status code, or the name of an error response of its own (NAMED_ERRORS)."""

        def decorator(func):
            for answer in (*answers, *ALWAYS_POSSIBLE):
                status, name = (NAMED_ERRORS[answer][0], answer) if isinstance(answer, str) \
                    else (answer, HTTPStatus(answer).name)
                func = self.alt_response(status, response=name)(func)
            return func

        return decorator


class TaskApi(Api):
    """flask-smorest's Api, with every error given a message and its protocol headers kept."""

    USER_ID_PARAMETER = USER_ID_PARAMETER
    ERROR_SCHEMA = ErrorSchema

    def init_app(self, app: Flask, *args, spec_kwargs=None, **kwargs) -> None:
        app.config.setdefault("API_SPEC_OPTIONS", {
            "info": {"description": API_DESCRIPTION},
            "servers": SERVERS,
            "security": [{"bearerAuth": []}],
        })
        spec_kwargs = {"marshmallow_plugin": DocumentPlugin(), **(spec_kwargs or {})}
        super().init_app(app, *args, spec_kwargs=spec_kwargs, **kwargs)
        self.spec.components.security_scheme("bearerAuth", BEARER_SCHEME)

    # flask-smorest's own hooks, called as it builds the document (APISpecMixin._init_spec);
    # tests/api/test_openapi.py notices if they are no longer called.

    def _register_responses(self):
        """flask-smorest's response for every status (registered lazily: only those referred to are
        in the document), each declaring the headers sent with it; and the named error responses."""
        self.spec.components.header(REQUEST_ID, REQUEST_ID_HEADER)
        for name, header in RATE_LIMIT_HEADERS.items():
            self.spec.components.header(name, header)
        named = dict(NAMED_ERRORS)
        for status in HTTPStatus:
            named[status.name] = (status, {"description": status.phrase, "headers": STATUS_HEADERS.get(status, {})})
        named[self.DEFAULT_ERROR_RESPONSE_NAME] = (None, {"description": "Any other error (500: the server failed)"})
        for name, (status, described) in named.items():
            response = {**described, "headers": {**described.get("headers", {}), **EVERY_ANSWER}}
            if status is None or not (100 <= status < 200 or status in (204, 304)):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, self.DEFAULT_RESPONSE_CONTENT_TYPE)
            self.spec.components.response(name, response, lazy=True)

    def _register_pagination_header(self):
        """Nothing: flask-smorest's pagination (and its PaginationMetadata schema) is not used."""

    def handle_http_exception(self, error: HTTPException):
        data = getattr(error, "data", None) or {}
        errors = data.get("errors", data.get("messages"))
        headers = dict(data.get("headers") or {})
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            headers["Allow"] = ", ".join(error.valid_methods)
        message = None if isinstance(error, InternalServerError) else data.get("message")
        return error_body(error.code, message, errors, data.get("operation")), error.code, headers


api = TaskApi()
