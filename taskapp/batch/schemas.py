"""A batch's body and answer: operations told apart by `op`, and each one's result.

Each operation names the single route it stands for (the OpenAPI document's operationId is in
its description) and carries that route's body as it is (`task`, `changes`, `list`,
`invitation`); the route itself validates it, so a body means the same in a batch as alone.
"""

import marshmallow as ma
from marshmallow import validate

from taskapp.database.tables import ROLES
from taskapp.lists.schemas import (
    ROLE_DESCRIPTION,
    InvitationSchema,
    InvitationWriteSchema,
    ListPatchSchema,
    ListSchema,
    ListWriteSchema,
    MemberSchema,
    user_id_field,
)
from taskapp.tasks.schemas import TaskPatchSchema, TaskSchema, TaskWriteSchema
from taskapp.web.fields import Passed, StrictBoolean, Tagged, Text

MAX_OPERATIONS = 100
REF_PATTERN = "^[A-Za-z0-9_.:-]{1,64}$"
# An entity tag as HTTP carries one (RFC 9110: printable ASCII but the quote), or `*`.
ETAG_PATTERN = '^(\\*|(W/)?"[!#-~]*")$'


class Input(ma.Schema):
    class Meta:
        unknown = ma.RAISE


def tag(name: str):
    """The tag of an operation: one value (the OpenAPI document's discriminator)."""
    return ma.fields.String(required=True, validate=validate.OneOf((name,)))


def ref_field(what: str, **kwargs):
    return Text(validate=validate.Regexp(REF_PATTERN, error="Must be 1-64 of A-Z a-z 0-9 _ . : -."),
                metadata={"description": what, "pattern": REF_PATTERN}, **kwargs)


def task_target():
    """The task an operation acts on: its id, or the `ref` of a task made earlier in the batch."""
    return {
        "task_id": ma.fields.UUID(metadata={"description": "The task's id (or give `task_ref`)."}),
        "task_ref": ref_field("The `ref` of a task made by an earlier operation of this batch (or give `task_id`)."),
        "if_match": Text(validate=validate.Regexp(ETAG_PATTERN, error="Must be an entity tag, such as \"…\" or *."),
                         metadata={"description": "As the single route's `If-Match`: the task's ETag, so that the "
                                   "operation fails (412) if the task changed since it was read.",
                                   "pattern": ETAG_PATTERN}),
    }


def list_target():
    return {
        "list_id": ma.fields.UUID(metadata={"description": "The list's id (or give `list_ref`)."}),
        "list_ref": ref_field("The `ref` of a list made by an earlier operation of this batch (or give `list_id`)."),
    }


def variant(name: str, description: str, fields: dict) -> ma.Schema:
    title = "".join(part.title() for part in name.split("_"))
    schema = Input.from_dict({"op": tag(name), **fields}, name=f"{title}Operation")
    schema.__doc__ = description
    return schema()


