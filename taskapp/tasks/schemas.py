"""One schema per job: the task as returned, the task as written, its partial update, the summary."""

import marshmallow as ma
from marshmallow import validate

from taskapp.database.tables import PRIORITIES
from taskapp.tasks import recurrence as rules
from taskapp.tasks.listing import DEFAULT_SORT, SORT_NAMES, sort_constant
from taskapp.tasks.reminders import Reminder, reminders_field
from taskapp.web.fields import QueryBoolean, StrictBoolean, Text, UTCDateTime

MAX_TAGS = 20


def normalise_tags(tags: list[str]) -> list[str]:
    """Lower-cased (by the field), duplicates dropped, first-seen order kept."""
    return list(dict.fromkeys(tags))


def title_field(**kwargs):
    return Text(
        trim=True,
        validate=validate.Length(min=1, max=255),
        metadata={"description": "Trimmed; 1 to 255 characters."},
        **kwargs,
    )


def description_field(**kwargs):
    return Text(allow_none=True, validate=validate.Length(max=1000), **kwargs)


def priority_field(**kwargs):
    return Text(validate=validate.OneOf(PRIORITIES), **kwargs)


def due_at_field(**kwargs):
    return UTCDateTime(
        allow_none=True,
        metadata={"description": "RFC 3339 with a UTC offset, or null."},
        **kwargs,
    )


def tags_field(**kwargs):
    tag = Text(trim=True, lower=True, validate=validate.Length(min=1, max=40))
    return ma.fields.List(
        tag,
        validate=validate.Length(max=MAX_TAGS),
        metadata={
            "description": "At most 20; each 1 to 40 characters after trimming, "
            "stored lower-case, duplicates dropped, first-seen order kept."
        },
        **kwargs,
    )


class RecurrenceRule(Text):
    """An RFC 5545 RRULE value, stored normalised: upper case, no `RRULE:` prefix."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        try:
            return rules.normalise(value)
        except rules.RecurrenceError as exc:
            raise ma.ValidationError(str(exc)) from None


class TimeZoneName(Text):
    """An IANA time zone name."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        try:
            rules.zone(value)
        except rules.RecurrenceError as exc:
            raise ma.ValidationError(str(exc)) from None
        return value


def recurrence_field(**kwargs):
    return RecurrenceRule(
        allow_none=True,
        metadata={
            "description": "null, or an RFC 5545 RRULE value such as `FREQ=WEEKLY;BYDAY=MO,WE` "
            "(an `RRULE:` prefix is dropped); needs `due_at`, the first occurrence. Parts: "
            + ", ".join(rules.SUPPORTED_PARTS) + "; FREQ from DAILY to YEARLY; at most "
            f"{rules.MAX_LENGTH} characters.",
            "maxLength": rules.MAX_LENGTH,
        },
        **kwargs,
    )


def time_zone_field(**kwargs):
    return TimeZoneName(
        metadata={"description": "IANA zone whose wall-clock time the recurrence follows.", "example": "Europe/Berlin"},
        **kwargs,
    )


def repeat_from_field(**kwargs):
    return Text(
        validate=validate.OneOf(rules.REPEAT_FROM),
        metadata={"description": "`due`: the next occurrence follows the schedule; `completion`: "
                  "the rule restarts from the day of completion, at the due time of day."},
        **kwargs,
    )


class TaskSchema(ma.Schema):
    """A task as the API returns it: every field, always (`required` in the OpenAPI document, which
    is all it means on a schema that is never loaded)."""

    id = ma.fields.UUID(dump_only=True, required=True)
    user_id = ma.fields.String(dump_only=True, required=True, metadata={"description": "Who created it (`sub`)."})
    list_id = ma.fields.UUID(required=True, metadata={"description": "The list it is in (your Inbox unless given)."})
    assignee_id = ma.fields.String(
        allow_none=True, required=True, metadata={"description": "The member it is for (`sub`), if anyone."})
    title = ma.fields.String(required=True)
    description = ma.fields.String(allow_none=True, required=True)
    completed = ma.fields.Boolean(required=True)
    completed_at = UTCDateTime(dump_only=True, allow_none=True, required=True)
    priority = ma.fields.String(validate=validate.OneOf(PRIORITIES), required=True)
    due_at = UTCDateTime(allow_none=True, required=True)
    tags = ma.fields.List(ma.fields.String(), required=True)
    created_at = UTCDateTime(dump_only=True, required=True)
    updated_at = UTCDateTime(dump_only=True, required=True)
    recurrence = ma.fields.String(allow_none=True, required=True)
    time_zone = ma.fields.String(required=True)
    repeat_from = ma.fields.String(validate=validate.OneOf(rules.REPEAT_FROM), required=True)
    reminders = ma.fields.List(ma.fields.Nested(Reminder), required=True)

    def dump(self, obj, *, many: bool | None = None):
        """A task row (or a page of them) as it comes from the database, for the JSON writer.

        A list answer dumps up to 500 tasks, and marshmallow's per-field machinery was the
        largest cost a list request paid in Python (see bench/README.md, "Where the time goes now").
        Rows from taskapp.database.transaction are dicts whose keys are these fields in this order, with UUIDs,
        UTC datetimes (the sessions' time zone), lists and plain values, which the JSON
        writer (taskapp/web/jsonio.py) writes exactly as marshmallow's dump of the fields above
        would be written; tests/api/test_task_json.py holds the two equal.
        """
        if self.only or self.exclude:
            return super().dump(obj, many=many)
        return obj


