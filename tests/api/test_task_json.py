"""Tasks are written as marshmallow's dump of TaskSchema's fields would be written, for any row.

TaskSchema hands rows to the JSON writer as the database returns them (UUIDs, UTC datetimes);
the JSON the API sends must be the JSON of marshmallow's own dump of the same fields.
"""

import json
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from taskapp.config import sqlalchemy_url
from taskapp.database.tables import PRIORITIES, TASK
from taskapp.tasks.schemas import TaskSchema
from taskapp.web.fields import utc_text
from taskapp.web.jsonio import OrjsonProvider

# The sessions' time zone is UTC (taskapp.database.sessions.in_utc): psycopg names it either way.
utc_zones = st.sampled_from([timezone.utc, ZoneInfo("UTC"), ZoneInfo("Etc/UTC")])
stamps = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=utc_zones)
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
def in_jsonb_order(reminder: dict) -> dict:
    """jsonb keeps an object's keys shorter first, then in byte order."""
    return {key: reminder[key] for key in sorted(reminder, key=lambda key: (len(key), key))}


rows = st.fixed_dictionaries({
    "id": st.uuids(),
    "user_id": text,
    "list_id": st.uuids(),
    "assignee_id": st.none() | text,
    "title": text,
    "description": st.none() | text,
    "completed": st.booleans(),
    "completed_at": st.none() | stamps,
    "priority": st.sampled_from(PRIORITIES),
    "due_at": st.none() | stamps,
    "tags": st.lists(text, max_size=5),
    "created_at": stamps,
    "updated_at": stamps,
    "recurrence": st.none() | text,
    "time_zone": text,
    "repeat_from": st.sampled_from(["due", "completion"]),
    # As the database keeps them (tasks_arm_reminders): times already written in UTC text.
    "reminders": st.lists(st.fixed_dictionaries({
        "fires_at": st.none() | stamps.map(utc_text),
        "fired": st.booleans(),
        "missed": st.booleans(),
    }, optional={"at": stamps.map(utc_text),
                 "before_due": st.integers(0, 40320)}).map(in_jsonb_order), max_size=5),
}).map(lambda row: {str(column.name): row[column.name] for column in TASK})  # in the statements' column order
WRITER = OrjsonProvider(Flask(__name__))


def written(obj) -> str:
    return WRITER.dumps(obj)


def marshmallow_json(schema, obj, many=False) -> str:
    return json.dumps(ma.Schema.dump(schema, obj, many=many), ensure_ascii=False, separators=(",", ":"))


@settings(max_examples=300, deadline=None)
@given(rows)
def test_one_task_is_written_as_marshmallow_would_write_it(row):
    schema = TaskSchema()
    assert written(schema.dump(row)) == marshmallow_json(schema, row)  # same text: same keys, order, values


@settings(max_examples=50, deadline=None)
@given(st.lists(rows, max_size=10))
def test_a_page_is_written_as_marshmallow_would_write_it(page):
    assert written(TaskSchema(many=True).dump(page)) == marshmallow_json(TaskSchema(many=True), page, many=True)
    assert written(TaskSchema().dump(page, many=True)) == marshmallow_json(TaskSchema(), page, many=True)


def test_rows_from_the_database_are_written_as_marshmallow_would(client, alice, create_task):
    create_task(alice, title="dumped", description="d", due_at="2031-02-03T04:05:06.789+02:00", tags=["a", "b"])
    create_task(alice, title="plain")
    with client.application.test_request_context():
        from flask import g

        from taskapp.database.transaction import rows
        from taskapp.tasks.listing import SORT_ORDERS, page_statement

        g.user_id = alice.sub
        page = rows(*page_statement({}, SORT_ORDERS["-created_at"], None, 10))
    assert [task["title"] for task in page] == ["plain", "dumped"]
    assert {task["due_at"].utcoffset() for task in page if task["due_at"]} == {timedelta(0)}
    schema = TaskSchema(many=True)
    assert written(schema.dump(page)) == marshmallow_json(schema, page, many=True)
    assert json.loads(written(schema.dump(page)))[1]["due_at"] == "2031-02-03T02:05:06.789000Z"


def test_a_restricted_schema_still_uses_marshmallow():
    row = {"id": uuid.uuid4(), "title": "t"}
    assert TaskSchema(only=("id", "title")).dump(row) == {"id": str(row["id"]), "title": "t"}


def test_a_server_in_another_time_zone_still_answers_in_utc(make_app, database, alice):
    """The sessions' time zone is UTC whatever the connection starts with (here +05:30)."""
    kolkata = sqlalchemy_url(database.app_url).update_query_dict({"options": "-c TimeZone=Asia/Kolkata"})
    app = make_app(DATABASE_URL=kolkata)
    with app.extensions["taskapp.db"]["engine"].connect() as connection:
        assert connection.exec_driver_sql("show timezone").scalar() == "UTC"
    client = app.test_client()
    due = {"title": "t", "due_at": "2031-02-03T04:05:06+02:00"}
    made = client.post("/api/me/tasks", json=due, headers=alice.headers)
    assert made.status_code == 201
    assert made.json["due_at"] == "2031-02-03T02:05:06Z"
    assert made.json["created_at"].endswith("Z")
    listed = client.get("/api/me/tasks", headers=alice.headers).json
    assert [task["due_at"] for task in listed] == ["2031-02-03T02:05:06Z"]
