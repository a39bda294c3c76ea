"""One schema per job: a completion as returned, and the arguments of a history page."""

import marshmallow as ma
from marshmallow import validate

from taskapp.tasks.fields import Text, UTCDateTime


class CompletionSchema(ma.Schema):
    """One completion of a task: the occurrence done (its due_at) and when."""

    id = ma.fields.UUID()
    task_id = ma.fields.UUID()
    due_at = UTCDateTime(
        allow_none=True, metadata={"description": "The occurrence completed (the task's due_at then)."}
    )
    completed_at = UTCDateTime()


class CompletionPageArgs(ma.Schema):
    """Page of a history, newest first; unknown parameters are ignored."""

    class Meta:
        unknown = ma.EXCLUDE

    limit = ma.fields.Integer(
        load_default=100, validate=validate.Range(min=1, max=500), metadata={"description": "Page size."}
    )
    cursor = Text(metadata={"description": "Opaque token from the previous page's `Link: rel=\"next\"`."})


class CompletionWindowArgs(CompletionPageArgs):
    """Every completion in a time window, newest first."""

    completed_after = UTCDateTime(metadata={"description": "Completions strictly after this time (RFC 3339)."})
    completed_before = UTCDateTime(metadata={"description": "Completions strictly before this time (RFC 3339)."})
