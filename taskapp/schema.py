"""Roles and migrations: what `taskapp db upgrade` does, and what readiness compares."""

from functools import cache
from importlib.resources import files
from importlib.util import find_spec
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from psycopg import sql
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import URL, Connection

# sql/ and migrations/ travel inside the package (pyproject.toml maps them to taskapp.sql and
# taskapp.migrations), so an installed wheel finds them wherever it runs.
SQL_DIR = files("taskapp.sql")
ROLES_SQL = SQL_DIR / "00_roles.sql"
MIGRATIONS_DIR = Path(find_spec("taskapp.migrations").submodule_search_locations[0])
RUNTIME_ROLE = "taskapp_app"


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


def set_runtime_password(connection: Connection, password: str) -> None:
    """Give taskapp_app a password (utility statements take no bind parameters)."""
    statement = sql.SQL("ALTER ROLE {} PASSWORD {}").format(
        sql.Identifier(RUNTIME_ROLE), sql.Literal(password)
    )
    raw = connection.connection.driver_connection
    connection.exec_driver_sql(statement.as_string(raw))


def upgrade(admin_url: URL, app_password: str | None = None) -> None:
    """Create the roles if missing, set the runtime password if given, migrate to head."""
    engine = create_engine(admin_url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            ensure_roles(connection)
            if app_password:
                set_runtime_password(connection, app_password)
    finally:
        engine.dispose()
    command.upgrade(alembic_config(admin_url), "head")
