"""What the generated Python client's types say, checked by `mypy --strict` (never run).

Every property of an answer is always there (no `Unset`), a change is one of two shapes told
apart by `op`, a request field with a server-side default may be left out, sort orders and
errors have names. tests/system/test_generated_clients.py type-checks this file beside the
session of docs/generated-clients.md.
"""

import datetime
from typing import assert_type
from uuid import UUID

from taskapp_client.api.tasks import create_task, list_tasks
from taskapp_client.client import AuthenticatedClient
from taskapp_client.models import (
    Attempt,
    ChangePage,
    Completion,
    DeleteChange,
    DeleteChangeOp,
    Error,
    ListTasksSort,
    NewWebhook,
    Reminder,
    Status,
    Summary,
    Task,
    TaskWrite,
    UpsertChange,
    UpsertChangeOp,
    Webhook,
)


def answers(task: Task, reminder: Reminder, page: ChangePage, summary: Summary, completion: Completion,
            webhook: Webhook, created: NewWebhook, attempt: Attempt, error: Error, status: Status) -> None:
    assert_type(task.id, UUID)
    assert_type(task.title, str)
    assert_type(task.description, None | str)
    assert_type(task.completed_at, datetime.datetime | None)
    assert_type(task.tags, list[str])
    assert_type(task.reminders, list[Reminder])
    assert_type(reminder.fires_at, datetime.datetime | None)
    assert_type(reminder.fired, bool)
    assert_type(page.changes, list[DeleteChange | UpsertChange])
    assert_type(page.next_, str)
    assert_type(page.has_more, bool)
    assert_type(summary.tasks.overdue, int)
    assert_type(completion.due_at, datetime.datetime | None)
    assert_type(webhook.active, bool)
    assert_type(created.secret, str)
    assert_type(attempt.status, int | None)
    assert_type(error.code, int)
    assert_type(error.message, str)
    assert_type(status.status, str)


def changes(page: ChangePage) -> None:
    for change in page.changes:
        if isinstance(change, UpsertChange):
            assert_type(change.op, UpsertChangeOp)
            assert_type(change.task, Task)
        else:
            assert_type(change.op, DeleteChangeOp)
            assert_type(change.task_id, UUID)


def calls(client: AuthenticatedClient) -> None:
    # Only the title is required: the server fills in the rest.
    assert_type(create_task.sync("me", client=client, body=TaskWrite(title="Title only")), Error | Task | None)
    # Named sort orders; every error answer is an Error (no text/html string among them).
    assert_type(list_tasks.sync("me", client=client, sort=ListTasksSort.DUE_AT_DESC), Error | list[Task] | None)
