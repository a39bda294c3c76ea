"""Lists, their members and invitations: `/api/{user_id}/lists…` and `/api/{user_id}/invitations…`.

Row-level security decides which lists, members and invitations exist for the caller and what
their role lets them write (sql/02_policies.sql); a list they are not a member of does not
exist. When the database refuses or finds nothing, taskapp.lists.access tells the client why:
404 for what they cannot see, 403 for what their role does not allow.
"""

import uuid

from flask import g, url_for
from flask.views import MethodView
from sqlalchemy.exc import IntegrityError

from taskapp.database.transaction import commit, execute, first, roll_back, rows
from taskapp.lists import queries
from taskapp.lists.access import ROLE_TOO_LOW, forbidden_or_missing, list_visible, refusals_explained
from taskapp.lists.schemas import (
    INVITATION_DAYS,
    InvitationSchema,
    InvitationWriteSchema,
    ListPatchSchema,
    ListSchema,
    ListWriteSchema,
    MemberPatchSchema,
    MemberSchema,
)
from taskapp.web.api import KEY_IN_USE, string_header
from taskapp.web.errors import abort, found, uuid_or_404
from taskapp.web.idempotency import KEY_PARAMETER as IDEMPOTENCY_KEY
from taskapp.web.idempotency import REPLAYED_HEADER
from taskapp.web.user_scope import user_blueprint

blp = user_blueprint(
    "lists",
    __name__,
    "Lists of tasks, shared with others: members with roles, and invitations they accept.",
    body_free=frozenset({"lists.InvitationAcceptance"}),
    # Making a list is the write a retry could double. Sending an invitation again replaces it,
    # and accepting one twice finds it gone: both are safe to retry as they are.
    idempotent=frozenset({("lists.Lists", "POST")}),
)

LIST_WRITE, LIST_PATCH, MEMBER_PATCH, INVITATION_WRITE = (
    ListWriteSchema(), ListPatchSchema(), MemberPatchSchema(), InvitationWriteSchema())
INBOX_NOT_SHARED = "An Inbox is never shared: make a list to share."
INBOX_KEPT = "An Inbox cannot be deleted."
OWNER_STAYS = "The owner cannot leave or be removed: hand ownership over first (make another member owner)."
OWNER_KEEPS_ROLE = "The owner cannot take a lower role: hand ownership over first (make another member owner)."
ALREADY_MEMBER = "The user is already a member of this list."
EXPIRED = "The invitation has expired; ask for a new one."
INVITED_MEANWHILE = "Another invitation to this user was sent at the same moment; send it again to replace it."
ADMINS_ONLY = "Only the list's admins and owner see and revoke its invitations."
LOCATION = {"Location": string_header("URL of the new resource", required=True)}


def the_list(list_id):
    """The list as the caller sees it (their role beside it), or 404."""
    return found(first(*queries.one_list(list_id)))


def personal(list_id) -> bool:
    row = first(queries.PERSONAL, {"list_id": list_id})
    return row is not None and row["personal"]


def may_administer(row) -> bool:
    return row["role"] in ("admin", "owner")


@blp.route("/lists")
class Lists(MethodView):
    @blp.doc(operationId="listLists")
    @blp.response(200, ListSchema(many=True))
    @blp.documents_errors(401, 403)
    def get(self):
        """List the lists you belong to, your Inbox first"""
        first(queries.INBOX, {})
        return rows(*queries.every_list())

    @blp.doc(operationId="createList", parameters=[IDEMPOTENCY_KEY])
    @blp.arguments(LIST_WRITE)
    @blp.response(201, ListSchema, headers={**LOCATION, **REPLAYED_HEADER})
    @blp.documents_errors(400, 401, 403, KEY_IN_USE, 413, 415)
    def post(self, new_list):
        """Make a list to share; you are its owner"""
        list_id = uuid.uuid4()
        execute(queries.CREATE, {"list_id": list_id, **new_list})
        made = the_list(list_id)
        commit()
        return made, {"Location": url_for("lists.List", user_id=g.path_user_id, list_id=list_id)}


