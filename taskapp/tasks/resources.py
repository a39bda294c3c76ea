"""The tasks resource: `/api/{user_id}/tasks…` and `/api/{user_id}/summary`.

Which rows exist is decided by PostgreSQL's row-level security for the caller's identity;
nothing here filters by owner. A task another user owns is simply not found.
"""

from flask import current_app, g, request, url_for
from flask.views import MethodView

from taskapp.changes import queries as change_queries
from taskapp.database.transaction import commit, execute, first, rows
from taskapp.lists.access import refusals_explained, refuse_moves_where_distributed, written_task
from taskapp.tasks import queries, series
from taskapp.tasks.etags import (
    ETAG_HEADER,
    IF_MATCH,
    IF_NONE_MATCH,
    answer_with_etag,
    check_if_match,
    check_if_match_is_well_formed,
    etag_header,
)
from taskapp.tasks.listing import SORT_ORDERS, page_scope, page_statement, read_cursor, task_cursor
from taskapp.tasks.schemas import SummarySchema, TaskPatchSchema, TaskQueryArgs, TaskSchema, TaskWriteSchema
from taskapp.web.api import KEY_IN_USE, string_header
from taskapp.web.errors import found, uuid_or_404
from taskapp.web.idempotency import KEY_PARAMETER as IDEMPOTENCY_KEY
from taskapp.web.idempotency import REPLAYED_HEADER
from taskapp.web.pages import LINK_HEADER, link_to_next
from taskapp.web.user_scope import user_blueprint

blp = user_blueprint(
    "tasks",
    __name__,
    "Your tasks. `{user_id}` is your token's `sub`, or `me`.",
    body_free=frozenset({"tasks.CompletionToggle"}),
    idempotent=frozenset({
        ("tasks.Tasks", "POST"), ("tasks.Task", "PUT"), ("tasks.Task", "PATCH"), ("tasks.Task", "DELETE"),
        ("tasks.CompletionToggle", "PATCH"),
    }),
)

# Schema instances, not classes: webargs would build a new instance (deep-copying every
# field) on each request for a class. A marshmallow schema's load keeps no state.
QUERY_ARGS, WRITE, PATCH = TaskQueryArgs(), TaskWriteSchema(), TaskPatchSchema()


def write_task(task_id: str, change, moving_to=None):
    """Run one write on a task, honouring If-Match, and answer with the new version.

    `change(task_id)` writes and returns the task as it now is (None: the caller may not write
    it, or there is no such task: 403 or 404). `moving_to` is the list the write moves it to.
    """
    task_id = uuid_or_404(task_id)
    check_if_match_is_well_formed()
    with refusals_explained(moving_to):
        refuse_moves_where_distributed(task_id, moving_to)
        if request.if_match:
            # Lock the row so the version checked is the version changed.
            check_if_match(written_task(queries.locked(task_id), task_id))
        task = written_task(change(task_id), task_id)
    commit()
    return task, etag_header(task)


def removed(task_id):
    """Delete the task; the feed remembers it, and forgets a few deletions past their retention."""
    task = first(*queries.remove(task_id))
    if task is not None:
        execute(*change_queries.forget(current_app.config["TASKAPP_CHANGES_RETENTION_DAYS"]))
    return task


def changed(task_id, values: dict):
    return first(*queries.change(task_id, values))


def completed_or_toggled(task_id):
    """Toggle a plain task (or reopen a finished series); an open recurring one moves forward."""
    return first(*queries.toggle_completed(task_id)) or series.apply(task_id, {"completed": True})


