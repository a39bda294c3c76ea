"""Why the database refused a write, told to the client: 404 when the caller cannot see the
list or task at all (exactly as if it did not exist), 403 when they can but their role in
the list does not allow the write, 422 when an assignee is not a member.

Nothing here decides access: the policies did, and these only read, as the caller, what the
policies let them see.
"""

from contextlib import contextmanager

from sqlalchemy import bindparam, select
from sqlalchemy.exc import DBAPIError

from taskapp.database.tables import lists, tasks
from taskapp.database.transaction import distributed, first, roll_back
from taskapp.web.errors import abort

REFUSED_BY_POLICY = "42501"  # new row violates row-level security policy
FOREIGN_KEY_VIOLATION = "23503"
ROLE_TOO_LOW = "Your role in this list does not allow this."
NOT_A_MEMBER = "The assignee is not a member of the task's list."
MOVE_NOT_DISTRIBUTED = ("This service's database is distributed by list (Citus), where a task cannot move to "
                        "another list yet: create it in that list and delete this one.")

LIST_VISIBLE = select(lists.c.id).where(lists.c.id == bindparam("list_id"))
TASK_VISIBLE = select(tasks.c.id).where(tasks.c.id == bindparam("task_id"))
TASK_LIST = select(tasks.c.list_id).where(tasks.c.id == bindparam("task_id"))


def list_visible(list_id) -> bool:
    return first(LIST_VISIBLE, {"list_id": list_id}) is not None


def task_visible(task_id) -> bool:
    return first(TASK_VISIBLE, {"task_id": task_id}) is not None


def refuse_moves_where_distributed(task_id, list_id) -> None:
    """On Citus, before a write that names a list: a task cannot change list there (the list is
    its distribution column), so a move is 409 (404 for a task or list the caller does not
    see). Asked before writing, so that a batch's earlier operations are still there to see."""
    if list_id is None or not distributed():
        return
    placed = first(TASK_LIST, {"task_id": task_id})
    if placed is None or not list_visible(list_id):
        abort(404)
    if str(placed["list_id"]) != str(list_id):
        abort(409, MOVE_NOT_DISTRIBUTED)


def forbidden_or_missing(visible: bool):
    """403 for what the caller sees but may not change; 404 for what they do not see."""
    if visible:
        abort(403, ROLE_TOO_LOW)
    abort(404)


def written_task(row, task_id):
    """The task a write returned; when it returned none, 403 or 404 by whether the task is visible."""
    if row is None:
        forbidden_or_missing(task_visible(task_id))
    return row


@contextmanager
def refusals_explained(list_id=None):
    """Turn a write the policies refused into 403 or 404 (by whether `list_id`, the list the
    row was to be in, is visible), an assignee who is no member into 422, and a list deleted
    while the row was being written to it into 404 (as any list that is not there)."""
    try:
        yield
    except DBAPIError as error:
        state = getattr(error.orig, "sqlstate", None)
        # A shard's constraint carries its shard's number after the name (Citus).
        constraint = getattr(getattr(error.orig, "diag", None), "constraint_name", None) or ""
        if state == REFUSED_BY_POLICY:
            roll_back()
            forbidden_or_missing(list_id is not None and list_visible(list_id))
        if state == FOREIGN_KEY_VIOLATION and constraint.startswith("tasks_assignee_fkey"):
            roll_back()
            abort(422, NOT_A_MEMBER, errors={"json": {"assignee_id": [NOT_A_MEMBER]}})
        if state == FOREIGN_KEY_VIOLATION and "_list_fkey" in constraint:
            roll_back()
            abort(404)
        raise
