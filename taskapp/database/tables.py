"""The tables as statements see them: SQLAlchemy Core mirrors of the migrated schema.

The schema itself lives in the migrations (and sql/01_schema.sql, for DBAs); these only name
the columns statements use. Defaults, stamps and owners come from the database, and no
statement names an owner: row-level security decides which rows exist.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Enum,
    FetchedValue,
    Integer,
    MetaData,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR

PRIORITIES = ("low", "medium", "high")  # in rank order, as the task_priority enum
ROLES = ("viewer", "editor", "admin", "owner")  # in rank order, as the list_role enum

metadata = MetaData()

tasks = Table(
    "tasks",
    metadata,
    Column("id", Uuid, primary_key=True, server_default=FetchedValue()),
    Column("user_id", Text),  # who created it
    Column("list_id", Uuid),  # the list it is in, which decides who sees it
    Column("assignee_id", Text),
    Column("title", Text),
    Column("description", Text),
    Column("completed", Boolean),
    Column("completed_at", DateTime(timezone=True)),
    Column("priority", Enum(*PRIORITIES, name="task_priority", create_type=False)),
    Column("due_at", DateTime(timezone=True)),
    Column("tags", ARRAY(Text)),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
    Column("recurrence", Text),
    Column("time_zone", Text),
    Column("repeat_from", Text),
    Column("search", TSVECTOR),  # generated from title and description; only searched
    Column("recurrence_start", DateTime(timezone=True)),  # the series' bookkeeping, never returned
    Column("recurrence_last", DateTime(timezone=True)),
    Column("series_completions", Integer),
    Column("written_xid", BigInteger),  # the latest write's transaction (the feed's position); never returned
    Column("reminders", JSONB),  # read as psycopg parses it; written as JSON text (tasks/queries.py)
    Column("next_reminder_at", DateTime(timezone=True)),  # the worker's queue follows it; never returned
)

task_completions = Table(
    "task_completions",
    metadata,
    Column("id", Uuid, primary_key=True, server_default=FetchedValue()),
    Column("list_id", Uuid),
    Column("task_id", Uuid),
    Column("due_at", DateTime(timezone=True)),
    Column("completed_at", DateTime(timezone=True)),
    Column("completed_by", Text),
)

INTERNAL = ("search", "recurrence_start", "recurrence_last", "series_completions", "written_xid", "next_reminder_at")
# What a statement returns: the task as the API shows it (its fields in this order).
TASK = [column for column in tasks.c if column.name not in INTERNAL]
TASK_FIELDS = tuple(str(column.name) for column in TASK)  # plain str: orjson takes no subclass as a key

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Uuid, primary_key=True, server_default=FetchedValue()),
    Column("user_id", Text),
    Column("url", Text),
    Column("events", ARRAY(Text)),
    Column("secret", Text),
    Column("active", Boolean),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("user_id", Text),
    Column("webhook_id", Uuid),
    Column("type", Text),
    Column("list_id", Uuid),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("user_id", Text),
    Column("webhook_id", Uuid),
    Column("delivery_id", Uuid),
    Column("attempt", Integer),
    Column("status", Integer),
    Column("error", Text),
    Column("attempted_at", DateTime(timezone=True)),
    Column("list_id", Uuid),
)

lists = Table(
    "lists",
    metadata,
    Column("id", Uuid, primary_key=True, server_default=FetchedValue()),
    Column("name", Text),
    Column("personal_of", Text),  # whose Inbox it is; NULL for a list made to share
    Column("created_by", Text),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
)

list_members = Table(
    "list_members",
    metadata,
    Column("list_id", Uuid, primary_key=True),
    Column("user_id", Text, primary_key=True),
    Column("role", Enum(*ROLES, name="list_role", create_type=False)),
    Column("added_at", DateTime(timezone=True)),
)

list_invitations = Table(
    "list_invitations",
    metadata,
    Column("id", Uuid, primary_key=True, server_default=FetchedValue()),
    Column("list_id", Uuid),
    Column("invitee_id", Text),
    Column("role", Enum(*ROLES, name="list_role", create_type=False)),
    Column("invited_by", Text),
    Column("created_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True)),
)