class TaskInput(ma.Schema):
    """What every body that writes a task shares: unknown and read-only fields are refused."""

    class Meta:
        unknown = ma.RAISE

    @ma.post_load
    def clean_tags(self, data, **kwargs):
        if "tags" in data:
            data["tags"] = normalise_tags(data["tags"])
        return data


def list_id_field(**kwargs):
    return ma.fields.UUID(metadata={
        "description": "The list to put it in, one you may edit. Omitted: your Inbox for a new task, "
        "where it is for a replaced one."}, **kwargs)


def assignee_id_field(**kwargs):
    return Text(allow_none=True, validate=validate.Length(min=1, max=255), metadata={
        "description": "A member of the task's list it is for (`sub`); null for nobody. Omitted: "
        "nobody for a new task, unchanged for a replaced one."}, **kwargs)


class TaskWriteSchema(TaskInput):
    """A whole task as a client writes it (POST, PUT): omitted fields take their defaults, except
    the list and assignee of a replaced task, which stay (a client that knows nothing of lists
    must not move a shared task to its own Inbox)."""

    list_id = list_id_field()
    assignee_id = assignee_id_field()
    title = title_field(required=True)
    description = description_field(load_default=None)
    completed = StrictBoolean(load_default=False)
    priority = priority_field(load_default="medium")
    due_at = due_at_field(load_default=None)
    tags = tags_field(load_default=list)
    recurrence = recurrence_field(load_default=None)
    time_zone = time_zone_field(load_default="UTC")
    repeat_from = repeat_from_field(load_default="due")
    reminders = reminders_field(load_default=list)


class TaskPatchSchema(TaskInput):
    """A partial update: only the fields sent change; null clears description, due_at and assignee_id."""

    list_id = list_id_field()
    assignee_id = assignee_id_field()
    title = title_field()
    description = description_field()
    completed = StrictBoolean()
    priority = priority_field()
    due_at = due_at_field()
    tags = tags_field()
    recurrence = recurrence_field()
    time_zone = time_zone_field()
    repeat_from = repeat_from_field()
    reminders = reminders_field()


class TaskQueryArgs(ma.Schema):
    """Filters, sort order and page of `GET /api/{user_id}/tasks`; unknown parameters are ignored."""

    class Meta:
        unknown = ma.EXCLUDE

    list_id = ma.fields.UUID(metadata={"description": "Only the tasks of this list."})
    assignee_id = Text(validate=validate.Length(min=1, max=255),
                       metadata={"description": "Only the tasks assigned to this member (`sub`)."})
    completed = QueryBoolean(metadata={"description": "`true` or `false`."})
    recurring = QueryBoolean(metadata={"description": "`true`: only tasks with a recurrence; `false`: only without."})
    priority = priority_field()
    tag = ma.fields.List(
        Text(trim=True, lower=True, validate=validate.Length(min=1, max=40)),
        validate=validate.Length(max=MAX_TAGS),
        metadata={"description": "Repeatable; a task must carry every tag given (case-insensitive)."},
    )
    q = Text(
        validate=validate.Length(max=500),
        metadata={"description": "Full-text search over title and description: every word must match."},
    )
    due_before = UTCDateTime(metadata={"description": "Tasks due strictly before this time (RFC 3339)."})
    due_after = UTCDateTime(metadata={"description": "Tasks due strictly after this time (RFC 3339)."})
    sort = Text(
        load_default=DEFAULT_SORT,
        validate=validate.OneOf(SORT_NAMES),
        metadata={
            "description": "Sort key, `-` for descending; ties are broken by id.",
            # Names for the values in generated clients (openapi-python-client reads them).
            "x-enum-varnames": [sort_constant(name) for name in SORT_NAMES],
        },
    )
    limit = ma.fields.Integer(
        load_default=100, validate=validate.Range(min=1, max=500), metadata={"description": "Page size."}
    )
    cursor = Text(metadata={"description": "Opaque token from the previous page's `Link: rel=\"next\"`."})


class TaskCountsSchema(ma.Schema):
    total = ma.fields.Integer(required=True)
    open = ma.fields.Integer(required=True)
    completed = ma.fields.Integer(required=True)
    overdue = ma.fields.Integer(
        required=True, metadata={"description": "Not completed and due_at in the past."}
    )
    completed_today = ma.fields.Integer(
        required=True,
        metadata={"description": "Completions recorded since 00:00 UTC today (recurring tasks "
                  "count once per occurrence done)."},
    )


class SummarySchema(ma.Schema):
    """How many tasks the caller has, by state (answers only: every field always sent)."""

    user_id = ma.fields.String(required=True)
    tasks = ma.fields.Nested(TaskCountsSchema, required=True)
