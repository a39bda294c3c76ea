"""SQL for tasks, as SQLAlchemy Core statements.

None of these statements names an owner: row-level security decides which rows exist
for the transaction, from the identity every transaction begins with (taskapp.database.engine).
"""

from functools import cache

from sqlalchemy import (
    Text,
    Uuid,
    bindparam,
    cast,
    delete,
    func,
    insert,
    not_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB

from taskapp.database.tables import TASK, task_completions, tasks
from taskapp.database.transaction import distributed, execute, first
from taskapp.tasks import reminders

# The task with its series' bookkeeping and the transaction's clock, to move it forward.
SERIES = [*TASK, tasks.c.recurrence_start, tasks.c.recurrence_last, tasks.c.series_completions,
          func.now().label("now")]

# Statements are built once, with bound parameters, and run as (statement, parameters):
# SQLAlchemy then finds each one's compiled form by a cache key it computed once, instead of
# building and keying a new statement per request.
TASK_ID = bindparam("task_id", type_=Uuid)

LIST_ID = bindparam("list_id", type_=Uuid)

GET = select(*TASK).where(tasks.c.id == TASK_ID)
GET_FOR_UPDATE = GET.with_for_update()
GET_SERIES = select(*SERIES).where(tasks.c.id == TASK_ID).with_for_update()
# On Citus a row is locked only by a statement that names its list (the one shard it is on):
# the task's list is read first.
LIST_OF = select(tasks.c.list_id).where(tasks.c.id == TASK_ID)
GET_FOR_UPDATE_IN_LIST = GET_FOR_UPDATE.where(tasks.c.list_id == LIST_ID)
GET_SERIES_IN_LIST = GET_SERIES.where(tasks.c.list_id == LIST_ID)
# A plain task, or a recurring one being reopened: one statement. Completing an open recurring
# task moves it forward instead (taskapp/tasks/series.py), so this one leaves it alone.
TOGGLE = (
    update(tasks)
    .where(tasks.c.id == TASK_ID, or_(tasks.c.recurrence.is_(None), tasks.c.completed))
    .values(completed=not_(tasks.c.completed))
    .returning(*TASK)
)
# An empty PATCH is still a write: the stamp trigger moves updated_at whatever is set.
TOUCH = update(tasks).where(tasks.c.id == TASK_ID).values(updated_at=tasks.c.updated_at).returning(*TASK)
REMOVE = delete(tasks).where(tasks.c.id == TASK_ID).returning(*TASK)


def _bound(columns: tuple[str, ...]) -> dict:
    return {
        name: cast(bindparam(f"new_{name}", type_=Text), JSONB) if name == "reminders"
        else bindparam(f"new_{name}", type_=tasks.c[name].type)
        for name in columns
    }


@cache
def _insert(columns: tuple[str, ...]):
    return insert(tasks).values(_bound(columns)).returning(*TASK)


@cache
def _update(columns: tuple[str, ...]):
    return update(tasks).where(tasks.c.id == TASK_ID).values(_bound(columns)).returning(*TASK)


@cache
def _advance(columns: tuple[str, ...]):
    """Write the task's new values and record the occurrence it completed, in one statement."""
    moved = (
        update(tasks).where(tasks.c.id == TASK_ID).values(_bound(columns)).returning(*TASK).cte("moved")
    )
    recorded = insert(task_completions).from_select(
        ["list_id", "task_id", "due_at", "completed_at"],
        select(moved.c.list_id, moved.c.id, bindparam("occurrence", type_=tasks.c.due_at.type), moved.c.updated_at),
    ).cte("recorded")
    return select(*moved.c).add_cte(recorded)


def _values(values: dict) -> dict:
    return {f"new_{name}": reminders.as_json(value) if name == "reminders" else value for name, value in values.items()}


def get(task_id, *, for_update: bool = False):
    return (GET_FOR_UPDATE if for_update else GET), {"task_id": task_id}


def create(values: dict):
    return _insert(tuple(sorted(values))), _values(values)


def in_its_list(statement, parameters: dict, placed=False):
    """A write by task id, naming the task's list too on Citus (read first, unless `placed`
    gives it), so that it touches one shard: a write to every shard waits on Citus's locks for
    every other such write. An invisible task has no list: the write then finds nothing."""
    if not distributed():
        return statement, parameters
    if placed is False:
        placed = first(LIST_OF, {"task_id": parameters["task_id"]})
    return (statement.where(tasks.c.list_id == LIST_ID),
            {**parameters, "list_id": placed["list_id"] if placed else None})


def change(task_id, values: dict):
    placed = False
    if distributed() and "list_id" in values:
        # Citus refuses any SET of the distribution column, even to the value it has: a task
        # "moved" to the list it is in is not moved (a real move was refused before: lists.access).
        placed = first(LIST_OF, {"task_id": task_id})
        if placed is not None and str(placed["list_id"]) == str(values["list_id"]):
            values = {name: value for name, value in values.items() if name != "list_id"}
    if not values:
        return in_its_list(TOUCH, {"task_id": task_id}, placed)
    return in_its_list(_update(tuple(sorted(values))), {"task_id": task_id, **_values(values)}, placed)


RECORD_OCCURRENCE = insert(task_completions).values(
    list_id=LIST_ID, task_id=TASK_ID, due_at=bindparam("occurrence", type_=tasks.c.due_at.type),
    completed_at=bindparam("completed_at", type_=tasks.c.updated_at.type),
)


def advance(task_id, values: dict, occurrence) -> dict | None:
    """Change the task (its due_at moved on) and record `occurrence` as completed; the task as
    it now is (None: not writable).

    One statement on a single server. On Citus two: it refuses the INSERT … SELECT from the
    UPDATE (into a table under row-level security it copies rows, which it refuses).
    """
    if not distributed():
        return first(_advance(tuple(sorted(values))), {"task_id": task_id, "occurrence": occurrence,
                                                        **_values(values)})
    task = first(*change(task_id, values))
    if task is not None:
        execute(RECORD_OCCURRENCE, {"list_id": task["list_id"], "task_id": task["id"], "occurrence": occurrence,
                                    "completed_at": task["updated_at"]})
    return task


def series(task_id):
    return GET_SERIES, {"task_id": task_id}


def locked(task_id, *, with_series: bool = False) -> dict | None:
    """The task, locked until the transaction ends (None: not visible), with its series'
    bookkeeping if asked."""
    if not distributed():
        return first(*(series(task_id) if with_series else get(task_id, for_update=True)))
    placed = first(LIST_OF, {"task_id": task_id})
    if placed is None:
        return None
    return first(GET_SERIES_IN_LIST if with_series else GET_FOR_UPDATE_IN_LIST,
                 {"task_id": task_id, "list_id": placed["list_id"]})


def toggle_completed(task_id):
    return in_its_list(TOGGLE, {"task_id": task_id})


def remove(task_id):
    return in_its_list(REMOVE, {"task_id": task_id})


# Total, open, completed and overdue, in one scan of the caller's rows.
# (Two aggregates side by side rather than one inside the other's select list, which a Citus
# coordinator cannot push down to the shards.)
_TASK_COUNTS = select(
    func.count().label("total"),
    func.count().filter(not_(tasks.c.completed)).label("open"),
    func.count().filter(tasks.c.completed).label("completed"),
    func.count().filter(not_(tasks.c.completed) & (tasks.c.due_at < func.now())).label("overdue"),
).select_from(tasks).subquery("task_counts")
_DONE_TODAY = select(func.count().label("completed_today")).where(
    task_completions.c.completed_at >= func.date_trunc("day", func.now(), "UTC")
).subquery("done_today")
COUNTS = select(*_TASK_COUNTS.c, _DONE_TODAY.c.completed_today).select_from(_TASK_COUNTS.join(_DONE_TODAY, true()))


def counts():
    return COUNTS, {}
