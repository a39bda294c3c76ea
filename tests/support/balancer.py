"""A real HAProxy in front of `taskapp serve` nodes, health-checking /readyz, for the scale-out tests."""

import csv
import io
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.served import free_port

HAPROXY = shutil.which("haproxy") or next(
    (path for path in ("/usr/sbin/haproxy", "/usr/bin/haproxy") if os.access(path, os.X_OK)), None
)
needs_haproxy = pytest.mark.skipif(
    HAPROXY is None, reason="haproxy is not installed (Debian: apt-get install haproxy; .ci/run installs it)"
)

# What the operator guide's "Scaling out" section recommends: /readyz decides whether a node gets traffic;
# a request that could not even be connected to a node is sent to another one (it never reached
# the dead node, so retrying it cannot do anything twice); nothing else is retried.
CONFIG = """\
global
    stats socket {folder}/admin.sock mode 600 level admin
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch
frontend api
    bind 127.0.0.1:{port}
    default_backend nodes
backend nodes
    balance roundrobin
    http-reuse never
    option httpchk GET /readyz
    http-check expect status 200
    # Without it the check's whole timeout is `inter`: a survivor whose threads are all busy
    # with the clients' requests, on a loaded machine, can answer /readyz after 250 ms, be
    # marked DOWN, and leave no node at all (every request then 503).
    timeout check 2s
    default-server inter 250ms fall 2 rise 2
{servers}
"""


class Balancer:
    """HAProxy balancing round-robin over `nodes` (name → port)."""

    def __init__(self, nodes: dict[str, int]):
        self.folder = Path(tempfile.mkdtemp(prefix="taskapp-haproxy-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        servers = "\n".join(f"    server {name} 127.0.0.1:{port} check" for name, port in nodes.items())
        config = self.folder / "haproxy.cfg"
        config.write_text(CONFIG.format(folder=self.folder, port=self.port, servers=servers))
        self.log = open(self.folder / "haproxy.log", "w")
        self.process = subprocess.Popen([HAPROXY, "-db", "-f", str(config)], stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_until(lambda states: all(state == "UP" for state in states.values()), "every node UP")

    def states(self) -> dict[str, str]:
        """Each node's state as HAProxy's health checks see it (UP, DOWN, …), from its admin socket."""
        with socket.socket(socket.AF_UNIX) as admin:
            admin.connect(str(self.folder / "admin.sock"))
            admin.sendall(b"show stat\n")
            raw = b""
            while chunk := admin.recv(65536):
                raw += chunk
        rows = csv.DictReader(io.StringIO(raw.decode().lstrip("# ")))
        return {row["svname"]: row["status"].split()[0] for row in rows
                if row["pxname"] == "nodes" and row["svname"] != "BACKEND"}

    def wait_until(self, condition, what: str, seconds: float = 20) -> None:
        deadline = time.monotonic() + seconds
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"haproxy exited: {(self.folder / 'haproxy.log').read_text()}")
            try:
                states = self.states()
            except OSError:
                states = {}
            if states and condition(states):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"HAProxy never saw {what}: {states}")
            time.sleep(0.1)

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)
