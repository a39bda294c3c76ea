"""Running the `taskapp` command as an operator does, and talking to what it serves."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
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
        # Every line the server prints is read as it comes, by a thread, for as long as it runs:
        # a pipe nobody drains fills up (the server's and the worker's logs) and stalls the server.
        self.output: list[str] = []
        self.printed = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.token = None
        deadline = time.monotonic() + 120
        with self.printed:
            while self.token is None:
                for line in self.output:
                    found = re.search(r"Token for user '(\w+)'.*: (\S+)", line)
                    if found:
                        self.user, self.token = found.groups()
                assert self.process.poll() is None or self.token, "".join(self.output)
                assert time.monotonic() < deadline, "".join(self.output)
                if self.token is None:
                    self.printed.wait(0.5)
        while True:
            try:
                if request("GET", self.base + "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "".join(self.output)
            time.sleep(0.2)

    def _read(self):
        for line in self.process.stdout:
            with self.printed:
                self.output.append(line)
                self.printed.notify_all()

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=60) == 0
        self.reader.join(timeout=10)
        self.process.stdout.close()
