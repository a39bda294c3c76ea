"""Clients generated from the served OpenAPI document, used as docs/generated-clients.md shows.

Python: openapi-python-client (pinned in pyproject's `test` extra) generates a package from
`/api/openapi.json`; the page's session (tests/system/clients/python/session.py) and the checks
beside it (strict.py) pass `mypy --strict`, and the session runs against `taskapp serve` with a
real token.

TypeScript: openapi-typescript generates the types and openapi-fetch is the client (pinned in
tests/system/clients/package.json and its lock file, installed with `npm ci`); the page's
session (typescript/session.ts) and the checks beside it (strict.ts) pass
`tsc --strict --noEmit`, and the session, compiled, runs on Node.js against the same server.

npm is required: without it the test fails (CI has Node.js), it is not skipped. The page shows
these files as they are: a test here holds its code blocks equal to them.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.served import Served
from tests.support.users import new_user

CLIENTS = Path(__file__).resolve().parent / "clients"
PAGE = Path(__file__).resolve().parents[2] / "docs" / "generated-clients.md"
VENV_BIN = Path(sys.executable).parent  # openapi-python-client, and the ruff it formats with
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# What both sessions print, in order: the task made, listed, completed, seen in a full sync as
# it is (an upsert), deleted, then seen gone in the changes since (a delete).
SESSION = [
    r"created 'Write the report' \(medium, due (None|null)\)",
    r"listed 'Write the report', completed=(False|false)",
    r"completed at \d{4}-\d\d-\d\d.+",
    r"feed: 'Write the report' is now completed=(True|true)",
    r"deleted: 204",
    rf"feed: task {UUID} is gone",
]


def run(command: list, cwd: Path, timeout: float = 300, **env) -> str:
    """Run a command; its output, or a failure that shows it."""
    environment = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", **env}
    done = subprocess.run([str(part) for part in command], cwd=cwd, env=environment, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(map(str, command))} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def ran_the_session(output: str) -> None:
    lines = output.splitlines()
    assert len(lines) == len(SESSION), output
    for line, expected in zip(lines, SESSION, strict=True):
        assert re.fullmatch(expected, line), (line, expected)


@pytest.fixture(scope="module")
def served_api(database):
    server = Served(database.app_url, workers=1, threads=4)
    yield server
    server.close()


@pytest.fixture(scope="session")
def node_project(tmp_path_factory) -> Path:
    """A copy of tests/system/clients with its locked packages installed (`npm ci`), once a session."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is not on PATH: the TypeScript client needs Node.js 20+ and npm (CI has them)")
    folder = tmp_path_factory.mktemp("typescript-client")
    for name in ("package.json", "package-lock.json", "tsconfig.json"):
        shutil.copy(CLIENTS / name, folder)
    run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], folder, timeout=600)
    return folder


def test_a_generated_python_client_type_checks_and_runs_the_documented_session(served_api, tmp_path):
    run([VENV_BIN / "openapi-python-client", "generate", "--url", f"{served_api.url}/api/openapi.json",
         "--meta", "none", "--output-path", tmp_path / "taskapp_client",
         "--config", CLIENTS / "python" / "openapi-python-client.yaml", "--fail-on-warning"], tmp_path)
    for name in ("session.py", "strict.py"):
        shutil.copy(CLIENTS / "python" / name, tmp_path)

    run([sys.executable, "-m", "mypy", "--strict", "--cache-dir", tmp_path / ".mypy_cache", "session.py", "strict.py"],
        tmp_path)

    user = new_user("python-client")
    ran_the_session(run([sys.executable, "session.py", served_api.url, user.token], tmp_path, timeout=60))
    assert served_api.request("GET", "/api/me/tasks", headers=user.headers)[2] == []


def test_a_generated_typescript_client_type_checks_and_runs_the_documented_session(served_api, node_project):
    sources = node_project / "typescript"
    shutil.rmtree(sources, ignore_errors=True)
    shutil.copytree(CLIENTS / "typescript", sources)
    bin_ = node_project / "node_modules" / ".bin"
    run([bin_ / "openapi-typescript", f"{served_api.url}/api/openapi.json", "--output", sources / "taskapp.ts"],
        node_project)

    run([bin_ / "tsc", "--strict", "--noEmit", "--project", "."], node_project)

    run([bin_ / "tsc", "--project", "."], node_project)  # the same, compiled for Node.js
    user = new_user("typescript-client")
    runner = node_project / "run.mjs"
    runner.write_text('import { session } from "./out/session.js";\n'
                      "await session(process.argv[2], process.argv[3]);\n")
    ran_the_session(run(["node", runner, served_api.url, user.token], node_project, timeout=60))
    assert served_api.request("GET", "/api/me/tasks", headers=user.headers)[2] == []


def test_the_page_shows_the_code_these_tests_check():
    page = PAGE.read_text()
    shown = set(re.findall(r"^```(\w+)\n(.*?)^```$", page, re.MULTILINE | re.DOTALL))
    for language, name in (("python", "python/session.py"), ("typescript", "typescript/session.ts"),
                           ("yaml", "python/openapi-python-client.yaml"), ("json", "package.json")):
        assert (language, (CLIENTS / name).read_text()) in shown, f"docs/generated-clients.md does not show {name}"
    package = json.loads((CLIENTS / "package.json").read_text())
    for name, version in {**package["dependencies"], **package["devDependencies"]}.items():
        assert f"{name}@{version}" in page, name
    pinned = next(line for line in (PAGE.parents[1] / "pyproject.toml").read_text().splitlines()
                  if '"openapi-python-client' in line)
    assert pinned.strip().strip(",").strip('"') in page
