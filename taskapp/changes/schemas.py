"""One schema per job: the feed's arguments, one change, and a page of changes."""

import marshmallow as ma
from marshmallow import validate

from taskapp.tasks.schemas import TaskSchema
from taskapp.web.fields import Tagged, Text


class ChangesArgs(ma.Schema):
    """Where to start, and how many changes at most; unknown parameters are ignored."""

    class Meta:
        unknown = ma.EXCLUDE

    since = Text(
        metadata={"description": "The `next` token of your previous call; leave it out for a full sync."}
    )
    limit = ma.fields.Integer(
        load_default=100, validate=validate.Range(min=1, max=500), metadata={"description": "Changes per answer."}
    )


def operation(name: str):
    """The tag of a change: one value (the OpenAPI document's discriminator)."""
    return ma.fields.String(required=True, validate=validate.OneOf((name,)))


class UpsertChangeSchema(ma.Schema):
    """A task as it is now, made or changed (`task` as GET returns it)."""

    op = operation("upsert")
    task = ma.fields.Nested(TaskSchema, required=True)


class DeleteChangeSchema(ma.Schema):
    """A task that is gone (deleted)."""

    op = operation("delete")
    task_id = ma.fields.UUID(required=True, metadata={"description": "The deleted task's id."})


class ChangePageSchema(ma.Schema):
    """Changes in the order they were made, each task at most once and in its latest state."""

    changes = ma.fields.List(
        Tagged("op", {"upsert": UpsertChangeSchema(), "delete": DeleteChangeSchema()}, "Change",
               metadata={"description": "A change: `upsert` (a task as it is now) or `delete` (a task that is gone)."}),
        required=True,
    )
    next = ma.fields.String(required=True, metadata={"description": "Pass as `since` on your next call."})
    has_more = ma.fields.Boolean(
        required=True, metadata={"description": "More changes follow: call again with `next` at once."}
    )
