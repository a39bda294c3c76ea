"""PostgreSQL 16.2 as the previous embedded default (pgserver) shipped it, with two row-level
security bugs: the audit fails it by name, and `taskapp serve` refuses the data folder it made
without touching a byte of it."""

import hashlib
import warnings

import psycopg
import pytest
from test_cli import taskapp

from taskapp.config import libpq_url, sqlalchemy_url
from taskapp.embedded import server_version
from taskapp.schema import upgrade

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    pgserver = pytest.importorskip(
        "pgserver", reason="pgserver (PostgreSQL 16.2) installs with the test extra on x86_64 Python 3.11-3.12 only"
    )


def migrated_old_server(instance):
    """A PostgreSQL 16.2 server on `instance/pgdata`, as the old embedded default ran it, migrated to head."""
    instance.mkdir()
    server = pgserver.get_server(instance / "pgdata", cleanup_mode="stop")
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute('create database "taskapp"')
    admin = sqlalchemy_url(server.get_uri()).set(database="taskapp")
    upgrade(admin)
    return server, libpq_url(admin)


@pytest.fixture(scope="module")
def old_server(tmp_path_factory):
    """A running 16.2 server; yields its owner's URL."""
    server, admin_url = migrated_old_server(tmp_path_factory.mktemp("old-server") / "instance")
    yield admin_url
    server.cleanup()


@pytest.fixture(scope="module")
def old_instance(tmp_path_factory):
    """An `instance/` folder the 16.2 embedded default left behind, its server stopped."""
    instance = tmp_path_factory.mktemp("old-folder") / "instance"
    server, _ = migrated_old_server(instance)
    server.cleanup()
    return instance


def test_the_audit_fails_postgresql_16_2_naming_both_rls_fixes_it_lacks(old_server):
    result = taskapp("audit", DATABASE_ADMIN_URL=old_server)
    assert result.returncode == 1, result.stdout + result.stderr
    verdict = result.stdout.strip().splitlines()[-1]
    assert verdict == (
        "VERDICT: FAIL: "
        "PostgreSQL 16.2 lacks the fix for CVE-2024-10976 (policies under cached plans with subqueries or CTEs): "
        "update to 16.5 or later; "
        "PostgreSQL 16.2 lacks the fix for CVE-2025-8713 (optimizer statistics leak rows that policies hide): "
        "update to 16.10 or later"
    )
    assert "16.2" in result.stdout.split("== Tables")[0]


def snapshot(folder) -> dict:
    """Every file under `folder` with its size, modification time and content hash."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            stat = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns, digest)
    return found


@pytest.mark.parametrize("command", [("serve", "--port", "1"), ("db", "upgrade"), ("audit",)], ids=" ".join)
def test_a_data_folder_of_another_major_version_is_refused_untouched(old_instance, command):
    before = snapshot(old_instance)
    result = taskapp(*command, TASKAPP_DATA_DIR=str(old_instance))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("taskapp: cannot use the data folder: ")
    assert f"holds a PostgreSQL 16 database and the embedded server is PostgreSQL {server_version()}" in lines[0]
    assert "nothing was changed" in lines[0] and "pg_dump and pg_restore" in lines[0]
    assert snapshot(old_instance) == before
