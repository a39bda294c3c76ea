"""Roles and migrations: what `taskapp db upgrade` does, and what readiness compares."""

from functools import cache
from importlib.resources import files
from importlib.util import find_spec
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from psycopg import sql
from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import URL, Connection

from taskapp.config import ConfigError
from taskapp.database import citus
from taskapp.identity.proof import IdentityKey

# sql/ and migrations/ travel inside the package (pyproject.toml maps them to taskapp.sql and
# taskapp.migrations), so an installed wheel finds them wherever it runs.
SQL_DIR = files("taskapp.sql")
ROLES_SQL = SQL_DIR / "00_roles.sql"
MIGRATIONS_DIR = Path(find_spec("taskapp.migrations").submodule_search_locations[0])
RUNTIME_ROLE = "taskapp_app"
WORKER_ROLE = "taskapp_worker"


def alembic_config(admin_url: URL | None = None) -> AlembicConfig:
    """Alembic's configuration, made here: an installed package has no pyproject.toml to read.

    `[tool.alembic]` in pyproject.toml says the same for developers running `alembic` in a checkout.
    """
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if admin_url is not None:
        config.attributes["url"] = admin_url
    return config


@cache
def head_revision() -> str | None:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def ensure_roles(connection: Connection) -> None:
    """Create or re-assert the runtime role (idempotent); runs sql/00_roles.sql as written."""
    connection.exec_driver_sql(ROLES_SQL.read_text())


def set_runtime_password(connection: Connection, password: str, role: str = RUNTIME_ROLE) -> None:
    """Give a runtime role a password (utility statements take no bind parameters)."""
    statement = sql.SQL("ALTER ROLE {} PASSWORD {}").format(
        sql.Identifier(role), sql.Literal(password)
    )
    raw = connection.connection.driver_connection
    connection.exec_driver_sql(statement.as_string(raw))


STORE_KEY = text(
    "insert into taskapp_private.identity_keys (key_id, inner_pad, outer_pad) "
    "values (:key_id, :inner_pad, :outer_pad) on conflict (key_id) do nothing"
)
RETIRE_OTHER_KEYS = text("delete from taskapp_private.identity_keys where key_id <> :key_id")


def upgrade(admin_url: URL, app_password: str | None = None, identity_key: IdentityKey | None = None,
            worker_password: str | None = None) -> None:
    """Create the roles if missing, set the runtime roles' passwords if given, migrate to head,
    and store the identity key if given (beside any stored before: see retire_identity_keys)."""
    engine = create_engine(admin_url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            ensure_roles(connection)
            if app_password:
                set_runtime_password(connection, app_password)
            if worker_password:
                set_runtime_password(connection, worker_password, WORKER_ROLE)
        command.upgrade(alembic_config(admin_url), "head")
        with engine.begin() as connection:
            distributed = citus.is_citus(connection)
            if distributed:
                citus.distribute(connection)
        if distributed:
            with engine.begin() as connection:
                citus.nodes(connection)
        if identity_key is not None:
            inner_pad, outer_pad = identity_key.pads()
            with engine.begin() as connection:
                connection.execute(STORE_KEY, {"key_id": identity_key.key_id, "inner_pad": inner_pad,
                                               "outer_pad": outer_pad})
        if distributed:
            with engine.begin() as connection:
                citus.copy_identity_keys(connection)
    finally:
        engine.dispose()


def retire_identity_keys(admin_url: URL, keep: IdentityKey) -> int:
    """Forget every stored identity key but `keep` (the last step of a rotation); how many went."""
    engine = create_engine(admin_url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            if not connection.execute(text("select 1 from taskapp_private.identity_keys where key_id = :key_id"),
                                      {"key_id": keep.key_id}).first():
                raise ConfigError("TASKAPP_IDENTITY_KEY is not stored in the database: run `taskapp db upgrade` "
                                  "with it first, and retire the others once every server uses it")
            retired = connection.execute(RETIRE_OTHER_KEYS, {"key_id": keep.key_id}).rowcount
            if citus.is_citus(connection):
                citus.copy_identity_keys(connection)
            return retired
    finally:
        engine.dispose()
