"""Users and databases of the test server: tokens as any issuer would sign them, and URLs per role."""

import os
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass

import jwt
import psycopg

from taskapp.config import libpq_url, sqlalchemy_url

SECRET = "taskapp-test-secret-" + "0123456789abcdef" * 4
APP_PASSWORD = os.environ.get("TEST_TASKAPP_APP_PASSWORD", "taskapp-test-password")
WORKER_PASSWORD = "taskapp-test-worker-password"


def with_database(url: str, name: str, user: str | None = None, password: str | None = None):
    parsed = sqlalchemy_url(url).set(database=name)
    if user is not None:
        parsed = parsed.set(username=user, password=password)
    return libpq_url(parsed)


def create_database(server_admin_url: str, name: str) -> str:
    with psycopg.connect(server_admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(server_admin_url, name)


def drop_database(server_admin_url: str, name: str) -> None:
    with psycopg.connect(server_admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_token(claims: dict | None = None, secret: str = SECRET, algorithm: str = "HS256", **kw):
    """A token as any issuer signing with the shared key would make it."""
    now = int(time.time())
    payload = {"iat": now, "exp": now + 600}
    payload.update(claims or {})
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, secret, algorithm=algorithm, **kw)


@dataclass(frozen=True)
class User:
    sub: str
    token: str

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}


def new_user(prefix: str = "user") -> User:
    sub = f"{prefix}-{uuid.uuid4().hex[:10]}"
    return User(sub=sub, token=make_token({"sub": sub}))


@contextmanager
def managed_owner_database(server_admin_url: str):
    """(owner URL, app URL) of a new database owned by a role as a managed service gives one:
    CREATEROLE, not a superuser, so FORCE binds it (Neon, RDS). Not migrated; dropped after."""
    owner, name = f"owner_{uuid.uuid4().hex[:8]}", f"taskapp_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {owner} LOGIN CREATEROLE PASSWORD 'owner-password'")
        conn.execute(f'CREATE DATABASE "{name}" OWNER {owner}')
        for role in ("taskapp_app", "taskapp_worker"):  # made earlier in this cluster by another owner
            if conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone():
                conn.execute(f"GRANT {role} TO {owner} WITH ADMIN OPTION")  # as the role's creator has
    try:
        yield (with_database(server_admin_url, name, owner, "owner-password"),
               with_database(server_admin_url, name, "taskapp_app", APP_PASSWORD))
    finally:
        drop_database(server_admin_url, name)
        with psycopg.connect(server_admin_url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {owner} CASCADE")
            conn.execute(f"DROP ROLE {owner}")
