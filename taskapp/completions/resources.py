"""Completions: `/api/{user_id}/tasks/{task_id}/completions…` and `/api/{user_id}/completions`.

The history rows are written by the database and by taskapp/tasks/series.py as tasks are
completed; here they are read, and the latest one of a task can be undone. Row-level
security decides which exist: another user's task and its history are simply not found.
"""

from flask import g
from flask.views import MethodView

from taskapp.completions import queries
from taskapp.completions.schemas import CompletionPageArgs, CompletionSchema, CompletionWindowArgs
from taskapp.database.transaction import commit, first, rows
from taskapp.lists.access import written_task
from taskapp.tasks import queries as task_queries
from taskapp.web.cursors import scope_of
from taskapp.web.errors import abort, found, uuid_or_404
from taskapp.web.pages import LINK_HEADER, NewestFirstPages
from taskapp.web.user_scope import user_blueprint

blp = user_blueprint(
    "completions",
    __name__,
    "What you got done: every completion of your tasks, newest first.",
)

PAGE_ARGS, WINDOW_ARGS = CompletionPageArgs(), CompletionWindowArgs()
PAGES = NewestFirstPages("taskapp.completions.cursor", "completed_at", "The cursor is not valid for this history.")


def history_scope(args: dict, task_id) -> str:
    """What a cursor belongs to: the caller, the task (or all) and the window."""
    window = {name: args[name].isoformat() for name in ("completed_after", "completed_before") if name in args}
    return scope_of(user=g.user_id, task=str(task_id), **window)


def history_page(args: dict, task_id=None):
    """A page of completions, and a Link to the next one when more follow."""
    scope = history_scope(args, task_id)
    fetched = rows(*queries.page(args, task_id, PAGES.after(args, scope)))
    return PAGES.answer(fetched, args, scope)


@blp.route("/tasks/<task_id>/completions")
class TaskCompletions(MethodView):
    @blp.doc(operationId="listTaskCompletions")
    @blp.arguments(PAGE_ARGS, location="query")
    @blp.response(200, CompletionSchema(many=True), headers=LINK_HEADER)
    @blp.documents_errors(400, 401, 403, 404)
    def get(self, args, task_id):
        """List a task's completions, newest first"""
        task_id = uuid_or_404(task_id)
        found(first(*task_queries.get(task_id)))
        return history_page(args, task_id)


@blp.route("/tasks/<task_id>/completions/<completion_id>")
class TaskCompletion(MethodView):
    @blp.doc(operationId="undoTaskCompletion")
    @blp.response(204)
    @blp.documents_errors(401, 403, 404, 409)
    def delete(self, task_id, completion_id):
        """Undo a task's latest completion: the task returns to that occurrence"""
        task_id = uuid_or_404(task_id)
        completion_id = uuid_or_404(completion_id)
        # Locked: one undo at a time. Seen but not writable (a viewer): 403.
        task = written_task(task_queries.locked(task_id, with_series=True), task_id)
        latest = first(*queries.latest(task_id))
        if latest is None or latest["id"] != completion_id:
            found(first(*queries.one(task_id, completion_id)))
            abort(409, "Only the task's latest completion can be undone.")
        if task["completed"]:  # reopening forgets the latest completion (a trigger does)
            first(*task_queries.change(task_id, {"completed": False}))
        else:  # it moved a recurring task forward: back to the occurrence it completed
            first(*queries.move_back(task_id, latest))
        commit()
        return None


@blp.route("/completions")
class Completions(MethodView):
    @blp.doc(operationId="listCompletions")
    @blp.arguments(WINDOW_ARGS, location="query")
    @blp.response(200, CompletionSchema(many=True), headers=LINK_HEADER)
    @blp.documents_errors(400, 401, 403)
    def get(self, args):
        """List every completion of your tasks in a time window, newest first"""
        return history_page(args)
