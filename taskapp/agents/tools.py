"""The MCP server's tools: what an agent may do with a user's tasks and lists, as that user.

No tool takes a user id. Who acts is the bearer token's subject, verified as the API verifies
it; each tool is then a call to the API with that token (taskapp.agents.calls), so the policies
decide what exists for the agent exactly as for any client: another user's task id finds
nothing. Writes go through `POST /batch` (one transaction for several, one optional
idempotency key, so an agent's retry never applies twice).
"""

from collections.abc import Callable
from typing import Annotated, Literal
from uuid import UUID

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field

from taskapp.agents.calls import Answer, APIUnreachable, CallerAPI

INSTRUCTIONS = (
    "taskapp: the user's tasks, in lists they may share with others. You act as the user whose token "
    "you hold, and see and change only what they may. Find tasks with find_tasks (filters, search, a "
    "cursor for the next page); write with add_tasks, update_tasks, complete_tasks and delete_tasks, "
    "which take several at once and are all-or-nothing. Pass idempotency_key (any unique string) to "
    "make a retried write safe: the same key returns the first answer and writes nothing again."
)

IdempotencyKey = Annotated[str | None, Field(
    description="Optional: a unique string for this write (1-255 printable ASCII characters). Retrying "
    "with the same key and the same arguments returns the first answer and writes nothing again.",
    min_length=1, max_length=255, pattern=r"^[!-~]([ -~]{0,253}[!-~])?$")]  # the header's printable ASCII
# Ids are UUIDs in the schema, so a malformed one is refused with its field named before anything
# is called, and none can change the path of the request it goes into.
TaskId = Annotated[UUID, Field(description="A task's id (UUID).")]
ListId = Annotated[UUID, Field(description="A list's id (UUID).")]
InvitationId = Annotated[UUID, Field(description="An invitation's id (UUID).")]
Priority = Literal["low", "medium", "high"]
Sort = Literal["created_at", "-created_at", "updated_at", "-updated_at", "due_at", "-due_at",
               "priority", "-priority", "title", "-title"]
Role = Literal["viewer", "editor", "admin", "owner"]

READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
ADD = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)
# Completing a recurring task moves it to its next occurrence: the same call again completes that one.
COMPLETE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)
CHANGE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
REMOVE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)


# What every tool answers: a few lines for the model to read, and the data for the application
# (structured content, described by the tool's output schema: the models below, which name what
# a client may rely on and let the API's answers carry more).
class Shape(BaseModel):
    model_config = ConfigDict(extra="allow")


class Task(Shape):
    id: str
    title: str
    description: str | None = None
    completed: bool
    priority: Priority
    due_at: str | None = None
    tags: list[str]
    list_id: str = Field(description="The list it is in.")
    user_id: str = Field(description="Who created it.")
    assignee_id: str | None = None


class TaskPage(Shape):
    tasks: list[Task]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null on the last.")


class Tasks(Shape):
    tasks: list[Task]


class Completion(Shape):
    id: str
    task_id: str
    completed_at: str
    completed_by: str


class CompletionPage(Shape):
    completions: list[Completion]
    next_cursor: str | None


class Counts(Shape):
    total: int
    open: int
    completed: int
    overdue: int
    completed_today: int


class Summary(Shape):
    user_id: str
    tasks: Counts


class TaskList(Shape):
    id: str
    name: str
    role: Role = Field(description="The user's role in it.")
    owner_id: str
    personal: bool = Field(description="The user's Inbox.")


class Lists(Shape):
    lists: list[TaskList]


class Member(Shape):
    user_id: str
    role: Role


class Members(Shape):
    members: list[Member]


class Invitation(Shape):
    id: str
    list_id: str
    list_name: str
    invitee_id: str
    role: Role
    invited_by: str
    expires_at: str


class Invitations(Shape):
    invitations: list[Invitation]


class Deleted(Shape):
    deleted: list[str] | str = Field(description="The ids deleted.")


class Revoked(Shape):
    revoked: str


class Removed(Shape):
    removed: str


