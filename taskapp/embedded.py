"""The embedded default: a PostgreSQL server from the pgserver wheel, kept under TASKAPP_DATA_DIR.

Used when neither DATABASE_URL nor DATABASE_ADMIN_URL is set. Its data and the generated
JWT secret survive restarts.
"""

import os
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import URL, make_url

DATABASE_NAME = "taskapp"
SECRET_FILE = "jwt_secret"


@dataclass(frozen=True)
class EmbeddedDatabase:
    admin_url: URL
    app_url: URL
    data_dir: Path


def default_data_dir() -> Path:
    """The Flask instance folder of the taskapp package."""
    return Path(Flask("taskapp").instance_path)


def data_dir(configured: str | None) -> Path:
    path = Path(configured).expanduser() if configured else default_data_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def stored_secret(directory: Path) -> str:
    """The JWT secret kept in the data folder, generated on first use."""
    path = directory / SECRET_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def start(directory: Path) -> EmbeddedDatabase:
    """Start (or reuse) the embedded server and make sure the taskapp database exists."""
    with warnings.catch_warnings():
        # pgserver looks up a per-user runtime folder at import and warns when
        # XDG_RUNTIME_DIR is unset (usual on servers); its fallback is fine.
        warnings.simplefilter("ignore")
        import pgserver  # imported here: only the embedded default needs it

    server = pgserver.get_server(directory / "pgdata", cleanup_mode="stop")
    server_url = make_url(server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1))
    engine = create_engine(server_url, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.execute(
                text("select 1 from pg_database where datname = :name"), {"name": DATABASE_NAME}
            ).scalar()
            if not exists:
                connection.exec_driver_sql(f'CREATE DATABASE "{DATABASE_NAME}"')
    finally:
        engine.dispose()
    admin_url = server_url.set(database=DATABASE_NAME)
    return EmbeddedDatabase(
        admin_url=admin_url,
        app_url=admin_url.set(username="taskapp_app", password=None),
        data_dir=directory,
    )


def configure(config) -> EmbeddedDatabase:
    """Start the embedded server, bring its schema to head, and point `config` at it."""
    from taskapp.schema import upgrade

    database = start(data_dir(config.TASKAPP_DATA_DIR))
    upgrade(database.admin_url, config.TASKAPP_APP_PASSWORD)
    config.DATABASE_URL = database.app_url
    config.DATABASE_ADMIN_URL = database.admin_url
    if config.JWT_SECRET_KEY is None:
        config.JWT_SECRET_KEY = stored_secret(database.data_dir)
    config.EMBEDDED_DATABASE = database
    return database
