"""Acting as a user in SQL, as the application does: taskapp's own statement and proof.

The tests hold the identity key the test databases are migrated with, as the application
does; SQL as taskapp_app without it (tests/sql/test_forged_identity.py) sees nothing.
"""

from taskapp.identity.proof import SET_IDENTITY, IdentityKey
from taskapp.identity.proof import act_as as act_as_user

IDENTITY_KEY_SECRET = "taskapp-test-identity-key-" + "0123456789abcdef" * 2
IDENTITY_KEY = IdentityKey(IDENTITY_KEY_SECRET)

__all__ = ["IDENTITY_KEY", "IDENTITY_KEY_SECRET", "SET_IDENTITY", "act_as"]


def act_as(conn, user_id, key: IdentityKey = IDENTITY_KEY, now: float | None = None):
    """Act as `user_id` (proved by `key`) for the rest of conn's transaction; None: as nobody."""
    if user_id is None:
        conn.execute(SET_IDENTITY, (None, None))
    else:
        act_as_user(conn, key, user_id, now)
