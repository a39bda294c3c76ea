"""The change feed: `/api/{user_id}/changes`.

A sync token is a position in the caller's own sequence of versions (taskapp/changes/queries.py):
the last change delivered (version, task id) and, after a full sync, the version the
snapshot was taken at, below which deletions do not concern the client. Tokens are signed
cursors bound to their user (taskapp.web.cursors); the database decides which rows are the
caller's.
"""

import uuid

from flask import g
from flask.views import MethodView

from taskapp.changes import queries
from taskapp.changes.schemas import ChangePageSchema, ChangesArgs
from taskapp.database.tables import TASK_FIELDS
from taskapp.database.transaction import rows
from taskapp.web.cursors import BadCursor, SignedCursors, scope_of
from taskapp.web.errors import abort
from taskapp.web.user_scope import user_blueprint

blp = user_blueprint(
    "changes",
    __name__,
    "What changed in your tasks since you last looked: sync a client, then keep it in sync.",
)

TOKENS = SignedCursors("taskapp.changes.token")
NO_ID = uuid.UUID(int=0)
ARGS = ChangesArgs()
BAD_TOKEN = "The sync token is not valid for you; start again without `since`."
TOO_OLD = (
    "The changes since this sync token are no longer remembered; sync again from the start (without `since`)."
)


def make_token(version: int, task_id, floor: int) -> str:
    return TOKENS.make(scope_of(user=g.user_id), v=version, i=str(task_id), b=floor)


def read_token(token: str) -> tuple[int, uuid.UUID, int]:
    """(version, task id, floor) of a token this service made for the caller; 400 otherwise."""
    try:
        position = TOKENS.read(token, scope_of(user=g.user_id))
        version, floor = position["v"], position["b"]
        if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**63 for n in (version, floor)):
            raise ValueError
        return version, uuid.UUID(position["i"]), floor
    except (BadCursor, ValueError, KeyError, TypeError, AttributeError):
        abort(400, BAD_TOKEN)


def change(row: dict) -> dict:
    if row["op"] == "delete":
        return {"op": "delete", "task_id": row["id"]}
    return {"op": "upsert", "task": {name: row[name] for name in TASK_FIELDS}}


@blp.route("/changes")
class Changes(MethodView):
    @blp.doc(operationId="listChanges")
    @blp.arguments(ARGS, location="query")
    @blp.response(200, ChangePageSchema)
    @blp.documents_errors(400, 401, 403, 410)
    def get(self, args):
        """What changed since `since`: each task at most once in its latest state, deletions too"""
        limit = args["limit"]
        if "since" in args:
            version, task_id, floor = read_token(args["since"])
            found = rows(*queries.since(version, task_id, floor, limit + 1))
            if max(version, floor) < found[0]["forgotten"]:
                abort(410, TOO_OLD)
        else:
            found = rows(*queries.snapshot(limit + 1))
            version, task_id, floor = 0, NO_ID, found[0]["latest"]
        page = [row for row in found if row["op"] is not None]
        has_more = len(page) > limit
        page = page[:limit]
        if page:
            version, task_id = page[-1]["version"], page[-1]["id"]
        return {"changes": [change(row) for row in page], "next": make_token(version, task_id, floor),
                "has_more": has_more}
