"""sql/audit.sql, run with psql as a DBA would, passes a sound database and fails a weakened one."""

import subprocess

import psycopg
from identity import IDENTITY_KEY

from taskapp.config import sqlalchemy_url
from taskapp.embedded import binaries
from taskapp.schema import SQL_DIR, upgrade


def psql_binary() -> str:
    """The embedded server ships psql beside it, so the audit runs wherever the tests run."""
    return str(binaries() / "psql")


def audit(url: str) -> str:
    result = subprocess.run(
        [psql_binary(), url, "-X", "-v", "ON_ERROR_STOP=1", "-f", str(SQL_DIR / "audit.sql")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_audit_passes_the_migrated_database(database):
    report = audit(database.admin_url)
    assert "VERDICT: PASS" in report
    for policy in ("Tasks are visible to their owner", "Tasks can be deleted by their owner"):
        assert policy in report
    assert "verified_user_id()" in report
    server = report.split("== Tables")[0]
    assert "server_version" in server and "PostgreSQL" in server


def test_the_audit_fails_a_weakened_database(fresh_database):
    url = fresh_database()
    upgrade(sqlalchemy_url(url), identity_key=IDENTITY_KEY)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("alter table tasks no force row level security")
        conn.execute("grant truncate on tasks to taskapp_app")
        conn.execute('drop policy "Tasks can be deleted by their owner" on tasks')
    report = audit(url)
    verdict = next(line for line in report.splitlines() if "VERDICT" in line)
    assert "FAIL" in verdict
    assert "not forced" in verdict
    assert "taskapp_app may TRUNCATE tasks" in verdict
    assert "no DELETE policy" in verdict


def test_taskapp_audit_prints_the_report_and_passes(database):
    from test_cli import taskapp

    result = taskapp("audit", DATABASE_ADMIN_URL=database.admin_url)
    assert result.returncode == 0, result.stderr
    assert "Tasks can be changed by their owner and stay theirs" in result.stdout
    assert "== Grants on tasks" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "VERDICT: PASS"


def test_taskapp_audit_exits_non_zero_on_a_weakened_database(fresh_database):
    from test_cli import taskapp

    url = fresh_database()
    upgrade(sqlalchemy_url(url), identity_key=IDENTITY_KEY)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("alter role taskapp_app bypassrls")
    try:
        result = taskapp("audit", DATABASE_ADMIN_URL=url)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("alter role taskapp_app nobypassrls")
    assert result.returncode == 1
    assert "taskapp_app can bypass row-level security" in result.stdout.strip().splitlines()[-1]
