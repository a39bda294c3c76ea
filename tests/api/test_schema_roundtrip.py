"""Whatever the write schema accepts is stored and returned exactly as the schema loaded it."""

from datetime import datetime, timedelta, timezone

import marshmallow as ma
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from taskapp.tasks.schemas import TaskPatchSchema, TaskWriteSchema
from taskapp.web.fields import utc_text
from tests.support.users import new_user

text = st.text(st.characters(codec="utf-8"), max_size=60)
zones = st.sampled_from([timezone.utc, timezone(timedelta(hours=14)), timezone(timedelta(hours=-9, minutes=-30))])
stamps = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=zones)
bodies = st.fixed_dictionaries(
    {"title": text},
    optional={
        "description": st.none() | text,
        "completed": st.booleans(),
        "priority": st.sampled_from(["low", "medium", "high"]),
        "due_at": st.none() | stamps.map(lambda stamp: stamp.isoformat()),
        "tags": st.lists(text, max_size=22),
    },
)
ROUND_TRIP = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def accepted(schema: ma.Schema, body: dict) -> dict:
    try:
        return schema.load(body)
    except ma.ValidationError:
        assume(False)


def as_returned(loaded: dict) -> dict:
    """The loaded values in the API's output form."""
    return {name: utc_text(value) if isinstance(value, datetime) else value for name, value in loaded.items()}


@ROUND_TRIP
@given(body=bodies)
def test_any_body_the_write_schema_accepts_round_trips_unchanged(client, body):
    loaded = accepted(TaskWriteSchema(), body)
    user = new_user("roundtrip")
    created = client.post("/api/me/tasks", json=body, headers=user.headers)
    assert created.status_code == 201, created.json
    stored = client.get(created.headers["Location"], headers=user.headers).json
    for name, value in as_returned(loaded).items():
        assert stored[name] == value, name


@ROUND_TRIP
@given(first=bodies, change=bodies.map(lambda body: {k: v for k, v in body.items() if k != "title" or len(body) == 1}))
def test_any_patch_the_patch_schema_accepts_changes_exactly_its_fields(client, first, change):
    original = accepted(TaskWriteSchema(), first)
    changes = accepted(TaskPatchSchema(), change)
    user = new_user("roundtrip")
    url = client.post("/api/me/tasks", json=first, headers=user.headers).headers["Location"]
    patched = client.patch(url, json=change, headers=user.headers)
    assert patched.status_code == 200, patched.json
    expected = as_returned({**original, **changes})
    for name, value in expected.items():
        assert patched.json[name] == value, name
