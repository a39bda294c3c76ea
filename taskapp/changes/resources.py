"""The change feed: `/api/{user_id}/changes`.

A sync token is a position in the database's transactions (taskapp/changes/queries.py): the
snapshot of the sync before, and, while a round of pages is under way, the snapshot it runs
up to and the last change delivered. Tokens are signed cursors bound to their user
(taskapp.web.cursors), sealed so that the snapshot inside stays unread; the database decides
which lists' rows the caller sees.
"""

import time
import uuid

from flask import current_app, g
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
    "What changed in the tasks you can see since you last looked: sync a client, then keep it in sync.",
)

# Sealed: a snapshot's transaction ids are the whole server's, not the caller's business.
TOKENS = SignedCursors("taskapp.changes.position", sealed=True)
NO_ID = uuid.UUID(int=0)
ARGS = ChangesArgs()
BAD_TOKEN = "The sync token is not valid for you; start again without `since`."
TOO_OLD = (
    "The changes since this sync token are no longer remembered; sync again from the start (without `since`)."
)
SECONDS_PER_DAY = 86400


def make_token(**position) -> str:
    return TOKENS.make(scope_of(user=g.user_id), **position)


def read_token(token: str) -> dict:
    """The position of a token this service made for the caller; 400 otherwise."""
    try:
        position = TOKENS.read(token, scope_of(user=g.user_id))
        for name in ("prev", "target"):
            if position[name] is not None and not isinstance(position[name], str):
                raise ValueError
        for name in ("since_at", "target_at", "after_xid"):
            if not isinstance(position[name], int) or isinstance(position[name], bool) or position[name] < 0:
                raise ValueError
        position["after_id"] = uuid.UUID(position["after_id"])
        return position
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
            position = read_token(args["since"])
            retention = current_app.config["TASKAPP_CHANGES_RETENTION_DAYS"] * SECONDS_PER_DAY
            if position["prev"] is not None and position["since_at"] < time.time() - retention:
                abort(410, TOO_OLD)
        else:
            position = {"prev": None, "target": None, "since_at": 0, "target_at": 0, "after_xid": 0,
                        "after_id": NO_ID}
        found = rows(*queries.feed(position["prev"], position["target"], position["after_xid"],
                                   position["after_id"], limit + 1))
        here = found[0]
        target = position["target"] or here["snapshot"]
        target_at = position["target_at"] if position["target"] else here["at"]
        page = [row for row in found if row["op"] is not None]
        has_more = len(page) > limit
        page = page[:limit]
        if has_more:  # the round goes on, up to the same snapshot, after the last change given
            last = page[-1]
            token = make_token(prev=position["prev"], since_at=position["since_at"], target=target,
                               target_at=target_at, after_xid=int(last["position"]), after_id=str(last["id"]))
        else:  # the next round starts where this one ended
            token = make_token(prev=target, since_at=target_at, target=None, target_at=0, after_xid=0,
                               after_id=str(NO_ID))
        return {"changes": [change(row) for row in page], "next": token, "has_more": has_more}
