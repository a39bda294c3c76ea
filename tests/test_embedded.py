"""The embedded default, end to end: `taskapp serve` with nothing configured, as an operator runs it."""

import json
import os
import re
import signal
import subprocess
import time
import urllib.request

from receiver import Receiver
from served import TASKAPP, free_port
from test_cli import CONFIG_VARIABLES, taskapp


def request(method, url, token=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


class Server:
    """`taskapp serve` in a subprocess, with nothing configured but the environment given
    (TASKAPP_DATA_DIR, or HOME for the default folder); `program` is the `taskapp` command."""

    def __init__(self, data_dir=None, program=TASKAPP, cwd=None, **env):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES} | env
        if data_dir is not None:
            env["TASKAPP_DATA_DIR"] = str(data_dir)
        self.process = subprocess.Popen(
            [*program, "serve", "--port", str(self.port), "--workers", "1"],
            env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.output = []
        self.token = None
        deadline = time.monotonic() + 120
        while self.token is None:
            line = self.process.stdout.readline()
            assert line or self.process.poll() is None, "".join(self.output)
            self.output.append(line)
            found = re.search(r"Token for user '(\w+)'.*: (\S+)", line)
            if found:
                self.user, self.token = found.groups()
            assert time.monotonic() < deadline, "".join(self.output)
        while True:
            try:
                if request("GET", self.base + "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "".join(self.output)
            time.sleep(0.2)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=60) == 0
        self.process.stdout.close()


def test_serve_starts_on_embedded_postgres_and_data_survives_a_restart(tmp_path):
    data_dir = tmp_path
    server = Server(data_dir, WEBHOOK_ALLOW_PRIVATE="on")
    receiver = Receiver()
    try:
        assert any("Swagger UI:" in line for line in server.output)
        # The one command also runs a worker: a webhook is delivered.
        status, webhook = request("POST", server.base + "/api/me/webhooks", server.token,
                                  {"url": receiver.url, "events": ["task.created"]})
        assert status == 201, webhook
        status, task = request("POST", server.base + "/api/me/tasks", server.token, {"title": "survive"})
        assert status == 201
        [event] = receiver.events(webhook["secret"], 1, seconds=30)
        assert event["data"]["task"]["id"] == task["id"]
        status, tasks = request("GET", server.base + "/api/me/tasks", server.token)
        assert status == 200 and [t["id"] for t in tasks] == [task["id"]]
    finally:
        server.stop()
        receiver.close()

    # `taskapp token` signs with the secret the server stored in the data folder.
    result = taskapp("token", server.user, TASKAPP_DATA_DIR=str(data_dir))
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()

    restarted = Server(data_dir)
    try:
        status, tasks = request("GET", restarted.base + "/api/me/tasks", token)
        assert status == 200
        assert [(t["id"], t["title"]) for t in tasks] == [(task["id"], "survive")]
    finally:
        restarted.stop()
