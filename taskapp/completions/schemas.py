"""One schema per job: a completion as returned, and the arguments of a history page."""

import marshmallow as ma

from taskapp.web.fields import UTCDateTime
from taskapp.web.pages import PageArgs


class CompletionSchema(ma.Schema):
    """One completion of a task: the occurrence done (its due_at) and when; every field always sent."""

    id = ma.fields.UUID(required=True)
    task_id = ma.fields.UUID(required=True)
    due_at = UTCDateTime(
        allow_none=True, required=True,
        metadata={"description": "The occurrence completed (the task's due_at then)."},
    )
    completed_at = UTCDateTime(required=True)
    completed_by = ma.fields.String(required=True, metadata={"description": "The `sub` of who completed it."})


class CompletionPageArgs(PageArgs):
    """Page of a completion history, newest first; unknown parameters are ignored."""


class CompletionWindowArgs(CompletionPageArgs):
    """Every completion in a time window, newest first."""

    completed_after = UTCDateTime(metadata={"description": "Completions strictly after this time (RFC 3339)."})
    completed_before = UTCDateTime(metadata={"description": "Completions strictly before this time (RFC 3339)."})
