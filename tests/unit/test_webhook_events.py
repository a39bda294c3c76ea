"""A webhook event's body and headers: the same bytes as events have always had, signed."""

import json
import uuid
from datetime import datetime, timedelta, timezone

from standardwebhooks import Webhook

from taskapp.web.fields import utc_text
from taskapp.webhooks import events

INSTANTS = [
    datetime(2030, 1, 1, tzinfo=timezone.utc),
    datetime(2030, 3, 31, 2, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2))),
    datetime(1, 1, 1, 0, 0, tzinfo=timezone.utc),
]


def test_event_times_are_written_as_the_api_writes_them():
    for instant in INSTANTS:
        assert events.utc_text(instant) == utc_text(instant)


def test_the_body_is_the_standard_encoding_of_the_task_as_the_api_writes_it():
    task_id = uuid.uuid4()
    task = {"id": task_id, "title": "café ☕", "due_at": INSTANTS[1], "tags": ["a"], "reminders": [{"before_due": 5}]}
    body = events.body("reminder.due", INSTANTS[0], task, {"before_due": 5})
    expected = {"type": "reminder.due", "timestamp": "2030-01-01T00:00:00Z",
                "data": {"task": {**task, "id": str(task_id), "due_at": utc_text(INSTANTS[1])},
                         "reminder": {"before_due": 5}}}
    assert body == json.dumps(expected)
    assert body.isascii()


def test_the_headers_carry_a_signature_the_standard_library_verifies():
    secret = events.new_secret()
    body = events.body("task.created", INSTANTS[0], {"id": uuid.uuid4()}, None)
    headers = events.headers(secret, "evt-1", body)
    assert Webhook(secret).verify(body, headers) == json.loads(body)
