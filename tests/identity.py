"""Acting as a user in SQL, as the application does: `app.user_id` and its proof.

The tests hold the identity key the test databases are migrated with, as the application
does; SQL as taskapp_app without it (tests/test_forged_identity.py) sees nothing.
"""

from taskapp.identity import IdentityKey

IDENTITY_KEY_SECRET = "taskapp-test-identity-key-" + "0123456789abcdef" * 2
IDENTITY_KEY = IdentityKey(IDENTITY_KEY_SECRET)
SET_IDENTITY = "select set_config('app.user_id', %s, true), set_config('app.identity_proof', %s, true)"


def act_as(conn, user_id, key: IdentityKey = IDENTITY_KEY, now: float | None = None):
    """Set `user_id` with a proof made by `key` for the rest of conn's transaction."""
    proof = None if user_id is None else key.proof(user_id, now)
    conn.execute(SET_IDENTITY, (user_id, proof))
