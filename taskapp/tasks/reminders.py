"""Reminders on a task: what a client writes, how it is stored, what it needs.

A client writes each reminder as `{"at": <RFC 3339>}` or `{"before_due": <minutes>}`. The
database keeps beside each one when it fires, whether it fired for the current occurrence and
whether its time had already passed when it was set (`tasks_arm_reminders` in
sql/01_schema.sql): the API only stores the list as given, in UTC.
"""

import marshmallow as ma
import orjson
from marshmallow import validate

from taskapp.web.fields import StrictBoolean, UTCDateTime, utc_text

MAX_REMINDERS = 5
MAX_MINUTES_BEFORE_DUE = 40320  # four weeks
NEEDS_DUE_AT = "A reminder relative to the due date (before_due) needs a due_at."


class ReminderInput(ma.Schema):
    """One reminder as a client writes it: exactly one of `at` and `before_due`."""

    class Meta:
        unknown = ma.RAISE

    at = UTCDateTime(metadata={"description": "When to remind, RFC 3339 with a UTC offset."})
    before_due = ma.fields.Integer(
        strict=True,
        validate=validate.Range(min=0, max=MAX_MINUTES_BEFORE_DUE),
        metadata={"description": "Minutes before due_at (0 to 40320), following due_at when it moves."},
    )

    @ma.validates_schema
    def one_kind(self, data, **kwargs):
        if ("at" in data) == ("before_due" in data):
            raise ma.ValidationError("Give exactly one of `at` and `before_due`.")

    @ma.post_load
    def stored(self, data, **kwargs):
        return {"at": utc_text(data["at"])} if "at" in data else {"before_due": data["before_due"]}


def utc_text_field(**kwargs):
    """A time the database already wrote as the API does (UTC, `Z`): passed on as it is."""
    return ma.fields.String(metadata={"format": "date-time", **kwargs.pop("metadata", {})}, **kwargs)


class Reminder(ma.Schema):
    """A reminder as the API returns it: as the database keeps it (tasks_arm_reminders), its
    fields in jsonb's order (shorter keys first). `at` or `before_due`, as it was written; the
    state beside it always (`required`)."""

    at = utc_text_field(metadata={"description": "Absolute reminders only: when to remind."})
    fired = StrictBoolean(dump_only=True, required=True, metadata={"description": "Fired for the current occurrence."})
    missed = StrictBoolean(
        dump_only=True,
        required=True,
        metadata={"description": "Its time had passed when it was set: it does not fire "
                  "(nothing fires retroactively)."},
    )
    fires_at = utc_text_field(dump_only=True, allow_none=True, required=True,
                              metadata={"description": "When it fires (UTC); null for a relative one without due_at."})
    before_due = ma.fields.Integer(metadata={"description": "Relative reminders only: minutes before due_at."})


def reminders_field(**kwargs):
    return ma.fields.List(
        ma.fields.Nested(ReminderInput),
        validate=validate.Length(max=MAX_REMINDERS),
        metadata={"description": "At most 5, each `{\"at\": …}` or `{\"before_due\": minutes}`."},
        **kwargs,
    )


def relative(reminders) -> bool:
    return any("before_due" in reminder for reminder in reminders or ())


def as_json(reminders: list[dict]) -> str:
    """The list as the database stores it (a jsonb bound as text)."""
    return orjson.dumps(reminders).decode()
