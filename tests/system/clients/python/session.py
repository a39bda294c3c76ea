"""A session with the Python client generated from taskapp's OpenAPI document.

    python session.py http://127.0.0.1:8000 "$(taskapp token alice)"

docs/generated-clients.md shows this file; tests/system/test_generated_clients.py type-checks
it with `mypy --strict` and runs it against `taskapp serve`.
"""

import sys
from typing import TypeVar

from taskapp_client import AuthenticatedClient
from taskapp_client.api.changes import list_changes
from taskapp_client.api.tasks import create_task, delete_task, list_tasks, toggle_task_completed
from taskapp_client.models import ChangePage, Error, ListTasksSort, TaskWrite, UpsertChange

T = TypeVar("T")


def ok(answer: T | Error | None) -> T:
    """The answer the call is for; the API's error (or an undocumented answer) raised."""
    if isinstance(answer, Error):
        raise RuntimeError(f"{answer.code} {answer.status}: {answer.message}")
    if answer is None:
        raise RuntimeError("an answer the OpenAPI document does not describe")
    return answer


def show(feed: ChangePage) -> None:
    """Apply a page of the change feed: each change is a task as it is now, or a task that is gone."""
    for change in feed.changes:
        if isinstance(change, UpsertChange):
            print(f"feed: {change.task.title!r} is now completed={change.task.completed}")
        else:
            print(f"feed: task {change.task_id} is gone")


def session(base_url: str, token: str) -> None:
    with AuthenticatedClient(base_url=base_url, token=token) as client:
        task = ok(create_task.sync("me", client=client, body=TaskWrite(title="Write the report", tags=["work"])))
        print(f"created {task.title!r} ({task.priority}, due {task.due_at})")

        for listed in ok(list_tasks.sync("me", client=client, tag=["work"], sort=ListTasksSort.CREATED_AT_DESC)):
            print(f"listed {listed.title!r}, completed={listed.completed}")

        done = ok(toggle_task_completed.sync("me", str(task.id), client=client))
        print(f"completed at {done.completed_at}")

        feed = ok(list_changes.sync("me", client=client))  # everything, as it is now
        show(feed)

        deleted = delete_task.sync_detailed("me", str(task.id), client=client)
        print(f"deleted: {deleted.status_code}")

        show(ok(list_changes.sync("me", client=client, since=feed.next_)))  # what changed since


if __name__ == "__main__":
    session(sys.argv[1], sys.argv[2])
