"""The `taskapp` command: tokens, migrations, and one clear line for bad configuration."""


import jwt
import psycopg
import pytest

from taskapp.config import ConfigError, sqlalchemy_url
from taskapp.database.migrations import head_revision
from tests.support.commands import taskapp
from tests.support.identity import IDENTITY_KEY, IDENTITY_KEY_SECRET
from tests.support.users import SECRET

DATABASE = "postgresql://u@localhost/db"



def test_token_prints_a_token_the_api_accepts(client):
    result = taskapp("token", "carol", "--ttl", "120", JWT_SECRET_KEY=SECRET)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    claims = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert claims["sub"] == "carol"
    assert 0 < claims["exp"] - claims["iat"] <= 120
    assert client.get("/api/carol/tasks", headers={"Authorization": f"Bearer {token}"}).status_code == 200


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"DATABASE_URL": "postgresql://u@localhost/db", "JWT_SECRET_KEY": "short"}, "at least 32 bytes"),
        ({"DATABASE_URL": "postgresql://u@localhost/db"}, "JWT_SECRET_KEY is required"),
        ({"DATABASE_URL": "mysql://u@localhost/db", "JWT_SECRET_KEY": SECRET}, "postgresql://"),
        ({"DATABASE_ADMIN_URL": "postgresql://u@localhost/db", "JWT_SECRET_KEY": SECRET}, "DATABASE_URL"),
        ({"DATABASE_URL": "postgresql://u@localhost/db", "JWT_SECRET_KEY": SECRET,
          "DATABASE_POOL_SIZE": "many"}, "DATABASE_POOL_SIZE"),
        ({"DATABASE_URL": DATABASE, "JWT_ALGORITHM": "RS256"}, "needs exactly one of JWT_PUBLIC_KEY or JWT_JWKS_URL"),
        ({"DATABASE_URL": DATABASE, "JWT_ALGORITHM": "none", "JWT_SECRET_KEY": SECRET}, "JWT_ALGORITHM must be"),
        ({"DATABASE_URL": DATABASE, "JWT_ALGORITHM": "ES256", "JWT_PUBLIC_KEY": "not a key"}, "JWT_PUBLIC_KEY"),
        ({"DATABASE_URL": DATABASE, "JWT_SECRET_KEY": SECRET}, "TASKAPP_IDENTITY_KEY is required"),
        ({"DATABASE_URL": DATABASE, "JWT_SECRET_KEY": SECRET, "TASKAPP_IDENTITY_KEY": "short"},
         "TASKAPP_IDENTITY_KEY must be at least 32 bytes"),
    ],
    ids=["short secret", "no secret", "not postgres", "admin url only", "bad pool size", "asymmetric without key",
         "unknown algorithm", "bad public key", "no identity key", "short identity key"],
)
def test_bad_configuration_stops_serve_with_one_clear_line(env, fragment):
    result = taskapp("serve", "--port", "1", **env)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr


def test_token_refuses_when_tokens_come_from_an_identity_provider():
    result = taskapp("token", "carol", JWT_ALGORITHM="RS256", JWT_JWKS_URL="https://auth.example.com/jwks")
    assert result.returncode == 2
    assert "tokens come from your identity provider" in result.stderr


def test_token_carries_the_configured_audience_and_issuer(make_app):
    settings = {"JWT_AUDIENCE": "https://tasks.example.com", "JWT_ISSUER": "https://tasks.example.com/auth"}
    result = taskapp("token", "carol", JWT_SECRET_KEY=SECRET, **settings)
    assert result.returncode == 0, result.stderr
    app = make_app(**settings)
    headers = {"Authorization": f"Bearer {result.stdout.strip()}"}
    assert app.test_client().get("/api/me/tasks", headers=headers).status_code == 200


def test_db_upgrade_needs_the_admin_url():
    result = taskapp("db", "upgrade", DATABASE_URL="postgresql://u@localhost/db")
    assert result.returncode == 2
    assert "DATABASE_ADMIN_URL is required" in result.stderr


def test_db_upgrade_reports_an_unreachable_database_in_one_line():
    result = taskapp("db", "upgrade", DATABASE_ADMIN_URL="postgresql://postgres@127.0.0.1:9/none?connect_timeout=2",
                     TASKAPP_IDENTITY_KEY=IDENTITY_KEY_SECRET)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("taskapp: cannot reach the database")


def test_db_upgrade_needs_the_identity_key(fresh_database):
    result = taskapp("db", "upgrade", DATABASE_ADMIN_URL=fresh_database())
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "TASKAPP_IDENTITY_KEY is required" in lines[0], result.stderr