@blp.route("/tasks")
class Tasks(MethodView):
    @blp.doc(operationId="listTasks")
    @blp.arguments(QUERY_ARGS, location="query")
    @blp.response(200, TaskSchema(many=True), headers=LINK_HEADER)
    @blp.documents_errors(400, 401, 403)
    def get(self, args):
        """List your tasks: filter, search, sort and page (newest first by default)"""
        order = SORT_ORDERS[args["sort"]]
        scope = page_scope(args, g.user_id)
        after = read_cursor(args["cursor"], order, scope) if "cursor" in args else None
        page = rows(*page_statement(args, order, after, args["limit"]))
        if len(page) <= args["limit"]:
            return page
        page = page[: args["limit"]]
        return page, link_to_next(task_cursor(order, scope, page[-1]))

    @blp.doc(operationId="createTask", parameters=[IDEMPOTENCY_KEY])
    @blp.arguments(WRITE)
    @blp.response(201, TaskSchema, headers={
        **ETAG_HEADER,
        **REPLAYED_HEADER,
        "Location": string_header("URL of the new task", required=True),
    })
    @blp.documents_errors(400, 401, 403, KEY_IN_USE, 413, 415)
    def post(self, new_task):
        """Create a task"""
        series.check_reminders(new_task)
        complete_first_occurrence = False
        if new_task["recurrence"] is not None:
            series.check_new(new_task)
            complete_first_occurrence = new_task.pop("completed")
        with refusals_explained(new_task.get("list_id")):
            task = first(*queries.create(new_task))
            if complete_first_occurrence:
                task = series.apply(task["id"], {"completed": True})
        commit()
        location = url_for("tasks.Task", user_id=g.path_user_id, task_id=task["id"])
        return task, {"Location": location, **etag_header(task)}


@blp.route("/tasks/<task_id>")
class Task(MethodView):
    @blp.doc(operationId="getTask", parameters=[IF_NONE_MATCH])
    @blp.response(200, TaskSchema, headers=ETAG_HEADER)
    @blp.alt_response(304, response="NOT_MODIFIED")
    @blp.documents_errors(401, 403, 404)
    def get(self, task_id):
        """Get one task"""
        task = found(first(*queries.get(uuid_or_404(task_id))))
        return answer_with_etag(task)

    @blp.doc(operationId="replaceTask", parameters=[IF_MATCH, IDEMPOTENCY_KEY])
    @blp.arguments(WRITE)
    @blp.response(200, TaskSchema, headers={**ETAG_HEADER, **REPLAYED_HEADER})
    @blp.documents_errors(400, 401, 403, 404, KEY_IN_USE, 412, 413, 415)
    def put(self, replacement, task_id):
        """Replace a task: omitted optional fields go back to their defaults"""
        series.check_reminders(replacement)
        moving_to = replacement.get("list_id")
        if replacement["recurrence"] is not None:
            return write_task(task_id, lambda id_: series.apply(id_, replacement), moving_to)
        # A plain task from now on, whatever it was: no need to read it first.
        return write_task(task_id, lambda id_: changed(id_, {**replacement, **series.PLAIN}), moving_to)

    @blp.doc(operationId="updateTask", parameters=[IF_MATCH, IDEMPOTENCY_KEY])
    @blp.arguments(PATCH)
    @blp.response(200, TaskSchema, headers={**ETAG_HEADER, **REPLAYED_HEADER})
    @blp.documents_errors(400, 401, 403, 404, KEY_IN_USE, 412, 413, 415)
    def patch(self, changes, task_id):
        """Change some fields of a task; null clears description, due_at or recurrence"""
        moving_to = changes.get("list_id")
        if series.touches_schedule(changes):
            return write_task(task_id, lambda id_: series.apply(id_, changes), moving_to)
        return write_task(task_id, lambda id_: changed(id_, changes), moving_to)

    @blp.doc(operationId="deleteTask", parameters=[IF_MATCH, IDEMPOTENCY_KEY])
    @blp.response(204, headers=REPLAYED_HEADER)
    @blp.documents_errors(400, 401, 403, 404, KEY_IN_USE, 412, 422)
    def delete(self, task_id):
        """Delete a task"""
        write_task(task_id, removed)
        return None


@blp.route("/tasks/<task_id>/complete")
class CompletionToggle(MethodView):
    @blp.doc(operationId="toggleTaskCompleted", parameters=[IF_MATCH, IDEMPOTENCY_KEY])
    @blp.response(200, TaskSchema, headers={**ETAG_HEADER, **REPLAYED_HEADER})
    @blp.documents_errors(400, 401, 403, 404, KEY_IN_USE, 412, 422)
    def patch(self, task_id):
        """Toggle whether a task is completed; a recurring one moves to its next occurrence"""
        return write_task(task_id, completed_or_toggled)


@blp.route("/summary")
class Summary(MethodView):
    @blp.doc(operationId="getSummary")
    @blp.response(200, SummarySchema)
    @blp.documents_errors(401, 403)
    def get(self):
        """Count your tasks: total, open, completed, overdue, and completions today (UTC)"""
        counts = first(*queries.counts())
        return {"user_id": g.user_id, "tasks": counts}
