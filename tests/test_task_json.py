"""TaskSchema's direct dump is marshmallow's dump of the same fields, for any row."""

import uuid
from datetime import datetime, timedelta, timezone

import marshmallow as ma
from flask import g
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from taskapp.db import get_session
from taskapp.tasks.queries import PRIORITIES, TASK
from taskapp.tasks.schemas import TaskSchema

zones = st.sampled_from([timezone.utc, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))])
stamps = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=zones)
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
rows = st.fixed_dictionaries({
    "id": st.uuids(),
    "user_id": text,
    "title": text,
    "description": st.none() | text,
    "completed": st.booleans(),
    "completed_at": st.none() | stamps,
    "priority": st.sampled_from(PRIORITIES),
    "due_at": st.none() | stamps,
    "tags": st.lists(text, max_size=5),
    "created_at": stamps,
    "updated_at": stamps,
})


def marshmallow_dump(schema, obj, many=False):
    return ma.Schema.dump(schema, obj, many=many)


@settings(max_examples=300, deadline=None)
@given(rows)
def test_one_task_dumps_as_marshmallow_would(row):
    schema = TaskSchema()
    assert schema.dump(row) == marshmallow_dump(schema, row)
    assert list(schema.dump(row)) == list(marshmallow_dump(schema, row))  # same key order


@settings(max_examples=50, deadline=None)
@given(st.lists(rows, max_size=10))
def test_a_page_dumps_as_marshmallow_would(page):
    assert TaskSchema(many=True).dump(page) == marshmallow_dump(TaskSchema(many=True), page, many=True)
    assert TaskSchema().dump(page, many=True) == marshmallow_dump(TaskSchema(), page, many=True)


def test_rows_from_the_database_dump_as_marshmallow_would(client, alice, create_task):
    create_task(alice, title="dumped", description="d", due_at="2031-02-03T04:05:06.789+02:00", tags=["a", "b"])
    create_task(alice, title="plain")
    with client.application.test_request_context():
        g.user_id = alice.sub
        rows = get_session().execute(select(*TASK)).mappings().all()
    assert len(rows) == 2
    schema = TaskSchema(many=True)
    assert schema.dump(rows) == marshmallow_dump(schema, rows, many=True)


def test_a_restricted_schema_still_uses_marshmallow():
    row = {"id": uuid.uuid4(), "title": "t"}
    assert TaskSchema(only=("id", "title")).dump(row) == {"id": str(row["id"]), "title": "t"}