@blp.route("/lists/<list_id>")
class List(MethodView):
    @blp.doc(operationId="getList")
    @blp.response(200, ListSchema)
    @blp.documents_errors(401, 403, 404)
    def get(self, list_id):
        """Get one of your lists"""
        return the_list(uuid_or_404(list_id))

    @blp.doc(operationId="renameList")
    @blp.arguments(LIST_PATCH)
    @blp.response(200, ListSchema)
    @blp.documents_errors(400, 401, 403, 404, 413, 415)
    def patch(self, changes, list_id):
        """Rename a list (admins and the owner)"""
        list_id = uuid_or_404(list_id)
        if first(queries.RENAME, {"list_id": list_id, **changes}) is None:
            forbidden_or_missing(list_visible(list_id))
        renamed = the_list(list_id)
        commit()
        return renamed

    @blp.doc(operationId="deleteList")
    @blp.response(204)
    @blp.documents_errors(401, 403, 404, 409)
    def delete(self, list_id):
        """Delete a list and its tasks (the owner; never an Inbox); every member loses it"""
        list_id = uuid_or_404(list_id)
        with refusals_explained(list_id):
            removed = first(queries.REMOVE, {"list_id": list_id})
        if removed is None:
            if personal(list_id):
                abort(409, INBOX_KEPT)
            forbidden_or_missing(list_visible(list_id))
        commit()
        return None


@blp.route("/lists/<list_id>/members")
class Members(MethodView):
    @blp.doc(operationId="listMembers")
    @blp.response(200, MemberSchema(many=True))
    @blp.documents_errors(401, 403, 404)
    def get(self, list_id):
        """List a list's members, the owner first"""
        members = rows(queries.MEMBERS, {"list_id": uuid_or_404(list_id)})
        if not members:  # a list always has its owner: no member means no list you can see
            abort(404)
        return members


# A `sub` may hold slashes, and every member must be reachable (taskapp.web.user_scope).
@blp.route("/lists/<list_id>/members/<user_id:member_id>")
class Member(MethodView):
    @blp.doc(operationId="changeMemberRole")
    @blp.arguments(MEMBER_PATCH)
    @blp.response(200, MemberSchema)
    @blp.documents_errors(400, 401, 403, 404, 409, 413, 415)
    def patch(self, change, list_id, member_id):
        """Change a member's role (yours: `me`); `owner` hands ownership over (you become an admin)"""
        list_id = uuid_or_404(list_id)
        if member_id == "me":
            member_id = g.user_id
        where = {"list_id": list_id, "user_id": member_id}
        if first(queries.ONE_MEMBER, where) is None:
            abort(404)
        try:
            with refusals_explained(list_id):
                if change["role"] == "owner":
                    changed = [row for row in rows(queries.HAND_OVER, where) if row["user_id"] == member_id]
                else:
                    changed = rows(queries.CHANGE_ROLE, {**where, **change})
        except IntegrityError:  # the owner demoting themselves: a list keeps its owner
            roll_back()
            abort(409, OWNER_KEEPS_ROLE)
        if not changed:
            roll_back()  # handing over to nobody must not leave the list without its owner
            member = first(queries.ONE_MEMBER, where)
            if member is None:
                abort(404)
            if member["role"] == "owner" and member_id == g.user_id:
                abort(409, OWNER_KEEPS_ROLE)
            abort(403, ROLE_TOO_LOW)
        commit()
        return changed[0]

    @blp.doc(operationId="removeMember")
    @blp.response(204)
    @blp.documents_errors(401, 403, 404, 409)
    def delete(self, list_id, member_id):
        """Remove a member, or leave (your own `sub` or `me`); the owner cannot leave"""
        list_id = uuid_or_404(list_id)
        if member_id == "me":
            member_id = g.user_id
        where = {"list_id": list_id, "user_id": member_id}
        execute(queries.LOCK_FOR_DEPARTURE, {"list_id": list_id})
        with refusals_explained(list_id):
            removed = first(queries.REMOVE_MEMBER, where)
        if removed is None:
            member = first(queries.ONE_MEMBER, where)
            if member is None:
                abort(404)
            if member["role"] == "owner" and member_id == g.user_id:
                abort(409, OWNER_STAYS)
            abort(403, ROLE_TOO_LOW)
        commit()
        return None


