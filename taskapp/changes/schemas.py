"""One schema per job: the feed's arguments, one change, and a page of changes."""

import marshmallow as ma
from marshmallow import validate

from taskapp.tasks.schemas import TaskSchema
from taskapp.web.fields import Text


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


class ChangeSchema(ma.Schema):
    """A task as it is now (`upsert`: `task` is set), or a task that is gone (`delete`: `task_id` is set)."""

    op = ma.fields.String(validate=validate.OneOf(("upsert", "delete")))
    task = ma.fields.Nested(TaskSchema, metadata={"description": "The task as GET returns it (upsert only)."})
    task_id = ma.fields.UUID(metadata={"description": "The deleted task's id (delete only)."})


class ChangePageSchema(ma.Schema):
    """Changes in the order they were made, each task at most once and in its latest state."""

    changes = ma.fields.List(ma.fields.Nested(ChangeSchema))
    next = ma.fields.String(metadata={"description": "Pass as `since` on your next call."})
    has_more = ma.fields.Boolean(metadata={"description": "More changes follow: call again with `next` at once."})
