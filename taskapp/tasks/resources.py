"""The tasks resource: `/api/{user_id}/tasks…` and `/api/{user_id}/summary`.

Which rows exist is decided by PostgreSQL's row-level security for the caller's identity;
nothing here filters by owner. A task another user owns is simply not found.
"""

import uuid
from http import HTTPStatus
from urllib.parse import urlencode

from flask import current_app, g, request, url_for
from flask.views import MethodView

from taskapp import idempotency
from taskapp.api import Blueprint
from taskapp.changes import queries as change_queries
from taskapp.config import signing_key
from taskapp.db import first, rows, run
from taskapp.errors import abort
from taskapp.tasks import queries, series
from taskapp.tasks.etags import answer_with_etag, check_if_match, etag_header
from taskapp.tasks.listing import SORT_ORDERS, BadCursor, Cursors, fingerprint, page_statement
from taskapp.tasks.schemas import SummarySchema, TaskPatchSchema, TaskQueryArgs, TaskSchema, TaskWriteSchema

blp = Blueprint(
    "tasks",
    __name__,
    url_prefix="/api/<user_id>",
    description="Your tasks. `{user_id}` is your token's `sub`, or `me`.",
)

BODY_FREE_ENDPOINTS = {"tasks.TaskCompletion"}


def string_header(description: str, name: str | None = None, **schema) -> dict:
    """An OpenAPI string header: a response header, or a request parameter when named."""
    header = {"description": description, "schema": {"type": "string", **schema}}
    return {"in": "header", "name": name, "required": False, **header} if name else header


ETAG_HEADER = {"ETag": string_header("Version tag of the task")}
# Schema instances, not classes: webargs would build a new instance (deep-copying every
# field) on each request for a class. A marshmallow schema's load keeps no state.
QUERY_ARGS, WRITE, PATCH = TaskQueryArgs(), TaskWriteSchema(), TaskPatchSchema()
LINK_HEADER = {"Link": string_header('RFC 8288 `<url>; rel="next"` to the next page; absent on the last page.')}
IF_MATCH = string_header("Optional: refuse the write with 412 unless the task still has this ETag.", "If-Match")
IF_NONE_MATCH = string_header("Answer 304 when the task still has this ETag.", "If-None-Match")
IDEMPOTENCY_KEY = string_header(
    "Optional: 1-255 printable ASCII characters of your choosing. A retry with the same key and the same "
    "request gets the first answer again (`Idempotent-Replayed: true`) and writes nothing; the same key "
    "with another request is 422, while the first is still running 409. Keys are yours alone and "
    "are kept 24 hours.",
    "Idempotency-Key",
    minLength=1, maxLength=255, pattern=idempotency.KEY_PATTERN,
)
REPLAYED_HEADER = {"Idempotent-Replayed": string_header("`true` when this is the stored answer to an earlier "
                                                        "request with the same Idempotency-Key.")}
IDEMPOTENT_WRITES = {
    ("tasks.Tasks", "POST"), ("tasks.Task", "PUT"), ("tasks.Task", "PATCH"), ("tasks.Task", "DELETE"),
    ("tasks.TaskCompletion", "PATCH"),
}


ALWAYS_POSSIBLE = (503,)  # the database (or the identity provider's keys) unavailable


def documents_errors(*codes):
    """Document the error answers an operation can give, in the shared error shape."""

    def decorator(func):
        for code in (*codes, *ALWAYS_POSSIBLE):
            func = blp.alt_response(code, response=HTTPStatus(code).name)(func)
        return blp.alt_response(414, response="URI_TOO_LONG")(func)

    return decorator


@blp.url_value_preprocessor
def take_user_id(endpoint, values):
    g.path_user_id = values.pop("user_id", None)


@blp.before_request
def only_your_own_tasks():
    """`{user_id}` names the caller (or is `me`); bodies that write are JSON."""
    if request.method == "OPTIONS":  # a CORS preflight carries no token and reaches no view
        return
    if g.path_user_id not in ("me", g.user_id):
        abort(403)
    if (
        request.method in ("POST", "PUT", "PATCH")
        and request.endpoint not in BODY_FREE_ENDPOINTS
        and not request.is_json
    ):
        abort(415)


@blp.before_request
def once_per_idempotency_key():
    """A write sent with an Idempotency-Key is done once (taskapp/idempotency.py)."""
    if (request.endpoint, request.method) in IDEMPOTENT_WRITES:
        return idempotency.begin()
    return None


blp.after_request(idempotency.finish)


def page_cursors() -> Cursors:
    extensions = current_app.extensions
    if "taskapp.cursors" not in extensions:
        extensions["taskapp.cursors"] = Cursors(signing_key(current_app.config))
    return extensions["taskapp.cursors"]


def next_page_url(cursor: str) -> str:
    """This request's URL with the next page's cursor (RFC 8288 target, path-absolute)."""
    args = request.args.copy()
    args.setlist("cursor", [cursor])
    return f"{request.path}?{urlencode(list(args.items(multi=True)))}"


def task_uuid(task_id: str) -> uuid.UUID:
    """A malformed id is just another task that does not exist."""
    try:
        return uuid.UUID(task_id)
    except ValueError:
        abort(404)


def found(row):
    if row is None:
        abort(404)
    return row


def write(task_id: str, change):
    """Run one write on a task, honouring If-Match, and answer with the new version.

    `change(task_id)` writes and returns the task as it now is (None: there is no such task).
    """
    task_id = task_uuid(task_id)
    if request.if_match:
        # Lock the row so the version checked is the version changed.
        check_if_match(found(first(*queries.get(task_id, for_update=True))))
    task = found(change(task_id))
    idempotency.commit()
    return task, etag_header(task)