OPERATIONS = {
    "create_task": variant("create_task", "Create a task (`createTask`); `ref` names it for later operations.", {
        "ref": ref_field("A name of your choosing for the new task, unique in the batch."),
        "list_ref": ref_field("Put it in a list made earlier in the batch (instead of `task.list_id`)."),
        "task": Passed(TaskWriteSchema, required=True),
    }),
    "replace_task": variant("replace_task", "Replace a task (`replaceTask`).", {
        **task_target(),
        "list_ref": ref_field("Move it to a list made earlier in the batch (instead of `task.list_id`)."),
        "task": Passed(TaskWriteSchema, required=True),
    }),
    "update_task": variant("update_task", "Change some fields of a task (`updateTask`).", {
        **task_target(),
        "list_ref": ref_field("Move it to a list made earlier in the batch (instead of `changes.list_id`)."),
        "changes": Passed(TaskPatchSchema, required=True),
    }),
    "complete_task": variant(
        "complete_task",
        "Complete or reopen a task: `completed` sets it (`updateTask`); left out, it toggles "
        "(`toggleTaskCompleted`). A recurring task completed moves to its next occurrence.", {
            **task_target(),
            "completed": StrictBoolean(metadata={"description": "true completes, false reopens; left out: toggle."}),
        }),
    "move_task": variant("move_task", "Move a task to another list you may edit (`updateTask` with `list_id`).", {
        **task_target(), **list_target(),
    }),
    "delete_task": variant("delete_task", "Delete a task (`deleteTask`).", task_target()),
    "create_list": variant("create_list", "Make a list (`createList`); `ref` names it for later operations.", {
        "ref": ref_field("A name of your choosing for the new list, unique in the batch."),
        "list": Passed(ListWriteSchema, required=True),
    }),
    "rename_list": variant("rename_list", "Rename a list (`renameList`).", {
        **list_target(), "list": Passed(ListPatchSchema, required=True),
    }),
    "delete_list": variant("delete_list", "Delete a list and its tasks (`deleteList`).", list_target()),
    "invite": variant("invite", "Invite a user to a list (`inviteToList`).", {
        **list_target(), "invitation": Passed(InvitationWriteSchema, required=True),
    }),
    "revoke_invitation": variant("revoke_invitation", "Revoke a pending invitation (`revokeInvitation`).", {
        **list_target(), "invitation_id": ma.fields.UUID(required=True),
    }),
    "accept_invitation": variant("accept_invitation", "Accept an invitation addressed to you (`acceptInvitation`).", {
        "invitation_id": ma.fields.UUID(required=True),
    }),
    "decline_invitation": variant("decline_invitation", "Decline an invitation addressed to you "
                                  "(`declineInvitation`).", {"invitation_id": ma.fields.UUID(required=True)}),
    "change_member_role": variant(
        "change_member_role", "Change a member's role (`changeMemberRole`); `owner` hands ownership over.", {
            **list_target(),
            "user_id": user_id_field(required=True, metadata={"description": "The member's `sub`."}),
            "role": Text(required=True, validate=validate.OneOf(ROLES), metadata={"description": ROLE_DESCRIPTION}),
        }),
    "remove_member": variant("remove_member", "Remove a member, or leave (`removeMember`).", {
        **list_target(),
        "user_id": user_id_field(required=True,
                                 metadata={"description": "The member's `sub` (yours, or `me`, to leave)."}),
    }),
}


class BatchSchema(Input):
    """Operations done in order, in one transaction: all of them, or (when one fails) none."""

    operations = ma.fields.List(
        Tagged("op", OPERATIONS, "Operation", metadata={"description": "One operation, named by `op`."}),
        required=True, validate=validate.Length(min=1, max=MAX_OPERATIONS),
        metadata={"description": f"1 to {MAX_OPERATIONS} operations, done in this order."},
    )


# What each operation answers: the single route's body under the name of what it is.
ANSWERS = {
    "create_task": "task", "replace_task": "task", "update_task": "task", "complete_task": "task",
    "move_task": "task", "delete_task": None, "create_list": "list", "rename_list": "list", "delete_list": None,
    "invite": "invitation", "revoke_invitation": None, "accept_invitation": "list", "decline_invitation": None,
    "change_member_role": "member", "remove_member": None,
}
ANSWER_SCHEMAS = {"task": TaskSchema, "list": ListSchema, "invitation": InvitationSchema, "member": MemberSchema}


def result_variant(name: str) -> ma.Schema:
    answer = ANSWERS[name]
    fields = {
        "op": tag(name),
        "status": ma.fields.Integer(required=True, metadata={"description": "The single route's status code."}),
    }
    if name in ("create_task", "create_list"):
        fields["ref"] = ma.fields.String(required=True, allow_none=True,
                                         metadata={"description": "The operation's `ref`; null without one."})
    if answer is not None:
        fields[answer] = ma.fields.Nested(ANSWER_SCHEMAS[answer], required=True)
    if answer == "task":
        fields["etag"] = ma.fields.String(required=True, metadata={"description": "The task's ETag, for `if_match`."})
    schema = ma.Schema.from_dict(fields, name=f"{''.join(p.title() for p in name.split('_'))}Result")
    return schema()


class BatchResultSchema(ma.Schema):
    """Every operation's result, in the order given; all of them were written."""

    def dump(self, obj, *, many=None):
        """The results as they are: each holds its route's answer, already dumped by the route's
        own schema (documented here, not dumped twice)."""
        return obj

    results = ma.fields.List(
        Tagged("op", {name: result_variant(name) for name in OPERATIONS}, "OperationResult",
               metadata={"description": "One operation's result, named by `op`."}),
        required=True,
    )
