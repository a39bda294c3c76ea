"""Statements compiled once and run on the driver give what SQLAlchemy's own execution gives."""

import itertools
import uuid
from datetime import datetime, timezone

import pytest
from flask import g
from sqlalchemy import Column, Integer, MetaData, PickleType, Table, select

from taskapp.database.statements import compiled
from taskapp.database.transaction import get_connection, rows
from taskapp.tasks import queries
from taskapp.tasks.listing import SORT_ORDERS, page_statement


def both_ways(statement, parameters):
    """(rows by taskapp.database.transaction, rows by SQLAlchemy's Connection.execute) in one transaction."""
    by_driver = rows(statement, parameters)
    by_sqlalchemy = [dict(row) for row in get_connection().execute(statement, parameters).mappings()]
    return by_driver, by_sqlalchemy


@pytest.fixture()
def alices_tasks(client, alice, create_task):
    for n in range(6):
        create_task(alice, title=f"task {n}", priority=("low", "medium", "high")[n % 3],
                    tags=["work"] if n % 2 else [], due_at=None if n % 3 == 0 else f"2031-0{n}-01T09:00:00+02:00")
    return client.get("/api/me/tasks", headers=alice.headers).json


def test_every_listing_shape_reads_the_same_rows(client, alice, alices_tasks):
    filters = [{}, {"completed": False}, {"priority": "medium"}, {"tag": ["work"]}, {"q": "task"},
               {"due_before": datetime(2031, 4, 1, tzinfo=timezone.utc)},
               {"due_after": datetime(2031, 2, 1, tzinfo=timezone.utc)}]
    with client.application.test_request_context():
        g.user_id = alice.sub
        for (name, order), args in itertools.product(SORT_ORDERS.items(), filters):
            first_page = rows(*page_statement(args, order, None, 3))
            last = first_page[-1]
            for after in (None, (last[order.field], last["id"])):
                by_driver, by_sqlalchemy = both_ways(*page_statement(args, order, after, 3))
                assert by_driver == by_sqlalchemy, (name, args, after)
                assert by_driver or after is not None


def test_single_task_statements_read_and_write_the_same(client, alice, alices_tasks):
    task_id = uuid.UUID(alices_tasks[0]["id"])
    with client.application.test_request_context():
        g.user_id = alice.sub
        by_driver, by_sqlalchemy = both_ways(*queries.get(task_id))
        assert by_driver == by_sqlalchemy != []
        by_driver, by_sqlalchemy = both_ways(*queries.counts())
        assert by_driver == by_sqlalchemy
        toggled_by_driver = rows(*queries.toggle_completed(task_id))
        toggled_by_sqlalchemy = [dict(row) for row in get_connection().execute(*queries.toggle_completed(task_id))
                                 .mappings()]
        assert toggled_by_driver[0]["completed"] is not toggled_by_sqlalchemy[0]["completed"]
        moved = ("completed", "completed_at", "updated_at")
        assert {k: v for k, v in toggled_by_driver[0].items() if k not in moved} == \
            {k: v for k, v in toggled_by_sqlalchemy[0].items() if k not in moved}
        get_connection().rollback()


def test_a_statement_sqlalchemy_would_convert_is_refused():
    """A column or parameter SQLAlchemy converts cannot run as plain text: refused, not run wrongly."""
    pickled = Table("pickled", MetaData(), Column("id", Integer), Column("value", PickleType))
    with pytest.raises(TypeError):
        compiled(select(pickled.c.value))
    with pytest.raises(TypeError):
        compiled(pickled.insert().values(value=[1, 2]))