class InvitationAnswered(Shape):
    joined: TaskList | None = Field(None, description="The list joined, when accepted.")
    declined: str | None = Field(None, description="The invitation declined, when declined.")


def answers(shape: type[BaseModel]):
    """A tool's return annotation: a CallToolResult whose structured content has `shape`."""
    return Annotated[CallToolResult, shape]


def answered(summary: str, data: dict) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=summary)], structured_content=data)


def task_line(task: dict) -> str:
    state = "done" if task["completed"] else "open"
    due = f", due {task['due_at']}" if task.get("due_at") else ""
    return f"- {task['title']} [{task['id']}] ({state}{due}, {task['priority']})"


def tasks_text(verb: str, tasks: list[dict]) -> str:
    lines = [f"{verb} {len(tasks)} task{'s' if len(tasks) != 1 else ''}" + (":" if tasks else ".")]
    return "\n".join(lines + [task_line(task) for task in tasks])


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewTask(Strict):
    title: str = Field(description="What to do (1-255 characters).")
    description: str | None = Field(None, description="Details (up to 1000 characters).")
    list_id: UUID | None = Field(None, description="The list to put it in; your Inbox when left out.")
    priority: Priority | None = Field(None, description="low, medium (the default) or high.")
    due_at: str | None = Field(None, description="When it is due: RFC 3339 with an offset, e.g. 2030-01-15T09:00:00Z.")
    tags: list[str] | None = Field(None, description="Labels, lowercased (up to 20).")
    assignee_id: str | None = Field(None, description="A member of the task's list it is for.")
    recurrence: str | None = Field(None, description="An RFC 5545 RRULE such as FREQ=WEEKLY;BYDAY=MO (needs due_at).")
    time_zone: str | None = Field(None, description="The IANA zone the recurrence follows (UTC by default).")


class TaskChange(Strict):
    task_id: TaskId
    title: str | None = None
    description: str | None = Field(None, description="New details; give clear_description to remove them.")
    priority: Priority | None = None
    due_at: str | None = Field(None, description="RFC 3339 with an offset; give clear_due_at to remove it.")
    tags: list[str] | None = Field(None, description="The whole new set of tags.")
    list_id: UUID | None = Field(None, description="Move it to this list (one you may edit).")
    assignee_id: str | None = Field(None, description="Assign it to this member of its list.")
    clear_description: bool = False
    clear_due_at: bool = False
    clear_assignee: bool = False


def task_changes(change: TaskChange) -> dict:
    """The PATCH body of a change: what was given, and null for what is to be cleared."""
    body = change.model_dump(mode="json", exclude_none=True, exclude={"task_id", "clear_description", "clear_due_at",
                                                          "clear_assignee"})
    for cleared, name in ((change.clear_description, "description"), (change.clear_due_at, "due_at"),
                          (change.clear_assignee, "assignee_id")):
        if cleared:
            body[name] = None
    return body


def failure(answer: Answer) -> ToolError:
    """The API's error as an agent can act on it: the message, and each refused field with why."""
    body = answer.body if isinstance(answer.body, dict) else {}
    message = body.get("message") or f"The request failed ({answer.status})."
    details = []

    def walk(prefix: str, errors) -> None:
        if isinstance(errors, dict):
            for key, value in errors.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        elif isinstance(errors, list) and all(isinstance(item, str) for item in errors):
            details.append(f"{prefix}: {' '.join(errors)}")
        elif isinstance(errors, list):
            for index, item in enumerate(errors):
                walk(f"{prefix}[{index}]", item)

    walk("", (body.get("errors") or {}).get("json", body.get("errors")))
    where = f" (at {body['operation']})" if body.get("operation") else ""
    text = f"{answer.status} {message}{where}"
    return ToolError(text + ("\n" + "\n".join(details) if details else ""))


