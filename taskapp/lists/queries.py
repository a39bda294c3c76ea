"""SQL for lists, members and invitations. Row-level security decides which rows exist and who
may write them; nothing here names a user or filters by membership. The caller's own role and
invitations come from the database's verified identity (my_memberships(), verified_user_id()).
"""

from sqlalchemy import text

from taskapp.database.transaction import distributed


def _list(role: str, mine: str) -> str:
    """A list as returned: the caller's role in it and its owner beside it (a join on the list,
    which a Citus cluster runs on the list's shard; a subquery in the select list it refuses)."""
    return f"""
SELECT l.id, l.name, {role}::text AS role, o.user_id AS owner_id,
       l.personal_of IS NOT NULL AS personal, l.created_at, l.updated_at
FROM lists l {mine}
LEFT JOIN list_members o ON o.list_id = l.id AND o.role = 'owner'
"""


LIST = _list("mine.role", "JOIN my_memberships() mine ON mine.list_id = l.id")
# On a Citus cluster the caller's role is asked beside each list's shard (specs/citus.md): the
# coordinator's copy of the memberships, which my_memberships() would read there, is empty.
LIST_ON_CITUS = _list("my_role(l.id)", "")

INBOX = text("SELECT personal_list_id() AS id")
ALL = text(LIST + " ORDER BY l.personal_of IS NULL, l.created_at, l.id")
ONE = text(LIST + " WHERE l.id = :list_id")
ALL_ON_CITUS = text(LIST_ON_CITUS + " ORDER BY l.personal_of IS NULL, l.created_at, l.id")
ONE_ON_CITUS = text(LIST_ON_CITUS + " WHERE l.id = :list_id")


def every_list():
    return (ALL_ON_CITUS if distributed() else ALL), {}


def one_list(list_id):
    return (ONE_ON_CITUS if distributed() else ONE), {"list_id": list_id}
# No RETURNING: a row returned must pass the SELECT policy, which a new list passes only once
# the trigger has made its creator the owner, after the row. Its id is made here instead.
CREATE = text("INSERT INTO lists (id, name) VALUES (:list_id, :name)")
RENAME = text("UPDATE lists SET name = :name, updated_at = now() WHERE id = :list_id RETURNING id")
REMOVE = text("DELETE FROM lists WHERE id = :list_id RETURNING id")
PERSONAL = text("SELECT personal_of IS NOT NULL AS personal FROM lists WHERE id = :list_id")

MEMBER = "SELECT m.user_id, m.role::text AS role, m.added_at FROM list_members m"
MEMBERS = text(MEMBER + " WHERE m.list_id = :list_id ORDER BY m.role DESC, m.added_at, m.user_id")
ONE_MEMBER = text(MEMBER + " WHERE m.list_id = :list_id AND m.user_id = :user_id")
CHANGE_ROLE = text("""
UPDATE list_members SET role = CAST(:role AS list_role) WHERE list_id = :list_id AND user_id = :user_id
RETURNING user_id, role, added_at
""")
# Ownership handed over in one statement (the one-owner constraint is checked at its end): the
# member becomes owner, the owner an admin.
HAND_OVER = text("""
UPDATE list_members SET role = CASE WHEN user_id = :user_id THEN 'owner'::list_role ELSE 'admin'::list_role END
WHERE list_id = :list_id AND (user_id = :user_id OR role = 'owner')
RETURNING user_id, role, added_at
""")
REMOVE_MEMBER = text("DELETE FROM list_members WHERE list_id = :list_id AND user_id = :user_id RETURNING user_id")
# The lock a departure takes (list_members_remember_departure, sql/01_schema.sql), taken before
# the member's row is: a task being added to the list, assigned to that member, holds the lock
# shared and then needs their row (its foreign key); taken after the row, the two would wait on
# each other.
LOCK_FOR_DEPARTURE = text("SELECT 1 FROM pg_advisory_xact_lock(hashtextextended('taskapp.list ' || "
                          "CAST(:list_id AS text), 0))")

INVITATION = """
SELECT i.id, i.list_id, l.name AS list_name, i.invitee_id, i.role::text AS role, i.invited_by, i.created_at,
       i.expires_at
FROM list_invitations i LEFT JOIN lists l ON l.id = i.list_id
"""
# The list's name is shown to an invitee who cannot see the list yet: read through the
# invitation, which the policies let them see.
INVITATION_FOR_INVITEE = """
SELECT i.id, i.list_id, i.list_name, i.invitee_id, i.role::text AS role, i.invited_by, i.created_at, i.expires_at
FROM list_invitations i
"""
LIST_INVITATIONS = text(INVITATION + " WHERE i.list_id = :list_id AND i.expires_at > now()"
                        " ORDER BY i.created_at DESC, i.id DESC")
MY_INVITATIONS = text(INVITATION_FOR_INVITEE + " WHERE i.invitee_id = (SELECT verified_user_id())"
                      " AND i.expires_at > now() ORDER BY i.created_at DESC, i.id DESC")
MY_INVITATION = text(INVITATION_FOR_INVITEE
                     + " WHERE i.id = :invitation_id AND i.invitee_id = (SELECT verified_user_id())")
# An invitation replaces the list's earlier one to the same user (a new role, a new expiry);
# the list's expired ones go at the same time.
CLEAR_INVITATIONS = text("""
DELETE FROM list_invitations WHERE list_id = :list_id AND (invitee_id = :invitee_id OR expires_at <= now())
""")
INVITE = text("""
INSERT INTO list_invitations (list_id, list_name, invitee_id, role, expires_at)
SELECT l.id, l.name, :invitee_id, CAST(:role AS list_role), now() + make_interval(days => :days)
FROM lists l WHERE l.id = :list_id
RETURNING id
""")
ONE_INVITATION = text(INVITATION + " WHERE i.id = :invitation_id")
# Revoking is done from the list (whose admins may): the invitee, whom the policy lets delete it
# too (declining), does not see the list, so finds nothing to revoke here.
REVOKE = text("""
DELETE FROM list_invitations
WHERE list_id = :list_id AND id = :invitation_id AND EXISTS (SELECT FROM lists l WHERE l.id = :list_id)
RETURNING id
""")
DECLINE = text("DELETE FROM list_invitations WHERE id = :invitation_id AND invitee_id = (SELECT verified_user_id())"
               " RETURNING id")
# Accepting: the invitee adds themselves with the invitation's role (the policy checks that an
# unexpired invitation says so), and the invitation goes. No RETURNING: the new member row
# passes the SELECT policy only once the membership copy has it, after the row.
ACCEPT = text("""
INSERT INTO list_members (list_id, user_id, role)
SELECT i.list_id, i.invitee_id, i.role FROM list_invitations i
WHERE i.id = :invitation_id AND i.invitee_id = (SELECT verified_user_id()) AND i.expires_at > now()
""")
FORGET_INVITATION = text("DELETE FROM list_invitations WHERE id = :invitation_id")
