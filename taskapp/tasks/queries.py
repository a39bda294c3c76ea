"""SQL for tasks, as SQLAlchemy Core statements.

None of these statements names an owner: row-level security decides which rows exist
for the transaction, from the identity `taskapp.db` set at its start.
"""

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Enum,
    FetchedValue,
    MetaData,
    Table,
    Text,
    Uuid,
    delete,
    func,
    insert,
    not_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR

PRIORITIES = ("low", "medium", "high")  # in rank order, as the task_priority enum

metadata = MetaData()

# Mirrors the migrated table for building statements; the schema itself lives in the
# migrations (and sql/). Defaults, stamps and the owner come from the database.

tasks = Table(
    "tasks",
    metadata,
    Column("id", Uuid, primary_key=True, server_default=FetchedValue()),
    Column("user_id", Text),
    Column("title", Text),
    Column("description", Text),
    Column("completed", Boolean),
    Column("completed_at", DateTime(timezone=True)),
    Column("priority", Enum(*PRIORITIES, name="task_priority", create_type=False)),
    Column("due_at", DateTime(timezone=True)),
    Column("tags", ARRAY(Text)),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
    Column("search", TSVECTOR),  # generated from title and description; only searched
)

# What a statement returns: every column but the search vector.
TASK = [column for column in tasks.c if column.name != "search"]

def get(task_id, *, for_update: bool = False):
    statement = select(*TASK).where(tasks.c.id == task_id)
    return statement.with_for_update() if for_update else statement


def create(values: dict):
    return insert(tasks).values(**values).returning(*TASK)


def change(task_id, values: dict):
    # An empty PATCH is still a write: the stamp trigger moves updated_at whatever is set.
    values = values or {"updated_at": tasks.c.updated_at}
    return update(tasks).where(tasks.c.id == task_id).values(**values).returning(*TASK)


def toggle_completed(task_id):
    return change(task_id, {"completed": not_(tasks.c.completed)})


def remove(task_id):
    return delete(tasks).where(tasks.c.id == task_id).returning(*TASK)


def counts():
    """Total, open, completed and overdue, in one scan of the caller's rows."""
    open_ = not_(tasks.c.completed)
    return select(
        func.count().label("total"),
        func.count().filter(open_).label("open"),
        func.count().filter(tasks.c.completed).label("completed"),
        func.count().filter(open_ & (tasks.c.due_at < func.now())).label("overdue"),
    ).select_from(tasks)
