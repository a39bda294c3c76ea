"""Refuse to serve from a connection that row-level security would not bind; and readiness.

Checked at start-up, as the runtime role: a superuser or BYPASSRLS role, the owner of `tasks`,
a `tasks` table whose RLS is not enabled and forced, or a session that starts with an
identity already set would make the isolation guarantee void; a database that does not
accept the application's identity key would answer every request with nothing.
"""

import time

import psycopg
from sqlalchemy import Connection, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from taskapp.config import ConfigError
from taskapp.database.migrations import head_revision
from taskapp.database.statements import as_sqlalchemy_error
from taskapp.identity.proof import PROOF_SECONDS, SET_IDENTITY, IdentityKey, act_as

# Custom settings are not listed in pg_settings: the two identity settings are asked by name.
PRESET_IDENTITY = text(
    "select concat_ws(' and ', case when current_setting('app.user_id', true) <> '' then 'app.user_id' end,"
    " case when current_setting('app.identity_proof', true) <> '' then 'app.identity_proof' end)"
)
HAS_VERIFIER = text("select to_regprocedure('public.verified_user_id()') is not null")
VERIFIED = text("select verified_user_id(), extract(epoch from now())::float8")
PROBE_USER = "taskapp-identity-check"

ROLE_AND_TABLE = text(
    """
    select r.rolname, r.rolsuper, r.rolbypassrls,
           c.oid is not null as has_tasks,
           coalesce(c.relowner = r.oid, false) as owns_tasks,
           coalesce(c.relrowsecurity and c.relforcerowsecurity, false) as tasks_forced
    from pg_roles r
    left join pg_class c on c.oid = to_regclass('public.tasks')
    where r.rolname = current_user
    """
)


class UnsafeDatabase(ConfigError):
    """The runtime connection could see or change every user's tasks."""


def identity_problem(connection: Connection, key: IdentityKey) -> str | None:
    """Why the database would not believe this application's identities, or None.

    Asks verified_user_id() about a proof made with `key`, in a transaction rolled back.
    """
    if not connection.execute(HAS_VERIFIER).scalar():
        connection.rollback()
        return None  # not migrated yet: readiness says so
    try:
        act_as(connection.connection.driver_connection, key, PROBE_USER)
    except psycopg.Error as error:  # a lost database stays SQLAlchemy's error (503), as every statement's
        raise as_sqlalchemy_error(connection, error, SET_IDENTITY) from None
    verified, database_now = connection.execute(VERIFIED).one()
    connection.rollback()
    if verified == PROBE_USER:
        return None
    skew = time.time() - database_now
    if abs(skew) > PROOF_SECONDS / 2:
        return (f"this host's clock and the database's differ by {abs(skew):.0f} s; "
                f"identity proofs last {PROOF_SECONDS} s: synchronise the clocks")
    return (f"the database does not accept TASKAPP_IDENTITY_KEY (key {key.key_id}): run `taskapp db upgrade` "
            "with the same key (docs/operators.md, \"Rotating the identity key\")")


def problems(engine: Engine, key: IdentityKey) -> list[str]:
    """What is wrong with the runtime connection; empty when it is safe to serve."""
    with engine.connect() as connection:
        preset = connection.execute(PRESET_IDENTITY).scalar()
        role = connection.execute(ROLE_AND_TABLE).mappings().one()
        connection.rollback()
        identity = identity_problem(connection, key)
    found = []
    if preset:
        found.append(f"the runtime connection starts with {preset} already set (in its URL's options or "
                     "by ALTER ROLE/DATABASE … SET): an identity must only ever be set per transaction")
    if role["rolsuper"]:
        found.append(f"role {role['rolname']} is a superuser")
    if role["rolbypassrls"]:
        found.append(f"role {role['rolname']} has BYPASSRLS")
    if role["owns_tasks"]:
        found.append(f"role {role['rolname']} owns tasks")
    if role["has_tasks"] and not role["tasks_forced"]:
        found.append("tasks does not have row-level security enabled and forced")
    if identity:
        found.append(identity)
    return found


def refuse_unsafe(engine: Engine, key: IdentityKey) -> None:
    """Raise UnsafeDatabase when the connection is unsafe; an unreachable database is left to /readyz."""
    try:
        found = problems(engine, key)
    except OperationalError:
        return
    if found:
        raise UnsafeDatabase("refusing to serve: " + "; ".join(found))


MIGRATED_REVISION = text("select version_num from alembic_version")


def is_ready(engine: Engine, key: IdentityKey) -> bool:
    """The database answers, its schema is at the code's head, and it accepts our identity key.

    Asked as the runtime role, on one connection.
    """
    with engine.connect() as connection:
        if connection.execute(MIGRATED_REVISION).scalar() != head_revision():
            return False
        return identity_problem(connection, key) is None
