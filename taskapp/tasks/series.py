"""Writes that touch a recurring task's schedule: anchoring a series, and completing an occurrence.

A task whose write cannot change its schedule goes straight to its one statement
(taskapp/tasks/resources.py). The rest come here: the task is read and locked first, the
write is checked against what it would become (a rule needs a due date that it reaches), and
completing an open recurring task records the occurrence and moves due_at to the next one in
the same statement, leaving the task open; when the rule has no next occurrence the task is
completed for good, as a plain one is.
"""

from flask import g

from taskapp.database.transaction import first
from taskapp.tasks import queries, recurrence, reminders
from taskapp.tasks.etags import check_if_match
from taskapp.web.errors import abort

SCHEDULE = ("due_at", "recurrence", "time_zone", "repeat_from")
# The bookkeeping of a task that does not recur.
PLAIN = {"recurrence_start": None, "recurrence_last": None, "series_completions": 0}
TOO_MUCH_AT_ONCE = ("Finding the next occurrences of the recurring tasks completed in this request takes more "
                    "computation than one request may spend; complete fewer of them at once.")


def touches_schedule(values: dict) -> bool:
    """Whether a PATCH needs the stored task to be written correctly."""
    return values.get("completed") is True or any(name in values for name in (*SCHEDULE, "reminders"))


def check_reminders(task: dict) -> None:
    """A relative reminder needs a due date to be relative to."""
    if task["due_at"] is None and reminders.relative(task["reminders"]):
        refuse("reminders", reminders.NEEDS_DUE_AT)


def apply(task_id, values: dict):
    """Apply a PUT's or PATCH's values to a task that is or becomes recurring (or is completed);
    None when the caller may not write it (or it does not exist)."""
    task = queries.locked(task_id, with_series=True)
    if task is None:
        return None
    check_if_match(task)
    after = {**task, **values}
    check_reminders(after)
    changes = dict(values)
    if after["recurrence"] is None:
        if task["recurrence"] is not None:  # a plain task from now on
            changes.update(PLAIN)
        return first(*queries.change(task_id, changes))
    if after["due_at"] is None:
        refuse("due_at" if "due_at" in values else "recurrence", "A task with a recurrence needs a due_at.")
    completions = task["series_completions"]
    last = task["recurrence_last"]
    start = task["recurrence_start"]
    if any(after[name] != task[name] for name in SCHEDULE):  # re-anchored from the new values
        try:
            last = recurrence.anchor(after["recurrence"], after["time_zone"], after["due_at"])
        except recurrence.RecurrenceError as exc:
            refuse("recurrence", str(exc))
        completions = 0
        start = after["due_at"]
        changes.update(recurrence_start=start, recurrence_last=last, series_completions=0)
    if not (changes.pop("completed", None) is True and not task["completed"]):
        if "completed" in values:
            changes["completed"] = values["completed"]
        return first(*queries.change(task_id, changes))
    current = recurrence.Series(
        after["recurrence"], after["time_zone"], after["repeat_from"], after["due_at"], last, completions, start
    )
    allowance = g.setdefault("recurrence_search_allowance", recurrence.SearchAllowance())
    try:
        following = recurrence.next_occurrence(current, task["now"], allowance)
    except recurrence.RequestOverBudget:
        refuse("completed", TOO_MUCH_AT_ONCE)
    if following is None:  # the series is over: completed for good
        changes["completed"] = True
        return first(*queries.change(task_id, changes))
    changes.update(due_at=following, series_completions=completions + 1)
    return queries.advance(task_id, changes, occurrence=after["due_at"])


def check_new(values: dict) -> None:
    """A new recurring task: its rule must reach an occurrence from its due_at on."""
    if values["due_at"] is None:
        refuse("recurrence", "A task with a recurrence needs a due_at.")
    try:
        values["recurrence_last"] = recurrence.anchor(values["recurrence"], values["time_zone"], values["due_at"])
        values["recurrence_start"] = values["due_at"]
    except recurrence.RecurrenceError as exc:
        refuse("recurrence", str(exc))


def refuse(field: str, message: str):
    abort(422, errors={"json": {field: [message]}})
