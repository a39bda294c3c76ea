"""Atomic batches: `POST /api/{user_id}/batch`, many writes in one transaction.

Up to 100 operations on tasks, lists, invitations and members, done in order as the single
routes do them (taskapp.batch.operations), under the caller's verified identity: the policies
judge each one exactly as they would alone. All of them are written, in one commit, or none:
the first operation that fails ends the batch with its own error, saying which operation it
was (`operation`, a JSON pointer such as `/operations/3`). One Idempotency-Key covers the batch.
"""

from flask import g, jsonify
from flask.views import MethodView
from werkzeug.exceptions import UnprocessableEntity

from taskapp.batch.operations import OperationFailed, run_all
from taskapp.batch.schemas import MAX_OPERATIONS, BatchResultSchema, BatchSchema
from taskapp.database.transaction import commit, hold_commit, release_commit, roll_back
from taskapp.web.api import KEY_IN_USE, api
from taskapp.web.errors import abort
from taskapp.web.idempotency import KEY_PARAMETER as IDEMPOTENCY_KEY
from taskapp.web.idempotency import REPLAYED_HEADER
from taskapp.web.rate_limits import charge
from taskapp.web.user_scope import user_blueprint

blp = user_blueprint(
    "batch",
    __name__,
    f"Many writes at once: up to {MAX_OPERATIONS} operations on your tasks and lists, all or nothing.",
    idempotent=frozenset({("batch.Batch", "POST")}),
)

BATCH, RESULTS = BatchSchema(), BatchResultSchema()


@blp.errorhandler(422)
def invalid_batch(error: UnprocessableEntity):
    """A batch the schema refused (an unknown `op`, a malformed id, a field too many) says, as a
    failed operation does, which operation it was: the first one named in its field errors."""
    body, status, headers = api.handle_http_exception(error)
    named = ((body.get("errors") or {}).get("json") or {}).get("operations") if isinstance(
        body.get("errors"), dict) else None
    indexes = [int(key) for key in named if str(key).isdigit()] if isinstance(named, dict) else []
    if indexes and "operation" not in body:
        body["operation"] = f"/operations/{min(indexes)}"
    return jsonify(body), status, headers


@blp.route("/batch")
class Batch(MethodView):
    @blp.doc(operationId="runBatch", parameters=[IDEMPOTENCY_KEY])
    @blp.arguments(BATCH)
    @blp.response(200, RESULTS, headers=REPLAYED_HEADER)
    @blp.documents_errors(400, 401, 403, 404, 409, KEY_IN_USE, 410, 412, 413, 415, 422)
    def post(self, batch):
        """Run up to 100 operations in order, in one transaction: all are written, or none

        An operation may refer to a task or list made by an earlier one through its `ref`
        (`task_ref`, `list_ref`). Each is checked and answered as its single route would
        answer it. When one fails, nothing is written, and the answer is that operation's
        error, with `operation` pointing at it (`/operations/3`)."""
        charge(len(batch["operations"]) - 1)  # one request per operation, as if sent alone
        hold_commit()  # the routes' own commits wait for the batch's
        try:
            results = run_all(batch["operations"])
        except OperationFailed as failed:
            roll_back()  # nothing of the batch is written (and no answer stored: it is an error)
            abort(failed.status, failed.body["message"], errors=failed.body.get("errors"),
                  headers=failed.headers, operation=f"/operations/{failed.index}")
        if g.get("idempotency") is None:  # else it commits with the stored answer
            release_commit()
            commit()
        return {"results": results}
