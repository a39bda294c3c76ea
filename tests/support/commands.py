"""Running the `taskapp` command as an operator does, and talking to what it serves."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from tests.support.served import CONFIG_VARIABLES, TASKAPP, free_port

__all__ = ["CONFIG_VARIABLES", "Server", "request", "taskapp"]


def taskapp(*args, timeout=120, **env):
    """Run `taskapp ARGS` with exactly the configuration given."""
    clean = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "taskapp", *args], env=clean, capture_output=True, text=True, timeout=timeout
    )


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