def test_db_upgrade_creates_everything_and_is_safe_to_run_twice(fresh_database):
    admin_url = fresh_database()
    for _ in range(2):
        result = taskapp("db", "upgrade", DATABASE_ADMIN_URL=admin_url, TASKAPP_IDENTITY_KEY=IDENTITY_KEY_SECRET)
        assert result.returncode == 0, result.stderr
        assert f"revision {head_revision()}" in result.stdout
        assert IDENTITY_KEY.key_id in result.stdout
    with psycopg.connect(admin_url) as conn:
        assert conn.execute("select relforcerowsecurity from pg_class where relname = 'tasks'").fetchone()[0]
        assert conn.execute("select count(*) from pg_policies where tablename = 'tasks'").fetchone()[0] == 4


@pytest.mark.parametrize(
    "url, driver_query",
    [
        ("postgres://u:p@db.example.com:5433/app", {}),
        ("postgresql://u:p@db.example.com/app?sslmode=require", {"sslmode": "require"}),
        (
            "postgresql://u:p@ep-x.eu-central-1.aws.neon.tech/neondb?sslmode=require&channel_binding=require",
            {"sslmode": "require", "channel_binding": "require"},
        ),
        ("postgresql://u@/app?host=/var/run/postgresql", {"host": "/var/run/postgresql"}),
    ],
)
def test_libpq_urls_become_psycopg_urls(url, driver_query):
    converted = sqlalchemy_url(url)
    assert converted.drivername == "postgresql+psycopg"
    assert dict(converted.query) == driver_query


@pytest.mark.parametrize("url", ["mysql://u@h/db", "sqlite:///x.db", "http://h", "no scheme"])
def test_other_urls_are_refused(url):
    with pytest.raises(ConfigError):
        sqlalchemy_url(url)


def test_serve_refuses_a_superuser_connection(database):
    result = taskapp("serve", "--port", "1", DATABASE_URL=database.admin_url, JWT_SECRET_KEY=SECRET,
                     TASKAPP_IDENTITY_KEY=IDENTITY_KEY_SECRET)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "refusing to serve" in lines[0] and "superuser" in lines[0], result.stderr


def test_serve_refuses_when_tasks_is_not_forced(fresh_database):
    from sqlalchemy.engine import make_url

    from taskapp.database.migrations import upgrade
    from tests.support.users import APP_PASSWORD, with_database

    admin_url = fresh_database()
    upgrade(sqlalchemy_url(admin_url), identity_key=IDENTITY_KEY)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("alter table tasks no force row level security")
    name = make_url(sqlalchemy_url(admin_url)).database
    app_url = with_database(admin_url, name, "taskapp_app", APP_PASSWORD)
    result = taskapp("serve", "--port", "1", DATABASE_URL=app_url, JWT_SECRET_KEY=SECRET,
                     TASKAPP_IDENTITY_KEY=IDENTITY_KEY_SECRET)
    assert result.returncode == 2
    assert "tasks does not have row-level security enabled and forced" in result.stderr


def test_the_safety_check_passes_the_runtime_role(app):
    from taskapp.database.safety import problems

    extension = app.extensions["taskapp.db"]
    assert problems(extension["engine"], extension["identity_key"]) == []


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"DATABASE_URL": DATABASE}, "WORKER_DATABASE_URL"),
        ({"WORKER_DATABASE_URL": "mysql://u@localhost/db"}, "WORKER_DATABASE_URL must be a postgresql://"),
        ({"WORKER_DATABASE_URL": DATABASE}, "TASKAPP_IDENTITY_KEY is required"),
        ({"WORKER_DATABASE_URL": DATABASE, "TASKAPP_IDENTITY_KEY": IDENTITY_KEY_SECRET,
          "WEBHOOK_RETRY_DELAYS": "5,soon"}, "WEBHOOK_RETRY_DELAYS"),
        ({"WORKER_DATABASE_URL": DATABASE, "TASKAPP_IDENTITY_KEY": IDENTITY_KEY_SECRET,
          "WEBHOOK_ALLOW_PRIVATE": "maybe"}, "WEBHOOK_ALLOW_PRIVATE must be on or off"),
    ],
    ids=["no worker url", "not postgres", "no identity key", "bad retry delays", "bad switch"],
)
def test_bad_configuration_stops_the_worker_with_one_clear_line(env, fragment):
    result = taskapp("worker", **env)
    assert result.returncode == 2
    assert fragment in result.stderr and "Traceback" not in result.stderr


def test_the_worker_without_its_database_says_so_in_one_line(database):
    result = taskapp("worker", WORKER_DATABASE_URL="postgresql://taskapp_worker@127.0.0.1:1/nowhere",
                     TASKAPP_IDENTITY_KEY=IDENTITY_KEY_SECRET, DATABASE_CONNECT_TIMEOUT="2")
    assert result.returncode == 2
    assert "cannot reach the database" in result.stderr and "Traceback" not in result.stderr
