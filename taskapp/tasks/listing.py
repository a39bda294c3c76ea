"""Finding tasks: filters, full-text search, sort orders and keyset pagination.

Every statement here runs under row-level security and names no owner. Pages are keyset
pages: the next one starts strictly after the last row served, in a total order (the sort
key, then id), so inserts while a client pages neither shift nor repeat what it has seen.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import and_, func, literal, or_, select, tuple_

from taskapp.tasks.queries import PRIORITIES, TASK, tasks

CURSOR_SALT = "taskapp.tasks.cursor"


@dataclass(frozen=True)
class SortOrder:
    name: str
    column: object
    descending: bool
    nulls_last: bool = False
    is_datetime: bool = False

    @property
    def field(self) -> str:
        return self.name.lstrip("-")

    @property
    def expressions(self):
        """ORDER BY: the key, then id in the same direction (matching the key's index)."""
        key = self.column.desc() if self.descending else self.column.asc()
        if self.nulls_last:
            key = key.nulls_last()
        return [key, tasks.c.id.desc() if self.descending else tasks.c.id.asc()]

    def after(self, key, last_id):
        """The rows strictly after (key, last_id) in this order."""
        later = (lambda a, b: a < b) if self.descending else (lambda a, b: a > b)
        column = self.column
        if key is None:  # already among the trailing NULLs
            return and_(column.is_(None), later(tasks.c.id, last_id))
        key = literal(key, type_=column.type)  # typed as the column (an enum for priority)
        if not self.nulls_last:
            return later(tuple_(column, tasks.c.id), tuple_(key, last_id))
        return or_(
            later(column, key),
            and_(column == key, later(tasks.c.id, last_id)),
            column.is_(None),
        )


def _orders():
    columns = {
        "created_at": (tasks.c.created_at, False, True),
        "updated_at": (tasks.c.updated_at, False, True),
        "due_at": (tasks.c.due_at, True, True),
        "priority": (tasks.c.priority, False, False),
        # Code-point order whatever the server's locale (and matching the title index).
        "title": (tasks.c.title.collate("C"), False, False),
    }
    orders = {}
    for name, (column, nulls_last, is_datetime) in columns.items():
        orders[name] = SortOrder(name, column, False, nulls_last, is_datetime)
        orders["-" + name] = SortOrder("-" + name, column, True, nulls_last, is_datetime)
    return orders


SORT_ORDERS = _orders()
SORT_NAMES = tuple(SORT_ORDERS)
DEFAULT_SORT = "-created_at"


class BadCursor(Exception):
    """The cursor was not made by this server for this query."""


def filter_conditions(args: dict) -> list:
    conditions = []
    if "completed" in args:
        conditions.append(tasks.c.completed.is_(args["completed"]))
    if "priority" in args:
        conditions.append(tasks.c.priority == args["priority"])
    if args.get("tag"):
        conditions.append(tasks.c.tags.contains(list(dict.fromkeys(args["tag"]))))
    if args.get("q") is not None:
        # plainto_tsquery treats its input as plain words, ANDed: no operator or quote
        # in `q` can change the query, and no input makes it fail. A `q` without any word
        # (blank, or punctuation only) asks for nothing, so it filters nothing.
        words = func.plainto_tsquery("simple", args["q"])
        conditions.append(or_(func.numnode(words) == 0, tasks.c.search.op("@@")(words)))
    if "due_before" in args:
        conditions.append(tasks.c.due_at < args["due_before"])
    if "due_after" in args:
        conditions.append(tasks.c.due_at > args["due_after"])
    return conditions


def fingerprint(args: dict, user_id: str) -> str:
    """What a cursor is bound to: the caller and the filters (not the page size)."""
    filters = {
        "completed": args.get("completed"),
        "priority": args.get("priority"),
        "tag": sorted(set(args.get("tag") or [])),
        "q": args.get("q"),
        "due_before": args["due_before"].isoformat() if "due_before" in args else None,
        "due_after": args["due_after"].isoformat() if "due_after" in args else None,
        "user": user_id,
    }
    encoded = json.dumps(filters, sort_keys=True).encode()
    return hashlib.sha256(encoded).hexdigest()[:24]


class Cursors:
    """Signs and checks page cursors with the server's secret."""

    def __init__(self, secret: str):
        self.serializer = URLSafeSerializer(secret, salt=CURSOR_SALT)

    def make(self, order: SortOrder, bound_to: str, row) -> str:
        key = row[order.field]
        if isinstance(key, datetime):
            key = key.isoformat()
        return self.serializer.dumps({"s": order.name, "f": bound_to, "k": key, "i": str(row["id"])})

    def read(self, token: str, order: SortOrder, bound_to: str):
        """(key, id) to continue after; BadCursor for anything not made for this query."""
        try:
            data = self.serializer.loads(token)
        except (BadSignature, UnicodeError, ValueError):
            raise BadCursor("The cursor is not valid.") from None
        if not isinstance(data, dict) or data.get("s") != order.name or data.get("f") != bound_to:
            raise BadCursor("The cursor belongs to another sort or filter.")
        try:
            last_id = uuid.UUID(data["i"])
            key = data["k"]
            if key is None and not order.nulls_last:
                raise ValueError
            if key is not None:
                if order.is_datetime:
                    key = datetime.fromisoformat(key)
                elif order.field == "priority" and key not in PRIORITIES:
                    raise ValueError
                elif not isinstance(key, str):
                    raise ValueError
        except (KeyError, TypeError, ValueError, AttributeError):
            raise BadCursor("The cursor is not valid.") from None
        return key, last_id


def page_statement(args: dict, order: SortOrder, after=None, limit: int = 100):
    """One page (plus one row, to know whether another page follows)."""
    statement = select(*TASK).where(*filter_conditions(args))
    if after is not None:
        statement = statement.where(order.after(*after))
    return statement.order_by(*order.expressions).limit(limit + 1)
