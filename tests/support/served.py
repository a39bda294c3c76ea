"""`taskapp serve` as a real child process (Granian, as deployed), for tests that need one."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from tests.support.identity import IDENTITY_KEY_SECRET
from tests.support.users import SECRET

CONFIG_VARIABLES = (
    "DATABASE_URL", "DATABASE_ADMIN_URL", "JWT_SECRET_KEY", "TASKAPP_SECRET_KEY", "TASKAPP_IDENTITY_KEY",
    "TASKAPP_APP_PASSWORD",
    "TASKAPP_DATA_DIR", "JWT_ALGORITHM", "JWT_PUBLIC_KEY", "JWT_JWKS_URL", "JWT_AUDIENCE", "JWT_ISSUER", "JWT_LEEWAY",
    "METRICS", "METRICS_PORT", "PROMETHEUS_MULTIPROC_DIR", "DATABASE_POOL_SIZE", "DATABASE_POOL_TIMEOUT",
    "DATABASE_CONNECT_TIMEOUT", "DATABASE_PREPARED_STATEMENTS", "CORS_ORIGINS",
    "TASKAPP_WORKER_PASSWORD", "WORKER_DATABASE_URL", "WEBHOOK_ALLOW_PRIVATE", "WEBHOOK_RETRY_DELAYS",
    "TASKAPP_CHANGES_RETENTION_DAYS", "TASKAPP_IDEMPOTENCY_KEY_HOURS", "TASKAPP_RATE_LIMIT",
    "TASKAPP_ANONYMOUS_RATE_LIMIT", "TASKAPP_RATE_LIMIT_STORAGE_URL",
)  # every variable the operator guide's configuration table lists: a child gets only what a test gives


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_request(base_url: str, method: str, path: str, body=None, headers=None, timeout: float = 10):
    """(status, headers, parsed JSON or text) — never raises for an HTTP error status."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base_url + path, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, answer_headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, answer_headers, raw = error.code, error.headers, error.read()
    except http.client.HTTPException as error:  # e.g. the server died mid-answer
        raise ConnectionError(f"broken answer: {error!r}") from None
    text = raw.decode()
    is_json = (answer_headers.get("Content-Type") or "").startswith("application/json")
    return status, answer_headers, json.loads(text) if is_json and text else text


TASKAPP = (sys.executable, "-m", "taskapp")  # the checkout's package, as the suite's own venv has it


class Served:
    """A running `taskapp serve`; its stderr (the JSON logs) is kept in a file.

    `program` is the command that is `taskapp` (another venv's, say) and `cwd` where it runs.
    """

    def __init__(self, app_url: str, workers: int = 2, threads: int = 4, program=TASKAPP, cwd=None,
                 mcp_port: int = 0, **env):
        self.port = free_port()
        self.mcp_port = mcp_port  # the MCP server beside it: none unless a test asks
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile("w+", prefix="taskapp-serve-", suffix=".log", delete=False)
        clean = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
        # Budgets a test's burst never meets, unless the test sets its own.
        clean.update({"DATABASE_URL": app_url, "JWT_SECRET_KEY": SECRET, "TASKAPP_IDENTITY_KEY": IDENTITY_KEY_SECRET,
                      "TASKAPP_RATE_LIMIT": "1000000/second", "TASKAPP_ANONYMOUS_RATE_LIMIT": "1000000/second",
                      **env})
        self.process = subprocess.Popen(
            [*program, "serve", "--port", str(self.port), "--workers", str(workers), "--threads", str(threads),
             "--mcp-port", str(mcp_port)],
            env=clean, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.wait_until_up()

    def wait_until_up(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"taskapp serve exited:\n{self.output()}")
            try:
                if self.request("GET", "/healthz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"taskapp serve did not come up:\n{self.output()}")

    def wait_for_mcp(self, seconds: float = 60):
        """(status, headers) of a token-less POST to the MCP server, once it answers."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                status, headers, _ = http_request(f"http://127.0.0.1:{self.mcp_port}", "POST", "/mcp", {},
                                                  {"Accept": "application/json, text/event-stream"}, timeout=2)
                return status, headers
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def request(self, method: str, path: str, body=None, headers=None, timeout: float = 10):
        """(status, headers, parsed JSON or text) — never raises for an HTTP error status."""
        return http_request(self.url, method, path, body, headers, timeout)

    def output(self) -> str:
        self.log.flush()
        with open(self.log.name) as handle:
            return handle.read()

    def log_lines(self) -> list[dict]:
        lines = []
        for line in self.output().splitlines():
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    pass
        return lines

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 40) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        return self.process.returncode

    def kill(self) -> None:
        """kill -9 the whole process group: the server and its workers, no goodbye; returns once all are gone."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)  # a worker (or its unreaped corpse) is still there
            except ProcessLookupError:
                return
            time.sleep(0.01)

    def close(self) -> None:
        self.stop()
        self.log.close()
        os.unlink(self.log.name)
