"""One schema per job: a list, a member, an invitation, as given and as returned."""

import marshmallow as ma
from marshmallow import validate

from taskapp.database.tables import ROLES
from taskapp.web.fields import Text, UTCDateTime

INVITABLE_ROLES = ("viewer", "editor", "admin")
INVITATION_DAYS = 7

ROLE_DESCRIPTION = (
    "`viewer` reads; `editor` also creates, changes, completes and deletes the list's tasks; `admin` also "
    "renames the list and invites and removes members below admin; the one `owner` also deletes the list, "
    "manages admins and hands ownership over."
)


def name_field(**kwargs):
    return Text(trim=True, validate=validate.Length(min=1, max=255), **kwargs)


def user_id_field(**kwargs):
    return Text(validate=validate.Length(min=1, max=255), **kwargs)


class Input(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class ListWriteSchema(Input):
    """A new list: its name."""

    name = name_field(required=True)


class ListPatchSchema(Input):
    """A list renamed."""

    name = name_field(required=True)


class ListSchema(ma.Schema):
    """A list as the API returns it (every field, always)."""

    id = ma.fields.UUID(required=True)
    name = ma.fields.String(required=True)
    role = ma.fields.String(required=True, validate=validate.OneOf(ROLES),
                            metadata={"description": "Your role in the list. " + ROLE_DESCRIPTION})
    owner_id = ma.fields.String(required=True, metadata={"description": "The owner's `sub`."})
    personal = ma.fields.Boolean(required=True, metadata={
        "description": "Whether it is your Inbox: made when first needed, never shared or deleted; "
        "tasks go there when no list is given."})
    created_at = UTCDateTime(required=True)
    updated_at = UTCDateTime(required=True)


class MemberSchema(ma.Schema):
    """A member of a list."""

    user_id = ma.fields.String(required=True)
    role = ma.fields.String(required=True, validate=validate.OneOf(ROLES))
    added_at = UTCDateTime(required=True)


class MemberPatchSchema(Input):
    """A member's new role; `owner` hands ownership over (the owner becomes an admin)."""

    role = Text(required=True, validate=validate.OneOf(ROLES), metadata={"description": ROLE_DESCRIPTION})


class InvitationWriteSchema(Input):
    """An invitation: who (their `sub`) and as what."""

    # `me` names the caller in every path and member operation, so a member whose `sub` were `me`
    # could be named by nobody else: nobody is invited by that name.
    user_id = Text(required=True, validate=[validate.Length(min=1, max=255), validate.NoneOf(
        ["me"], error="`me` names you; invite someone by their `sub`.")],
        metadata={"description": "The invitee's `sub` (not `me`).", "not": {"enum": ["me"]}})
    role = Text(required=True, validate=validate.OneOf(INVITABLE_ROLES), metadata={"description": ROLE_DESCRIPTION})


class InvitationSchema(ma.Schema):
    """A pending invitation to a list (it expires after 7 days)."""

    id = ma.fields.UUID(required=True)
    list_id = ma.fields.UUID(required=True)
    list_name = ma.fields.String(required=True)
    invitee_id = ma.fields.String(required=True)
    role = ma.fields.String(required=True, validate=validate.OneOf(INVITABLE_ROLES))
    invited_by = ma.fields.String(required=True)
    created_at = UTCDateTime(required=True)
    expires_at = UTCDateTime(required=True)
