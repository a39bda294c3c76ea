"""Running a batch's operations: each one through its single route, in the batch's transaction.

An operation becomes the request its single route would get (method, path, JSON body,
`If-Match`) and runs that route's view in a request context of its own, inside the batch's
request: the same validation, the same statements under the same identity, the same answers
and errors. A route that undoes its refused statement to explain the refusal
(taskapp.lists.access) must still see what the earlier operations wrote: such a batch runs
again with each operation in a savepoint (run_all). Nothing commits until every operation has
succeeded (the commit is held); the first that fails ends the batch, and the request's
transaction is rolled back.
"""

import json
from contextlib import nullcontext
from dataclasses import dataclass, field

from flask import current_app
from werkzeug.exceptions import HTTPException

from taskapp.batch.schemas import ANSWERS
from taskapp.database.transaction import in_savepoint, rolled_back
from taskapp.web.api import api
from taskapp.web.errors import error_body


class OperationFailed(Exception):
    """An operation's error answer: `index` says which, `body` is in the shared error shape."""

    def __init__(self, index: int, status: int, body: dict, headers: dict | None = None):
        super().__init__(body.get("message"))
        self.index, self.status, self.body, self.headers = index, status, body, headers or {}


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # the route's path under /api/{user_id}, its arguments as `{name}`
    args: dict = field(default_factory=dict)  # the path's arguments, as the view receives them
    body: dict | None = None
    if_match: str | None = None
    body_field: str | None = None  # where the body came from in the operation, for error pointers

    def routed_path(self) -> str:
        """A path that finds the route. Each argument is a placeholder there and reaches the view
        as given, since a value through a URL would be decoded and could change the route (a
        member id of `/x` in a path makes `//x`, which routing answers with a redirect)."""
        return "/api/_" + self.path.format(**{name: "_" for name in self.args})


class References:
    """The `ref`s of the batch's new tasks and lists, and what they name."""

    def __init__(self):
        self.ids: dict[tuple[str, str], str] = {}

    def add(self, kind: str, ref: str, new_id: str) -> None:
        self.ids[(kind, ref)] = new_id

    def defined(self, kind: str, ref: str) -> bool:
        return (kind, ref) in self.ids

    def target(self, operation: dict, kind: str, index: int, required: bool = True):
        """The id an operation gives (`<kind>_id`) or refers to (`<kind>_ref`); 422 for neither or both."""
        given_id, ref = operation.get(f"{kind}_id"), operation.get(f"{kind}_ref")
        if given_id is not None and ref is not None:
            invalid(index, f"{kind}_ref", f"Give {kind}_id or {kind}_ref, not both.")
        if ref is not None:
            if not self.defined(kind, ref):
                invalid(index, f"{kind}_ref", f"No earlier operation of this batch made a {kind} with this ref.")
            return self.ids[(kind, ref)]
        if given_id is None and required:
            invalid(index, f"{kind}_id", f"Give {kind}_id or {kind}_ref.")
        return given_id


def invalid(index: int, field: str, message: str):
    errors = {"json": {"operations": {str(index): {field: [message]}}}}
    raise OperationFailed(index, 422, error_body(422, "The batch is not valid.", errors))


def check_refs(operations: list[dict]) -> None:
    """Every `ref` is new: two operations naming their results alike would make later ones ambiguous."""
    seen = set()
    for index, operation in enumerate(operations):
        ref = operation.get("ref")
        if ref is None:
            continue
        kind = "list" if operation["op"] == "create_list" else "task"
        if (kind, ref) in seen:
            invalid(index, "ref", f"An earlier operation of this batch already made a {kind} with this ref.")
        seen.add((kind, ref))


def with_list(body: dict, operation: dict, refs: References, index: int) -> dict:
    """The body, its `list_id` taken from `list_ref` when the operation gives one."""
    if operation.get("list_ref") is None:
        return body
    if "list_id" in body:
        invalid(index, "list_ref", "Give list_ref or a list_id in the body, not both.")
    return {**body, "list_id": refs.target(operation, "list", index)}