@blp.route("/lists/<list_id>/invitations")
class ListInvitations(MethodView):
    @blp.doc(operationId="listListInvitations")
    @blp.response(200, InvitationSchema(many=True))
    @blp.documents_errors(401, 403, 404)
    def get(self, list_id):
        """List a list's pending invitations (admins and the owner)"""
        list_id = uuid_or_404(list_id)
        if not may_administer(the_list(list_id)):
            abort(403, ADMINS_ONLY)
        return rows(queries.LIST_INVITATIONS, {"list_id": list_id})

    @blp.doc(operationId="inviteToList")
    @blp.arguments(INVITATION_WRITE)
    @blp.response(201, InvitationSchema, headers=LOCATION)
    @blp.documents_errors(400, 401, 403, 404, 409, 413, 415)
    def post(self, invitation, list_id):
        """Invite a user to a list (admins below admin; the owner at any role); it expires in 7 days"""
        list_id = uuid_or_404(list_id)
        if first(queries.ONE_MEMBER, {"list_id": list_id, "user_id": invitation["user_id"]}) is not None:
            abort(409, ALREADY_MEMBER)
        if personal(list_id):  # the policy refuses it; this says why
            abort(409, INBOX_NOT_SHARED)
        to = {"list_id": list_id, "invitee_id": invitation["user_id"]}
        try:
            with refusals_explained(list_id):
                execute(queries.CLEAR_INVITATIONS, to)
                made = first(queries.INVITE, {**to, "role": invitation["role"], "days": INVITATION_DAYS})
        except IntegrityError:  # another invitation to them, sent at the same moment, came first
            roll_back()
            abort(409, INVITED_MEANWHILE)
        if made is None:
            abort(404)
        sent = first(queries.ONE_INVITATION, {"invitation_id": made["id"]})
        commit()
        location = url_for("lists.ListInvitation", user_id=g.path_user_id, list_id=list_id,
                           invitation_id=made["id"])
        return sent, {"Location": location}


@blp.route("/lists/<list_id>/invitations/<invitation_id>")
class ListInvitation(MethodView):
    @blp.doc(operationId="revokeInvitation")
    @blp.response(204)
    @blp.documents_errors(401, 403, 404)
    def delete(self, list_id, invitation_id):
        """Revoke a pending invitation (admins and the owner)"""
        list_id, invitation_id = uuid_or_404(list_id), uuid_or_404(invitation_id)
        if first(queries.REVOKE, {"list_id": list_id, "invitation_id": invitation_id}) is None:
            if not may_administer(the_list(list_id)):
                abort(403, ADMINS_ONLY)
            abort(404)
        commit()
        return None


@blp.route("/invitations")
class MyInvitations(MethodView):
    @blp.doc(operationId="listMyInvitations")
    @blp.response(200, InvitationSchema(many=True))
    @blp.documents_errors(401, 403)
    def get(self):
        """List the pending invitations addressed to you"""
        return rows(queries.MY_INVITATIONS, {})


@blp.route("/invitations/<invitation_id>")
class MyInvitation(MethodView):
    @blp.doc(operationId="declineInvitation")
    @blp.response(204)
    @blp.documents_errors(401, 403, 404)
    def delete(self, invitation_id):
        """Decline an invitation addressed to you"""
        if first(queries.DECLINE, {"invitation_id": uuid_or_404(invitation_id)}) is None:
            abort(404)
        commit()
        return None


@blp.route("/invitations/<invitation_id>/accept")
class InvitationAcceptance(MethodView):
    @blp.doc(operationId="acceptInvitation")
    @blp.response(200, ListSchema)
    @blp.documents_errors(401, 403, 404, 409, 410)
    def post(self, invitation_id):
        """Accept an invitation addressed to you: you join the list with its role"""
        where = {"invitation_id": uuid_or_404(invitation_id)}
        invitation = found(first(queries.MY_INVITATION, where))
        try:
            # Revoked, declined or replaced meanwhile (joining takes the invitation, or is
            # refused), or its list deleted: 404, as if it had not been found.
            with refusals_explained(invitation["list_id"]):
                joined = execute(queries.ACCEPT, where).rowcount
        except IntegrityError:  # already a member (joined by another invitation meanwhile)
            roll_back()
            execute(queries.FORGET_INVITATION, where)
            commit()
            abort(409, ALREADY_MEMBER)
        if not joined:
            abort(410, EXPIRED)
        execute(queries.FORGET_INVITATION, where)
        member_of = the_list(invitation["list_id"])
        commit()
        return member_of
