"""Fixtures: a real PostgreSQL (embedded, or TEST_DATABASE_ADMIN_URL), a migrated database,
the app connected as taskapp_app, and users with tokens.

Every test makes its own users (random `sub`), so row-level security alone keeps tests
apart: no table is ever truncated between them.
"""

import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from taskapp.app import create_app
from taskapp.config import sqlalchemy_url
from taskapp.database.embedded import embedded_postgres
from taskapp.database.migrations import upgrade
from tests.support.citus import CITUS_ADMIN_URL, create_citus_database, drop_citus_database
from tests.support.identity import IDENTITY_KEY, IDENTITY_KEY_SECRET
from tests.support.sharing import Sharing
from tests.support.users import (
    APP_PASSWORD,
    SECRET,
    WORKER_PASSWORD,
    User,
    create_database,
    drop_database,
    new_user,
    with_database,
)

TIERS = Path(__file__).parent
# The suite sends faster than any honest client, from one address: its apps get budgets it never
# meets, except where a test sets its own (tests/api/test_rate_limits.py).
UNLIMITED = {"TASKAPP_RATE_LIMIT": "1000000/second", "TASKAPP_ANONYMOUS_RATE_LIMIT": "1000000/second"}


def pytest_collection_modifyitems(config, items):
    """Tests under tests/system/ drive real processes (servers, workers, browsers): marked `system`,
    so that a quick loop can leave them out (`pytest -m "not system"`)."""
    system = TIERS / "system"
    for item in items:
        if system in Path(item.fspath).parents:
            item.add_marker(pytest.mark.system)


@dataclass(frozen=True)
class MigratedDatabase:
    admin_url: str  # libpq URL of the owner (migrations)
    app_url: str  # libpq URL of taskapp_app
    worker_url: str  # libpq URL of taskapp_worker


@pytest.fixture(scope="session")
def server_admin_url():
    """A superuser URL of a real PostgreSQL server: TEST_DATABASE_ADMIN_URL or an embedded one."""
    configured = os.environ.get("TEST_DATABASE_ADMIN_URL")
    if configured:
        yield configured
        return
    folder = tempfile.mkdtemp(prefix="taskapp-test-")
    pgdata = os.path.join(folder, "pgdata")
    # The suite's session-wide apps, served processes and workers hold more connections at once
    # than initdb's default of 100 allows: made once, then started again with room for them.
    made = embedded_postgres().get_server(pgdata, cleanup_mode="stop")
    with psycopg.connect(made.get_uri(), autocommit=True) as conn:
        conn.execute("alter system set max_connections = 300")
    made.cleanup()
    server = embedded_postgres().get_server(pgdata, cleanup_mode="delete")
    yield server.get_uri()
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def fresh_database(server_admin_url):
    """Factory: an empty database on the test server, dropped at the end of the session.

    With TEST_CITUS_ADMIN_URL, a distributed database on that Citus coordinator and its
    workers instead: the suite then runs through the coordinator (tests/support/citus.py).
    """
    names = []
    if CITUS_ADMIN_URL:
        create, drop, admin_url = create_citus_database, drop_citus_database, CITUS_ADMIN_URL
    else:
        create, drop, admin_url = create_database, drop_database, server_admin_url

    def make() -> str:
        name = f"taskapp_test_{uuid.uuid4().hex[:12]}"
        names.append(name)
        return create(admin_url, name)

    yield make
    for name in names:
        drop(admin_url, name)


@pytest.fixture(scope="session")
def database(fresh_database) -> MigratedDatabase:
    """A database migrated to head exactly as `taskapp db upgrade` does it."""
    admin_url = fresh_database()
    upgrade(sqlalchemy_url(admin_url), APP_PASSWORD, IDENTITY_KEY, WORKER_PASSWORD)
    name = make_url(sqlalchemy_url(admin_url)).database
    return MigratedDatabase(
        admin_url=admin_url,
        app_url=with_database(admin_url, name, "taskapp_app", APP_PASSWORD),
        worker_url=with_database(admin_url, name, "taskapp_worker", WORKER_PASSWORD),
    )


@pytest.fixture(scope="session")
def make_app(database):
    """Factory: an app connected as taskapp_app, with config overrides."""

    apps = []

    def make(**overrides):
        config = {
            "TESTING": True,
            "DATABASE_URL": database.app_url,
            "JWT_SECRET_KEY": SECRET,
            "TASKAPP_IDENTITY_KEY": IDENTITY_KEY_SECRET,
            **UNLIMITED,
        }
        config.update(overrides)
        apps.append(create_app(config))
        return apps[-1]

    yield make
    for made in apps:
        made.extensions["taskapp.db"]["engine"].dispose()


@pytest.fixture(scope="session")
def app(make_app):
    return make_app()


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def local_client(make_app):
    """A client of an app that allows private webhook addresses (as local development and tests do)."""
    return make_app(WEBHOOK_ALLOW_PRIVATE=True).test_client()


@pytest.fixture()
def alice() -> User:
    return new_user("alice")


@pytest.fixture()
def bob() -> User:
    return new_user("bob")


@pytest.fixture()
def create_task(client):
    """Create a task through the API as `user` and return its JSON."""

    def create(user: User, **fields):
        fields.setdefault("title", "A task")
        response = client.post("/api/me/tasks", json=fields, headers=user.headers)
        assert response.status_code == 201, response.json
        return response.json

    return create


@pytest.fixture()
def sharing(client):
    """The sharing calls (lists, invitations, members) as a client makes them (tests/support/sharing.py)."""
    return Sharing(client)


@pytest.fixture()
def app_sql(database):
    """A psycopg connection as taskapp_app, exactly as the app connects; rolled back after."""
    with psycopg.connect(database.app_url) as conn:
        yield conn
        conn.rollback()


@pytest.fixture()
def worker_sql(database):
    """A psycopg connection as taskapp_worker, as `taskapp worker` connects; rolled back after."""
    with psycopg.connect(database.worker_url) as conn:
        yield conn
        conn.rollback()


@pytest.fixture()
def admin_sql(database):
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        yield conn
