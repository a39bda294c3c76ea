"""The identity proof: what lets the database believe `app.user_id`.

Every transaction sets, beside `app.user_id`, the setting `app.identity_proof`:

    v1.<key id>.<expires>.<HMAC-SHA256(key, "<expires>.<user id>") in hex>

`expires` is a Unix time a minute ahead. The policies compare the owner column with
`verified_user_id()` (sql/02_policies.sql), which returns `app.user_id` only when the proof
verifies under a key stored in `taskapp_private.identity_keys` (readable by the owner alone)
and has not expired. SQL running as taskapp_app can set `app.user_id` to anything, but
without the key it cannot make the proof, and sees nothing.

The database stores the key as HMAC's two padded keys (RFC 2104: the key XOR 0x36 and XOR
0x5c, 64 bytes each), so that `verified_user_id()` computes HMAC-SHA256 with the built-in
`sha256()` alone: no extension to install, on every PostgreSQL the project supports.
"""

import hashlib
import hmac
import time
import weakref

from psycopg import sql

VERSION = "v1"
PROOF_SECONDS = 60
MIN_KEY_BYTES = 32
BLOCK = 64  # SHA-256's block size: HMAC pads its key to this many bytes


class InvalidIdentityKey(ValueError):
    """TASKAPP_IDENTITY_KEY is missing or too short; the message is one line for the operator."""


def set_identity_sql(user_id: str = "%s", proof: str = "%s") -> str:
    """The statement that makes a transaction act as a user, with the given placeholders.

    Transaction-local (`set_config`'s third argument): the settings end with the transaction,
    so a pooled connection never carries one user's identity into the next. Requests, the
    worker, the start-up check, the tests and the benchmark all run this one statement.
    """
    return (f"select set_config('app.user_id', {user_id}, true), "
            f"set_config('app.identity_proof', {proof}, true)")


SET_IDENTITY = set_identity_sql()

# On a Citus coordinator the identity must reach the workers, whose shards' policies verify
# it, and Citus passes on only SET LOCAL (with citus.propagate_set_commands = 'local'), which
# takes no parameters: the values are quoted into the statement instead.
SET_IDENTITY_ON_CITUS = sql.SQL(
    "SET LOCAL citus.propagate_set_commands = 'local'; "
    "SET LOCAL app.user_id = {}; SET LOCAL app.identity_proof = {}"
)
IS_CITUS = "select exists (select from pg_extension where extname = 'citus')"
# Whether each connection's database is a Citus coordinator's: asked once per connection.
_on_citus: "weakref.WeakKeyDictionary[object, bool]" = weakref.WeakKeyDictionary()


class IdentityKey:
    """TASKAPP_IDENTITY_KEY: signs the identity of every transaction."""

    def __init__(self, secret: str | None, name: str = "TASKAPP_IDENTITY_KEY"):
        if not secret:
            raise InvalidIdentityKey(
                f"{name} is required: at least {MIN_KEY_BYTES} bytes, the same for `taskapp db upgrade` "
                "and `taskapp serve` (e.g. the output of `openssl rand -hex 32`)"
            )
        raw = secret.encode()
        if len(raw) < MIN_KEY_BYTES:
            raise InvalidIdentityKey(f"{name} must be at least {MIN_KEY_BYTES} bytes long")
        self._key = raw
        # Public: names the key in proofs and in the database; reveals nothing of it.
        self.key_id = hashlib.sha256(b"taskapp identity key id:" + raw).hexdigest()[:16]

    def proof(self, user_id: str, now: float | None = None) -> str:
        """The proof for `user_id`, valid for PROOF_SECONDS from `now`."""
        expires = int(now if now is not None else time.time()) + PROOF_SECONDS
        signature = hmac.new(self._key, f"{expires}.{user_id}".encode(), hashlib.sha256).hexdigest()
        return f"{VERSION}.{self.key_id}.{expires}.{signature}"

    def pads(self) -> tuple[bytes, bytes]:
        """HMAC's inner and outer padded keys, as the database stores them."""
        key = hashlib.sha256(self._key).digest() if len(self._key) > BLOCK else self._key
        key = key.ljust(BLOCK, b"\0")
        return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)

    def __repr__(self) -> str:  # never the key itself
        return f"IdentityKey({self.key_id})"


def on_citus(connection) -> bool:
    """Whether the psycopg connection's database is a Citus coordinator's (asked once)."""
    found = _on_citus.get(connection)
    if found is None:
        found = _on_citus[connection] = connection.execute(IS_CITUS).fetchone()[0]
    return found


def act_as(connection, key: IdentityKey, user_id: str, now: float | None = None) -> None:
    """The first statement of a transaction: act as `user_id`, with a proof made by `key`.

    `connection`: a psycopg connection inside its transaction. The proof is what makes the
    database believe the user id (verified_user_id() in sql/01_schema.sql).
    """
    proof = key.proof(user_id, now)
    if on_citus(connection):
        connection.execute(SET_IDENTITY_ON_CITUS.format(sql.Literal(user_id), sql.Literal(proof)))
    else:
        connection.execute(SET_IDENTITY, (user_id, proof))
