"""`taskapp worker` as a real child process, for tests that need one."""

import os
import signal
import subprocess
import tempfile
import time

from tests.support.identity import IDENTITY_KEY_SECRET
from tests.support.served import CONFIG_VARIABLES, TASKAPP


class Working:
    """A running `taskapp worker` as taskapp_worker; its JSON log lines are kept in a file."""

    def __init__(self, worker_url: str, *options: str, **env):
        self.log = tempfile.NamedTemporaryFile("w+", prefix="taskapp-worker-", suffix=".log", delete=False)
        clean = {k: v for k, v in os.environ.items() if k not in CONFIG_VARIABLES}
        clean.update({"WORKER_DATABASE_URL": worker_url, "TASKAPP_IDENTITY_KEY": IDENTITY_KEY_SECRET,
                      "WEBHOOK_ALLOW_PRIVATE": "on", **env})
        self.process = subprocess.Popen([*TASKAPP, "worker", *options], env=clean, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_for_line("worker started")

    def output(self) -> str:
        self.log.flush()
        with open(self.log.name) as handle:
            return handle.read()

    def wait_for_line(self, text: str, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while text not in self.output():
            if self.process.poll() is not None:
                raise RuntimeError(f"taskapp worker exited:\n{self.output()}")
            assert time.monotonic() < deadline, f"no {text!r} in the worker's log:\n{self.output()}"
            time.sleep(0.05)

    def stop(self, seconds: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=seconds)
        return self.process.returncode

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def close(self) -> None:
        self.kill()
        self.log.close()
        os.unlink(self.log.name)