def request_for(operation: dict, refs: References, index: int) -> Request:
    """The single route's request that does what the operation says."""
    op = operation["op"]
    if op == "create_task":
        return Request("POST", "/tasks", body=with_list(operation["task"], operation, refs, index), body_field="task")
    if op == "create_list":
        return Request("POST", "/lists", body=operation["list"], body_field="list")
    if op in ("replace_task", "update_task", "complete_task", "move_task", "delete_task"):
        task = {"task_id": str(refs.target(operation, "task", index))}
        if_match = operation.get("if_match")
        if op == "replace_task":
            body = with_list(operation["task"], operation, refs, index)
            return Request("PUT", "/tasks/{task_id}", task, body, if_match, "task")
        if op == "update_task":
            body = with_list(operation["changes"], operation, refs, index)
            return Request("PATCH", "/tasks/{task_id}", task, body, if_match, "changes")
        if op == "complete_task":
            if operation.get("completed") is None:
                return Request("PATCH", "/tasks/{task_id}/complete", task, None, if_match)
            return Request("PATCH", "/tasks/{task_id}", task, {"completed": operation["completed"]}, if_match)
        if op == "move_task":
            body = {"list_id": str(refs.target(operation, "list", index))}
            return Request("PATCH", "/tasks/{task_id}", task, body, if_match)
        return Request("DELETE", "/tasks/{task_id}", task, None, if_match)
    if op in ("accept_invitation", "decline_invitation"):
        invitation = {"invitation_id": str(operation["invitation_id"])}
        if op == "accept_invitation":
            return Request("POST", "/invitations/{invitation_id}/accept", invitation)
        return Request("DELETE", "/invitations/{invitation_id}", invitation)
    the_list = {"list_id": str(refs.target(operation, "list", index))}
    if op == "rename_list":
        return Request("PATCH", "/lists/{list_id}", the_list, operation["list"], body_field="list")
    if op == "delete_list":
        return Request("DELETE", "/lists/{list_id}", the_list)
    if op == "invite":
        return Request("POST", "/lists/{list_id}/invitations", the_list, operation["invitation"],
                       body_field="invitation")
    if op == "revoke_invitation":
        return Request("DELETE", "/lists/{list_id}/invitations/{invitation_id}",
                       {**the_list, "invitation_id": str(operation["invitation_id"])})
    member = {**the_list, "member_id": str(operation["user_id"])}
    if op == "change_member_role":
        return Request("PATCH", "/lists/{list_id}/members/{member_id}", member, {"role": operation["role"]})
    return Request("DELETE", "/lists/{list_id}/members/{member_id}", member)  # remove_member


def error_of(error: HTTPException, index: int, body_field: str | None) -> OperationFailed:
    """The route's error answer, its field errors placed under the operation (and its body)."""
    body, status, headers = api.handle_http_exception(error)
    errors = body.get("errors")
    if isinstance(errors, dict) and isinstance(errors.get("json"), dict):
        fields = errors["json"] if body_field is None else {body_field: errors["json"]}
        body["errors"] = {"json": {"operations": {str(index): fields}}}
    elif errors is not None:
        body["errors"] = {"json": {"operations": {str(index): errors}}}
    return OperationFailed(index, status, body, headers)


def run(operation: dict, refs: References, index: int, careful: bool) -> dict:
    """Do one operation through its single route (`careful`: in a savepoint of its own); its
    result, or OperationFailed."""
    sent = request_for(operation, refs, index)
    headers = {"If-Match": sent.if_match} if sent.if_match is not None else {}
    # The body as the route would receive it over HTTP. The standard library's encoder keeps what
    # the batch's JSON held (NaN, Infinity) for the route to refuse as it refuses them alone; the
    # app's (orjson) would have written null, a different request.
    kwargs = {"data": json.dumps(sent.body), "content_type": "application/json"} if sent.body is not None else {}
    with current_app.test_request_context(sent.routed_path(), method=sent.method, headers=headers,
                                          **kwargs) as context, in_savepoint() if careful else nullcontext():
        request = context.request
        try:
            if request.routing_exception is not None:
                raise request.routing_exception
            view_args = dict(request.view_args, **sent.args)
            view_args.pop("user_id", None)  # the views act as the caller (taskapp.web.user_scope)
            response = current_app.make_response(current_app.view_functions[request.endpoint](**view_args))
        except HTTPException as error:
            raise error_of(error, index, sent.body_field) from None
    op = operation["op"]
    result = {"op": op, "status": response.status_code}
    answer = ANSWERS[op]
    if answer is not None:
        result[answer] = response.get_json()
    if answer == "task":
        result["etag"] = response.headers["ETag"]
    if op in ("create_task", "create_list"):
        result["ref"] = operation.get("ref")
        if result["ref"] is not None:
            refs.add("list" if op == "create_list" else "task", result["ref"], result[answer]["id"])
    return result


def run_all(operations: list[dict]) -> list[dict]:
    """Every operation's result, in order; OperationFailed at the first that fails.

    A savepoint per operation costs two round trips, a third of a batch of creates; they matter
    only when an operation fails and its route undoes its statements to explain why (which then
    undoes the earlier operations too). So the operations run in one savepoint, whose undoing
    keeps what the request did before them (the Idempotency-Key's lock), and only a batch whose
    failure was explained that way runs again from the start, each operation in its savepoint:
    nothing of the first run stays, and the answer is the one the route gives after the others.
    """
    check_refs(operations)
    undone_before = rolled_back()
    try:
        with in_savepoint():
            return run_every(operations, careful=False)
    except OperationFailed:
        if rolled_back() == undone_before:
            raise
    return run_every(operations, careful=True)


def run_every(operations: list[dict], careful: bool) -> list[dict]:
    refs = References()
    return [run(operation, refs, index, careful) for index, operation in enumerate(operations)]
