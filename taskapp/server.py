"""Serving with Granian, as deployed: `taskapp serve`.

Granian (a Rust HTTP server) runs `taskapp.app.create_app()` in each of `--workers` processes,
WSGI views on a pool of `--threads` blocking threads per worker. It was chosen over gunicorn's
gthread workers by measurement, same settings, side by side (bench/README.md, "The server").
It supervises the workers (one that dies is replaced), and on SIGTERM stops listening, lets
the requests in hand finish (30 s at most), then stops what runs beside it (another 30 s at
most, for the jobs the background worker has in hand) and exits 0.

Beside the server, started with it and stopped after it: the embedded default's background
worker, the MCP server, and /metrics on its own port when METRICS_PORT is set.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from taskapp.config import Config, libpq_url

GRACE_SECONDS = 30  # for the requests in hand at SIGTERM, and for what runs beside the server


@dataclass(frozen=True)
class Beside:
    """Something that runs beside the server: started when it starts; told to stop once the
    server's workers have stopped, then waited for (every part shares one grace period)."""

    start: Callable[[], None]
    stop: Callable[[], None] = lambda: None
    wait: Callable[[float], None] = lambda deadline: None


def export_for_workers(config: Config) -> None:
    """Workers build their app from the environment: hand them what the server resolved."""
    os.environ["DATABASE_URL"] = libpq_url(config.DATABASE_URL)
    if config.JWT_SECRET_KEY is not None:
        os.environ["JWT_SECRET_KEY"] = config.JWT_SECRET_KEY
    if config.TASKAPP_IDENTITY_KEY is not None:
        os.environ["TASKAPP_IDENTITY_KEY"] = config.TASKAPP_IDENTITY_KEY


def metrics_folder() -> tuple[str, bool]:
    """Where prometheus-client's workers keep their numbers, so one scrape sees them all,
    and whether it was made here (and so is removed at exit).

    Must be set before prometheus_client is first imported; emptied at every start.
    """
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    folder = given or tempfile.mkdtemp(prefix="taskapp-metrics-")
    for stale in Path(folder).glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    return folder, not given


def metrics_beside(host: str, metrics_port: int | None, made_folder: str | None) -> Beside:
    """/metrics on its own port (METRICS_PORT), served by the server's main process; the metrics
    folder removed at exit if this server made it."""

    def start():
        if metrics_port:
            from prometheus_client import start_http_server

            from taskapp.web.observability import metrics_registry

            start_http_server(metrics_port, addr=host, registry=metrics_registry())
            print(f"metrics on http://{host}:{metrics_port}/metrics", file=sys.stderr, flush=True)

    def remove(deadline: float):  # last: what runs beside may write there until it has stopped
        if made_folder:
            shutil.rmtree(made_folder, ignore_errors=True)

    return Beside(start, wait=remove)


def child_process(name: str, command: list[str], environment: dict) -> Beside:
    """`command` run beside the server, started again if it exits on its own (a second later,
    then after longer waits up to 30 s while it keeps failing at once); stopped with SIGTERM
    (what it has in hand finishes), killed if it is still there at the deadline."""
    running: list[subprocess.Popen] = []
    stopping = threading.Event()
    starting = threading.Lock()  # a restart and the stop do not cross

    def launch() -> bool:
        with starting:
            if stopping.is_set():
                return False
            try:
                running.append(subprocess.Popen(command, env=environment))
            except OSError as error:
                print(f"{name} could not start: {error}", file=sys.stderr, flush=True)
                return False
        print(f"{name} started (pid {running[-1].pid})", file=sys.stderr, flush=True)
        return True

    def supervise(started: bool):
        pause = 1.0
        while True:
            if started:
                began = time.monotonic()
                status = running[-1].wait()
                # A clean exit, or one by a signal meant for the whole service (Ctrl+C, or a
                # service manager signalling the process group before the server's shutdown
                # reaches stop()): not a crash, and not to be undone.
                if stopping.is_set() or status in (0, -signal.SIGINT, -signal.SIGTERM):
                    return
                pause = 1.0 if time.monotonic() - began > 60 else min(pause * 2, 30.0)
                print(f"{name} exited ({status}); starting it again in {pause:.0f} s", file=sys.stderr, flush=True)
            if stopping.wait(pause):
                return
            started = launch()
            if not started:
                pause = min(pause * 2, 30.0)

    def start():
        started = launch()
        threading.Thread(target=supervise, args=(started,), name=f"{name} supervisor", daemon=True).start()

    def stop():
        with starting:
            stopping.set()
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)

    def wait(deadline: float):
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    return Beside(start, stop, wait)


def background_worker(config: Config) -> Beside:
    """One `taskapp worker` beside the server (the embedded default's)."""
    environment = {**os.environ, "WORKER_DATABASE_URL": libpq_url(config.WORKER_DATABASE_URL)}
    return child_process("background worker", [sys.executable, "-m", "taskapp", "worker"], environment)


def mcp_server(host: str, mcp_port: int, public_url: str | None, allowed_origins=()) -> Beside:
    """The MCP server (`taskapp mcp --http`) on its own port beside the API. Its own process: the
    SDK's Streamable HTTP transport is an ASGI app, and the API's workers are WSGI."""
    command = [sys.executable, "-m", "taskapp", "mcp", "--http", "--host", host, "--port", str(mcp_port)]
    if public_url:
        command += ["--public-url", public_url]
    for origin in allowed_origins:
        command += ["--allowed-origin", origin]
    return child_process("MCP server", command, dict(os.environ))


def serve(config: Config, host: str, port: int, workers: int, threads: int, mcp_port: int | None = None,
          mcp_public_url: str | None = None, mcp_allowed_origins=()) -> None:
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces

    export_for_workers(config)
    beside = []  # started in this order, stopped in the reverse one
    if config.METRICS:
        folder, made = metrics_folder()
        beside.append(metrics_beside(host, config.METRICS_PORT, folder if made else None))
    if config.embedded_data_dir is not None:
        beside.append(background_worker(config))
    if mcp_port:
        beside.append(mcp_server(host, mcp_port, mcp_public_url, mcp_allowed_origins))
    server = Granian(
        "taskapp.app:create_app", factory=True, interface=Interfaces.WSGI, address=host, port=port,
        workers=workers, blocking_threads=threads,
        http=HTTPModes.http1,  # HTTP/1.1, whose limits the contract states (a proxy in front may speak h2)
        respawn_failed_workers=True,  # a worker that dies is replaced
        workers_kill_timeout=GRACE_SECONDS,
        log_access=False,  # taskapp writes its own JSON access line (taskapp.web.observability)
        websockets=False,
    )
    for part in beside:
        server.on_startup(part.start)

    def stop_beside():
        for part in reversed(beside):
            part.stop()
        deadline = time.monotonic() + GRACE_SECONDS
        for part in reversed(beside):
            part.wait(deadline)

    server.on_shutdown(stop_beside)
    server.serve()
