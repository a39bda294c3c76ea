"""Deployed as every platform deploys it: a built wheel in a fresh virtual environment, run from
a folder that has nothing to do with the checkout."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from taskapp.config import sqlalchemy_url
from taskapp.database.migrations import head_revision
from tests.support.commands import Server, request
from tests.support.identity import IDENTITY_KEY_SECRET
from tests.support.served import CONFIG_VARIABLES, Served, free_port
from tests.support.users import APP_PASSWORD, SECRET, with_database

CHECKOUT = Path(__file__).resolve().parents[2]
NOT_SHIPPED = shutil.ignore_patterns(
    ".git", ".venv", "instance", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis",
    "test-artifacts", "results",
)


class Installed:
    """A venv holding only the wheel (and what it depends on); commands run in `folder`."""

    def __init__(self, root: Path):
        names = ("source", "wheels", "venv", "elsewhere", "home")
        source, wheels, self.venv, self.folder, self.home = (root / name for name in names)
        self.folder.mkdir()
        self.home.mkdir()
        shutil.copytree(CHECKOUT, source, ignore=NOT_SHIPPED)
        self.check(sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", wheels, source)
        (self.wheel,) = wheels.glob("taskapp-*.whl")
        shutil.rmtree(source)
        self.check(sys.executable, "-m", "venv", self.venv)
        self.check(self.venv / "bin" / "pip", "install", "--quiet", self.wheel)
        self.program = (str(self.venv / "bin" / "taskapp"),)

    def check(self, *command):
        done = subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    def environment(self, **env) -> dict:
        """Only what a test gives, and a home of its own: the user's data folder is never the real one."""
        clean = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES and k != "PYTHONPATH"}
        return clean | {"HOME": str(self.home), "XDG_DATA_HOME": str(self.home / ".local" / "share")} | env

    def run(self, *args, program=None, **env) -> subprocess.CompletedProcess:
        """`taskapp ARGS` (or another program of the venv) in the unrelated folder, with only `env` configured."""
        command = [*(program or self.program), *args]
        return subprocess.run(command, cwd=self.folder, env=self.environment(**env), capture_output=True, text=True,
                              timeout=300)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    return Installed(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def external(fresh_database):
    """A database of the test server that nothing has migrated yet: (owner URL, taskapp_app URL)."""
    admin_url = fresh_database()
    name = make_url(sqlalchemy_url(admin_url)).database
    return admin_url, with_database(admin_url, name, "taskapp_app", APP_PASSWORD)


def test_the_wheel_carries_the_sql_and_the_migrations_and_runs_from_site_packages(installed):
    python = (str(installed.venv / "bin" / "python"),)
    code = ("import taskapp, taskapp.database.migrations as s; print(taskapp.__file__); "
            "print(s.SQL_DIR / 'audit.sql'); print(s.MIGRATIONS_DIR); print(s.head_revision())")
    done = installed.run("-c", code, program=python)
    assert done.returncode == 0, done.stderr
    package, audit_sql, migrations, head = done.stdout.split()
    site_packages = str(installed.venv / "lib")
    assert all(path.startswith(site_packages) for path in (package, audit_sql, migrations))
    assert Path(audit_sql).is_file() and (Path(migrations) / "versions").is_dir()
    assert head == head_revision()


def test_upgrade_serve_token_audit_and_openapi_work_from_any_folder_on_an_external_database(installed, external):
    admin_url, app_url = external
    upgraded = installed.run("db", "upgrade", DATABASE_ADMIN_URL=admin_url, TASKAPP_APP_PASSWORD=APP_PASSWORD,
                             TASKAPP_IDENTITY_KEY=IDENTITY_KEY_SECRET)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "Database is at revision" in upgraded.stdout

    token = installed.run("token", "wheel-user", JWT_SECRET_KEY=SECRET)
    assert token.returncode == 0, token.stderr
    headers = {"Authorization": f"Bearer {token.stdout.strip()}"}

    server = Served(app_url, workers=1, threads=2, program=installed.program, cwd=installed.folder,
                    mcp_port=free_port())
    try:
        status, _, created = server.request("POST", "/api/me/tasks", {"title": "Shipped as a wheel"}, headers)
        assert status == 201, created
        status, _, listed = server.request("GET", "/api/me/tasks", headers=headers)
        assert status == 200 and [task["id"] for task in listed] == [created["id"]]
        assert server.request("GET", "/readyz")[0] == 200
        # The MCP server beside it: up, and asking for a token.
        status, answer_headers = server.wait_for_mcp()
        assert status == 401 and "resource_metadata=" in answer_headers["WWW-Authenticate"]
    finally:
        assert server.stop() == 0

    audit = installed.run("audit", DATABASE_ADMIN_URL=admin_url)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert audit.stdout.strip().endswith("VERDICT: PASS")

    openapi = installed.run("openapi", "print", DATABASE_URL=app_url, JWT_SECRET_KEY=SECRET,
                            TASKAPP_IDENTITY_KEY=IDENTITY_KEY_SECRET)
    assert openapi.returncode == 0, openapi.stderr
    assert '"/api/{user_id}/tasks"' in openapi.stdout

    as_module = installed.run("-m", "taskapp", "--help", program=(str(installed.venv / "bin" / "python"),))
    assert as_module.returncode == 0 and "db" in as_module.stdout and "serve" in as_module.stdout


def test_the_embedded_default_runs_from_the_wheel_with_a_data_folder_of_its_own(installed, tmp_path):
    data = tmp_path / "data"
    server = Server(data, program=installed.program, cwd=installed.folder, HOME=str(installed.home))
    try:
        status, task = request("POST", server.base + "/api/me/tasks", server.token, {"title": "embedded"})
        assert status == 201, task
    finally:
        server.stop()
    assert (data / "pgdata" / "PG_VERSION").read_text().strip() == "18"
    token = installed.run("token", server.user, TASKAPP_DATA_DIR=str(data))
    assert token.returncode == 0 and token.stdout.strip()


def test_without_a_data_folder_the_embedded_default_keeps_its_data_in_the_users_data_folder(installed, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    upgraded = installed.run("db", "upgrade", HOME=str(home), XDG_DATA_HOME=str(home / ".local" / "share"))
    assert upgraded.returncode == 0, upgraded.stderr
    assert (home / ".local" / "share" / "taskapp" / "pgdata" / "PG_VERSION").is_file()
    assert not any(installed.folder.iterdir()), "nothing is written to the folder it runs from"
    assert not list((installed.venv / "lib").rglob("pgdata")), "nothing is written into site-packages"
