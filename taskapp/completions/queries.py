"""SQL for completions, as SQLAlchemy Core statements; row-level security decides the owner."""

from sqlalchemy import DateTime, Integer, Uuid, bindparam, delete, func, select, tuple_, update

from taskapp.database.tables import task_completions, tasks

COMPLETION = [task_completions.c.id, task_completions.c.task_id, task_completions.c.due_at,
              task_completions.c.completed_at, task_completions.c.completed_by]
NEWEST_FIRST = (task_completions.c.completed_at.desc(), task_completions.c.id.desc())
TASK_ID = bindparam("task_id", type_=Uuid)
LIMIT = bindparam("limit", type_=Integer)
AFTER = tuple_(task_completions.c.completed_at, task_completions.c.id) < tuple_(
    bindparam("after_at", type_=DateTime(timezone=True)), bindparam("after_id", type_=Uuid)
)
COMPLETED_AFTER = task_completions.c.completed_at > bindparam("completed_after", type_=DateTime(timezone=True))
COMPLETED_BEFORE = task_completions.c.completed_at < bindparam("completed_before", type_=DateTime(timezone=True))

LATEST = select(*COMPLETION).where(task_completions.c.task_id == TASK_ID).order_by(*NEWEST_FIRST).limit(1)
ONE = select(*COMPLETION).where(
    task_completions.c.task_id == TASK_ID, task_completions.c.id == bindparam("completion_id", type_=Uuid)
)


def _page(*conditions):
    return select(*COMPLETION).where(*conditions).order_by(*NEWEST_FIRST).limit(LIMIT)


# Every shape of page, built once: (of one task?, after a cursor?, after?, before?).
PAGES = {
    (of_task, after, lower, upper): _page(*[
        condition for wanted, condition in (
            (of_task, task_completions.c.task_id == TASK_ID), (after, AFTER),
            (lower, COMPLETED_AFTER), (upper, COMPLETED_BEFORE),
        ) if wanted
    ])
    for of_task in (False, True) for after in (False, True) for lower in (False, True) for upper in (False, True)
}

# Undoing a completion that moved a recurring task forward: the task goes back to the
# occurrence, and the record goes, in one statement.
forgotten = (
    delete(task_completions)
    .where(task_completions.c.task_id == TASK_ID, task_completions.c.id == bindparam("completion_id", type_=Uuid))
    .returning(task_completions.c.id)
    .cte("forgotten")
)
MOVE_BACK = (
    update(tasks)
    .where(tasks.c.id == TASK_ID, select(forgotten.c.id).exists())
    .values(
        due_at=func.coalesce(bindparam("occurrence", type_=tasks.c.due_at.type), tasks.c.due_at),
        series_completions=func.greatest(tasks.c.series_completions - 1, 0),
    )
    .returning(tasks.c.id)
    .add_cte(forgotten)
)


def page(args: dict, task_id=None, after=None):
    """(statement, parameters) of one page, newest first, plus one row to tell if more follow."""
    shape = (task_id is not None, after is not None, "completed_after" in args, "completed_before" in args)
    parameters = {"limit": args["limit"] + 1}
    if task_id is not None:
        parameters["task_id"] = task_id
    if after is not None:
        parameters["after_at"], parameters["after_id"] = after
    for name in ("completed_after", "completed_before"):
        if name in args:
            parameters[name] = args[name]
    return PAGES[shape], parameters


def latest(task_id):
    return LATEST, {"task_id": task_id}


def one(task_id, completion_id):
    return ONE, {"task_id": task_id, "completion_id": completion_id}


def move_back(task_id, completion):
    return MOVE_BACK, {"task_id": task_id, "completion_id": completion["id"], "occurrence": completion["due_at"]}