def build(server: MCPServer, api: CallerAPI, token: Callable[[], str]) -> MCPServer:
    """Register every tool on `server`; `token()` is the caller's bearer token."""

    def call(method: str, path: str, **kwargs) -> Answer:
        try:
            answer = api.call(token(), method, path, **kwargs)
        except APIUnreachable as error:
            raise ToolError(f"{error} Try again shortly.") from None
        if not answer.ok:
            raise failure(answer)
        return answer

    def batch(operations: list[dict], idempotency_key: str | None) -> list[dict]:
        return call("POST", "/batch", json={"operations": operations}, idempotency_key=idempotency_key).body["results"]

    @server.tool(annotations=READ)
    def find_tasks(
        q: Annotated[str | None, Field(description="Words that must all appear in the title or description.",
                                       max_length=500)] = None,
        list_id: Annotated[UUID | None, Field(description="Only this list's tasks.")] = None,
        completed: Annotated[bool | None, Field(description="true: done; false: open; left out: both.")] = None,
        priority: Priority | None = None,
        tags: Annotated[list[Annotated[str, Field(max_length=40)]] | None,
                        Field(description="Tasks having all of these tags.", max_length=20)] = None,
        due_before: Annotated[str | None, Field(description="Due before this RFC 3339 time.", max_length=64)] = None,
        due_after: Annotated[str | None, Field(description="Due after this RFC 3339 time.", max_length=64)] = None,
        assignee_id: Annotated[str | None, Field(description="Tasks assigned to this user.", max_length=255)] = None,
        sort: Annotated[Sort, Field(description="Sort order; `-` for descending.")] = "-created_at",
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous answer.", max_length=4096)] = None,
    ) -> answers(TaskPage):
        """Find the user's tasks across every list they can see: filter, search, sort, page."""
        query = {"q": q, "list_id": None if list_id is None else str(list_id), "priority": priority,
                 "due_before": due_before, "due_after": due_after, "assignee_id": assignee_id, "sort": sort,
                 "limit": limit, "cursor": cursor}
        if completed is not None:
            query["completed"] = "true" if completed else "false"
        if tags:
            query["tag"] = tags
        answer = call("GET", "/tasks", query=query)
        data = {"tasks": answer.body, "next_cursor": answer.next_cursor()}
        more = "\nMore follow: call again with this next_cursor." if data["next_cursor"] else ""
        return answered(tasks_text("Found", answer.body) + more, data)

    @server.tool(annotations=READ)
    def get_task(task_id: TaskId) -> answers(Task):
        """One task by its id."""
        task = call("GET", f"/tasks/{task_id}").body
        return answered(task_line(task).removeprefix("- ") + f" in list {task['list_id']}", task)

    @server.tool(annotations=ADD)
    def add_tasks(tasks: Annotated[list[NewTask], Field(min_length=1, max_length=100)],
                  idempotency_key: IdempotencyKey = None) -> answers(Tasks):
        """Add one or more tasks (all or none)."""
        operations = [{"op": "create_task", "task": task.model_dump(mode="json", exclude_none=True)} for task in tasks]
        made = [result["task"] for result in batch(operations, idempotency_key)]
        return answered(tasks_text("Added", made), {"tasks": made})

    @server.tool(annotations=CHANGE)
    def update_tasks(changes: Annotated[list[TaskChange], Field(min_length=1, max_length=100)],
                     idempotency_key: IdempotencyKey = None) -> answers(Tasks):
        """Change fields of one or more tasks (all or none); fields left out stay as they are."""
        operations = [{"op": "update_task", "task_id": str(change.task_id), "changes": task_changes(change)}
                      for change in changes]
        changed = [result["task"] for result in batch(operations, idempotency_key)]
        return answered(tasks_text("Updated", changed), {"tasks": changed})

    @server.tool(annotations=COMPLETE)
    def complete_tasks(task_ids: Annotated[list[TaskId], Field(min_length=1, max_length=100)],
                       completed: Annotated[bool, Field(description="false reopens them.")] = True,
                       idempotency_key: IdempotencyKey = None) -> answers(Tasks):
        """Complete (or reopen) tasks; a recurring task completed moves to its next occurrence."""
        operations = [{"op": "complete_task", "task_id": str(task_id), "completed": completed} for task_id in task_ids]
        done = [result["task"] for result in batch(operations, idempotency_key)]
        return answered(tasks_text("Completed" if completed else "Reopened", done), {"tasks": done})

    @server.tool(annotations=REMOVE)
    def delete_tasks(task_ids: Annotated[list[TaskId], Field(min_length=1, max_length=100)],
                     idempotency_key: IdempotencyKey = None) -> answers(Deleted):
        """Delete tasks for good (all or none)."""
        deleted = [str(task_id) for task_id in task_ids]
        batch([{"op": "delete_task", "task_id": task_id} for task_id in deleted], idempotency_key)
        return answered(f"Deleted {len(deleted)} task{'s' if len(deleted) != 1 else ''}.", {"deleted": deleted})

    @server.tool(annotations=READ)
    def get_summary() -> answers(Summary):
        """Counts of the user's tasks: total, open, completed, overdue, completed today (UTC)."""
        summary = call("GET", "/summary").body
        counts = summary["tasks"]
        return answered(f"{counts['total']} tasks: {counts['open']} open ({counts['overdue']} overdue), "
                        f"{counts['completed']} completed, {counts['completed_today']} completions today (UTC).",
                        summary)

    @server.tool(annotations=READ)
    def completion_history(
        task_id: Annotated[UUID | None, Field(description="One task's completions; left out: all.")] = None,
        completed_after: Annotated[str | None, Field(description="RFC 3339; all completions only.",
                                                     max_length=64)] = None,
        completed_before: Annotated[str | None, Field(description="RFC 3339; all completions only.",
                                                      max_length=64)] = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous answer.", max_length=4096)] = None,
    ) -> answers(CompletionPage):
        """When tasks were completed, and by whom, newest first."""
        if task_id is not None:
            answer = call("GET", f"/tasks/{task_id}/completions", query={"limit": limit, "cursor": cursor})
        else:
            answer = call("GET", "/completions", query={"limit": limit, "cursor": cursor,
                                                        "completed_after": completed_after,
                                                        "completed_before": completed_before})
        data = {"completions": answer.body, "next_cursor": answer.next_cursor()}
        lines = [f"- {c['completed_at']} by {c['completed_by']} (task {c['task_id']})" for c in answer.body]
        more = ["More follow: call again with this next_cursor."] if data["next_cursor"] else []
        return answered("\n".join([f"{len(answer.body)} completions:", *lines, *more]), data)

    @server.tool(annotations=READ)
    def list_lists() -> answers(Lists):
        """The lists the user belongs to, with their role in each (the Inbox first)."""
        lists = call("GET", "/lists").body
        lines = [f"- {item['name']} [{item['id']}] (you: {item['role']})" for item in lists]
        return answered("\n".join([f"{len(lists)} lists:", *lines]), {"lists": lists})

    @server.tool(annotations=READ)
    def list_members(list_id: ListId) -> answers(Members):
        """A list's members and their roles."""
        members = call("GET", f"/lists/{list_id}/members").body
        lines = [f"- {member['user_id']} ({member['role']})" for member in members]
        return answered("\n".join([f"{len(members)} members:", *lines]), {"members": members})

    @server.tool(annotations=READ)
    def list_invitations(
        list_id: Annotated[UUID | None, Field(description="A list's pending invitations (admins and the owner); "
                                             "left out: the invitations addressed to the user.")] = None,
    ) -> answers(Invitations):
        """Pending invitations: to the user, or of one list."""
        path = f"/lists/{list_id}/invitations" if list_id is not None else "/invitations"
        invitations = call("GET", path).body
        lines = [f"- {i['invitee_id']} to {i['list_name']} as {i['role']} [{i['id']}], expires {i['expires_at']}"
                 for i in invitations]
        return answered("\n".join([f"{len(invitations)} pending invitations:", *lines]),
                        {"invitations": invitations})

    @server.tool(annotations=ADD)
    def create_list(name: Annotated[str, Field(description="The new list's name.")],
                    idempotency_key: IdempotencyKey = None) -> answers(TaskList):
        """Make a list to share; the user owns it."""
        made = batch([{"op": "create_list", "list": {"name": name}}], idempotency_key)[0]["list"]
        return answered(f"Made the list {made['name']} [{made['id']}]; you own it.", made)

    @server.tool(annotations=CHANGE)
    def rename_list(list_id: ListId, name: str, idempotency_key: IdempotencyKey = None) -> answers(TaskList):
        """Rename a list (admins and the owner)."""
        renamed = batch([{"op": "rename_list", "list_id": str(list_id), "list": {"name": name}}], idempotency_key)[0]
        return answered(f"Renamed the list to {renamed['list']['name']}.", renamed["list"])

    @server.tool(annotations=REMOVE)
    def delete_list(list_id: ListId, idempotency_key: IdempotencyKey = None) -> answers(Deleted):
        """Delete a list and all its tasks, for every member (the owner only)."""
        batch([{"op": "delete_list", "list_id": str(list_id)}], idempotency_key)
        return answered("Deleted the list and its tasks.", {"deleted": str(list_id)})

    @server.tool(annotations=ADD)
    def invite_to_list(list_id: ListId, invitee_id: Annotated[str, Field(description="Whom to invite (their id).")],
                       role: Literal["viewer", "editor", "admin"],
                       idempotency_key: IdempotencyKey = None) -> answers(Invitation):
        """Invite someone to a list; they join when they accept (within 7 days)."""
        operation = {"op": "invite", "list_id": str(list_id), "invitation": {"user_id": invitee_id, "role": role}}
        sent = batch([operation], idempotency_key)[0]["invitation"]
        return answered(f"Invited {sent['invitee_id']} as {sent['role']} [{sent['id']}]; "
                        f"it expires {sent['expires_at']}.", sent)

    @server.tool(annotations=REMOVE)
    def revoke_invitation(list_id: ListId, invitation_id: InvitationId,
                          idempotency_key: IdempotencyKey = None) -> answers(Revoked):
        """Take back a pending invitation to a list (admins and the owner)."""
        batch([{"op": "revoke_invitation", "list_id": str(list_id), "invitation_id": str(invitation_id)}],
              idempotency_key)
        return answered("Revoked the invitation.", {"revoked": str(invitation_id)})

    @server.tool(annotations=CHANGE)
    def answer_invitation(invitation_id: InvitationId, accept: Annotated[bool, Field(description="false declines it.")],
                          idempotency_key: IdempotencyKey = None) -> answers(InvitationAnswered):
        """Accept (join the list) or decline an invitation addressed to the user."""
        op = "accept_invitation" if accept else "decline_invitation"
        result = batch([{"op": op, "invitation_id": str(invitation_id)}], idempotency_key)[0]
        if accept:
            joined = result["list"]
            return answered(f"Joined {joined['name']} [{joined['id']}] as {joined['role']}.", {"joined": joined})
        return answered("Declined the invitation.", {"declined": str(invitation_id)})

    @server.tool(annotations=CHANGE)
    def change_member_role(list_id: ListId, member_id: Annotated[str, Field(description="The member's id.")],
                           role: Role, idempotency_key: IdempotencyKey = None) -> answers(Member):
        """Change a member's role; `owner` hands ownership over (the user becomes an admin)."""
        operation = {"op": "change_member_role", "list_id": str(list_id), "user_id": member_id, "role": role}
        member = batch([operation], idempotency_key)[0]["member"]
        return answered(f"{member['user_id']} is now {member['role']}.", member)

    @server.tool(annotations=REMOVE)
    def remove_member(list_id: ListId,
                      member_id: Annotated[str, Field(description="The member's id, or `me` to leave.")],
                      idempotency_key: IdempotencyKey = None) -> answers(Removed):
        """Remove a member from a list, or leave it (`me`)."""
        batch([{"op": "remove_member", "list_id": str(list_id), "user_id": member_id}], idempotency_key)
        return answered(f"{member_id} is no longer a member.", {"removed": member_id})

    return server
