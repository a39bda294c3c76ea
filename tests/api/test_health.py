"""Liveness while the process runs; readiness only when the database answers at head."""

from taskapp.database.migrations import head_revision, upgrade
from tests.support.identity import IDENTITY_KEY


def test_healthz_is_200(client):
    assert client.get("/healthz").json == {"status": "ok"}


def test_readyz_is_200_when_migrated_to_head(client):
    assert client.get("/readyz").json == {"status": "ready"}


def test_readyz_is_503_when_the_database_is_not_migrated(make_app, fresh_database):
    from sqlalchemy.engine import make_url

    from taskapp.config import sqlalchemy_url
    from tests.support.users import APP_PASSWORD, with_database

    admin_url = fresh_database()
    name = make_url(sqlalchemy_url(admin_url)).database
    # Roles exist, but nothing was migrated in this database.
    app = make_app(DATABASE_URL=with_database(admin_url, name, "taskapp_app", APP_PASSWORD))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["code"] == 503
    assert response.headers["Retry-After"]
    assert head_revision() is not None
    # Migrating makes the same app ready, with no restart.
    upgrade(sqlalchemy_url(admin_url), identity_key=IDENTITY_KEY)
    assert app.test_client().get("/readyz").status_code == 200


def test_readyz_is_503_when_the_database_is_unreachable(make_app):
    app = make_app(DATABASE_URL="postgresql://taskapp_app@127.0.0.1:9/taskapp", DATABASE_CONNECT_TIMEOUT=2)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503


def test_api_requests_are_503_with_retry_after_when_the_database_is_unreachable(make_app, alice):
    app = make_app(DATABASE_URL="postgresql://taskapp_app@127.0.0.1:9/taskapp", DATABASE_CONNECT_TIMEOUT=2)
    response = app.test_client().get("/api/me/tasks", headers=alice.headers)
    assert response.status_code == 503
    assert response.json["code"] == 503
    assert response.headers["Retry-After"]
