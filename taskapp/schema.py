"""Roles and migrations: what `taskapp db upgrade` does, and what readiness compares."""

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from psycopg import sql
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import URL, Connection

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = PROJECT_ROOT / "sql"
ROLES_SQL = SQL_DIR / "00_roles.sql"
RUNTIME_ROLE = "taskapp_app"


def alembic_config(admin_url: URL | None = None) -> AlembicConfig:
    """Alembic's configuration from pyproject.toml's [tool.alembic] table."""
    config = AlembicConfig(toml_file=PROJECT_ROOT / "pyproject.toml")
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
