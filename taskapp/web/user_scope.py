"""The user-scoped blueprint: every resource under `/api/{user_id}` is made by `user_blueprint`.

Its hooks run before every view: `{user_id}` must name the caller (or be `me`), bodies that
write must be JSON, and writes that accept an Idempotency-Key are done once
(taskapp.web.idempotency). Which rows exist is then the database's decision alone.
"""

from flask import g, request
from werkzeug.routing import PathConverter

from taskapp.web import idempotency
from taskapp.web.api import Blueprint
from taskapp.web.errors import abort

URL_PREFIX = "/api/<user_id>"
BODY_METHODS = ("POST", "PUT", "PATCH")


class UserIdConverter(PathConverter):
    """A user id in a path (`<user_id:member_id>`): any `sub` an identity provider issues, so
    slashes (even leading ones: werkzeug's `path` refuses those) and line breaks too, but no NUL,
    which no stored id holds. The app keeps `//` in paths as sent (taskapp.app), so
    `…/members//x` names the member `/x`."""

    regex = "[^\x00]+?"
    part_isolating = False  # werkzeug would infer True, as the regex names no `/`


def user_id_parameter_schema(converter) -> dict:
    return {"type": "string", "minLength": 1, "pattern": "^[^\\u0000]+$"}


def take_user_id(endpoint, values):
    """The path's `{user_id}`, kept aside: views never receive it (they act as the caller)."""
    g.path_user_id = values.pop("user_id", None)


def user_blueprint(name: str, import_name: str, description: str, *, body_free: frozenset = frozenset(),
                   idempotent: frozenset = frozenset()) -> Blueprint:
    """A blueprint under `/api/{user_id}` for one resource.

    body_free: endpoints whose writes take no body (no JSON needed); idempotent: the
    (endpoint, method) pairs that honour an Idempotency-Key.
    """
    blp = Blueprint(name, import_name, url_prefix=URL_PREFIX, description=description)
    blp.url_value_preprocessor(take_user_id)

    @blp.before_request
    def only_the_caller():
        """`{user_id}` names the caller (or is `me`); bodies that write are JSON."""
        if request.method == "OPTIONS":  # a CORS preflight carries no token and reaches no view
            return
        caller = g.get("user_id")
        if caller is None:  # only a route the token check let through without a token could get here
            abort(401)
        if g.path_user_id not in ("me", caller):
            abort(403)
        if request.method in BODY_METHODS and request.endpoint not in body_free and not request.is_json:
            abort(415)

    if idempotent:
        @blp.before_request
        def once_per_idempotency_key():
            """A write sent with an Idempotency-Key is done once."""
            if (request.endpoint, request.method) in idempotent:
                return idempotency.begin()
            return None

        blp.after_request(idempotency.finish)
    return blp
