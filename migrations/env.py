"""Alembic environment: migrations run as the admin role, over psycopg 3."""

from alembic import context
from sqlalchemy import create_engine, pool

from taskapp.config import Config, ConfigError
from taskapp.database.migrations import ensure_roles


def admin_url():
    """The URL given by `taskapp db upgrade`, or DATABASE_ADMIN_URL for plain `alembic upgrade`."""
    url = context.config.attributes.get("url")
    if url is not None:
        return url
    config = Config.from_env()
    if config.DATABASE_ADMIN_URL is None:
        raise ConfigError("DATABASE_ADMIN_URL is required to run migrations")
    return config.DATABASE_ADMIN_URL


def run_migrations_offline():
    context.configure(url=admin_url(), literal_binds=True, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    engine = create_engine(admin_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        # Roles live in the cluster, not in a revision: make sure they exist first.
        ensure_roles(connection)
        connection.commit()
        context.configure(connection=connection, transactional_ddl=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