def removed(task_id):
    """Delete the task; the feed remembers it, and forgets a few deletions past their retention."""
    task = first(*queries.remove(task_id))
    if task is not None:
        run(*change_queries.forget_deletions(current_app.config["TASKAPP_CHANGES_RETENTION_DAYS"]))
    return task


def changed(task_id, values: dict):
    return first(*queries.change(task_id, values))


def completed_or_toggled(task_id):
    """Toggle a plain task (or reopen a finished series); an open recurring one moves forward."""
    return first(*queries.toggle_completed(task_id)) or series.write(task_id, {"completed": True})


@blp.route("/tasks")
class Tasks(MethodView):
    @blp.arguments(QUERY_ARGS, location="query")
    @blp.response(200, TaskSchema(many=True), headers=LINK_HEADER)
    @documents_errors(400, 401, 403)
    def get(self, args):
        """List your tasks: filter, search, sort and page (newest first by default)"""
        order = SORT_ORDERS[args["sort"]]
        bound_to = fingerprint(args, g.user_id)
        after = None
        if "cursor" in args:
            try:
                after = page_cursors().read(args["cursor"], order, bound_to)
            except BadCursor as exc:
                abort(400, str(exc))
        page = rows(*page_statement(args, order, after, args["limit"]))
        if len(page) <= args["limit"]:
            return page
        page = page[: args["limit"]]
        cursor = page_cursors().make(order, bound_to, page[-1])
        return page, {"Link": f'<{next_page_url(cursor)}>; rel="next"'}

    @blp.doc(parameters=[IDEMPOTENCY_KEY])
    @blp.arguments(WRITE)
    @blp.response(201, TaskSchema, headers={
        **ETAG_HEADER,
        **REPLAYED_HEADER,
        "Location": {"description": "URL of the new task", "schema": {"type": "string"}},
    })
    @documents_errors(400, 401, 403, 409, 413, 415)
    def post(self, new_task):
        """Create a task"""
        series.check_reminders(new_task)
        complete_first_occurrence = False
        if new_task["recurrence"] is not None:
            series.check_new(new_task)
            complete_first_occurrence = new_task.pop("completed")
        task = first(*queries.create(new_task))
        if complete_first_occurrence:
            task = series.write(task["id"], {"completed": True})
        idempotency.commit()
        location = url_for("tasks.Task", user_id=g.path_user_id, task_id=task["id"])
        return task, {"Location": location, **etag_header(task)}


@blp.route("/tasks/<task_id>")
class Task(MethodView):
    @blp.doc(parameters=[IF_NONE_MATCH])
    @blp.response(200, TaskSchema, headers=ETAG_HEADER)
    @blp.alt_response(304, response="NOT_MODIFIED")
    @documents_errors(401, 403, 404)
    def get(self, task_id):
        """Get one task"""
        task = found(first(*queries.get(task_uuid(task_id))))
        return answer_with_etag(task)

    @blp.doc(parameters=[IF_MATCH, IDEMPOTENCY_KEY])
    @blp.arguments(WRITE)
    @blp.response(200, TaskSchema, headers={**ETAG_HEADER, **REPLAYED_HEADER})
    @documents_errors(400, 401, 403, 404, 409, 412, 413, 415)
    def put(self, replacement, task_id):
        """Replace a task: omitted optional fields go back to their defaults"""
        series.check_reminders(replacement)
        if replacement["recurrence"] is not None:
            return write(task_id, lambda id_: series.write(id_, replacement))
        # A plain task from now on, whatever it was: no need to read it first.
        return write(task_id, lambda id_: changed(id_, {**replacement, **series.PLAIN}))

    @blp.doc(parameters=[IF_MATCH, IDEMPOTENCY_KEY])
    @blp.arguments(PATCH)
    @blp.response(200, TaskSchema, headers={**ETAG_HEADER, **REPLAYED_HEADER})
    @documents_errors(400, 401, 403, 404, 409, 412, 413, 415)
    def patch(self, changes, task_id):
        """Change some fields of a task; null clears description, due_at or recurrence"""
        if series.touches_schedule(changes):
            return write(task_id, lambda id_: series.write(id_, changes))
        return write(task_id, lambda id_: changed(id_, changes))

    @blp.doc(parameters=[IF_MATCH, IDEMPOTENCY_KEY])
    @blp.response(204, headers=REPLAYED_HEADER)
    @documents_errors(400, 401, 403, 404, 409, 412, 422)
    def delete(self, task_id):
        """Delete a task"""
        write(task_id, removed)
        return None


@blp.route("/tasks/<task_id>/complete")
class TaskCompletion(MethodView):
    @blp.doc(parameters=[IF_MATCH, IDEMPOTENCY_KEY])
    @blp.response(200, TaskSchema, headers={**ETAG_HEADER, **REPLAYED_HEADER})
    @documents_errors(400, 401, 403, 404, 409, 412, 422)
    def patch(self, task_id):
        """Toggle whether a task is completed; a recurring one moves to its next occurrence"""
        return write(task_id, completed_or_toggled)


@blp.route("/summary")
class Summary(MethodView):
    @blp.response(200, SummarySchema)
    @documents_errors(401, 403)
    def get(self):
        """Count your tasks: total, open, completed, overdue, and completions today (UTC)"""
        counts = first(*queries.counts())
        return {"user_id": g.user_id, "tasks": counts}
