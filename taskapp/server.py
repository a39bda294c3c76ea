"""Serving with gunicorn, as deployed: `taskapp serve`."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from gunicorn.app.base import BaseApplication

from taskapp.config import Config, libpq_url


class TaskServer(BaseApplication):
    """gunicorn running taskapp.app.create_app() in each worker."""

    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from taskapp.app import create_app  # in each worker, after the metrics folder is chosen

        return create_app()


def export_for_workers(config: Config) -> None:
    """Workers build their app from the environment: hand them what the master resolved."""
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


def metrics_hooks(host: str, metrics_port: int | None, made_folder: str | None) -> dict:
    """gunicorn hooks: forget a dead worker's live gauges; serve /metrics on its own port;
    remove the metrics folder this server made."""

    def on_exit(server):
        if made_folder:
            shutil.rmtree(made_folder, ignore_errors=True)

    def child_exit(server, worker):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

    def when_ready(server):
        from prometheus_client import start_http_server

        from taskapp.web.observability import metrics_registry

        start_http_server(metrics_port, addr=host, registry=metrics_registry())
        server.log.info("metrics on http://%s:%s/metrics", host, metrics_port)

    hooks = {"child_exit": child_exit, "on_exit": on_exit}
    return {**hooks, **({"when_ready": when_ready} if metrics_port else {})}


def child_process_hooks(name: str, command: list[str], environment: dict) -> dict:
    """gunicorn hooks that run `command` beside the server: started when the server is ready,
    stopped at exit (SIGTERM, then what it has in hand finishes; killed after 20 s)."""
    running = []

    def when_ready(server):
        running.append(subprocess.Popen(command, env=environment))
        server.log.info("%s started (pid %s)", name, running[-1].pid)

    def on_exit(server):
        for process in running:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    return {"when_ready": when_ready, "on_exit": on_exit}


def background_worker_hooks(config: Config) -> dict:
    """One `taskapp worker` beside the server (the embedded default's)."""
    environment = {**os.environ, "WORKER_DATABASE_URL": libpq_url(config.WORKER_DATABASE_URL)}
    return child_process_hooks("background worker", [sys.executable, "-m", "taskapp", "worker"], environment)


def mcp_hooks(host: str, mcp_port: int, public_url: str | None) -> dict:
    """The MCP server (`taskapp mcp --http`) on its own port beside the API. Its own process: the
    SDK's Streamable HTTP transport is an ASGI app, and the API's workers are WSGI."""
    command = [sys.executable, "-m", "taskapp", "mcp", "--http", "--host", host, "--port", str(mcp_port)]
    if public_url:
        command += ["--public-url", public_url]
    return child_process_hooks("MCP server", command, dict(os.environ))


def combined(*hook_sets: dict) -> dict:
    """gunicorn takes one function per hook: one that several sets define runs each in turn.

    Those shared are server hooks (`when_ready`, `on_exit`), taking the server alone, as
    gunicorn checks; a hook of one set only is passed on as it is.
    """
    merged: dict[str, list] = {}
    for hooks in hook_sets:
        for name, function in hooks.items():
            merged.setdefault(name, []).append(function)

    def chain(functions):
        if len(functions) == 1:
            return functions[0]

        def each(server):
            for function in functions:
                function(server)

        return each

    return {name: chain(functions) for name, functions in merged.items()}


def serve(config: Config, host: str, port: int, workers: int, threads: int, mcp_port: int | None = None,
          mcp_public_url: str | None = None) -> None:
    export_for_workers(config)
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "graceful_timeout": 30,
        "timeout": 30,
        "limit_request_line": 8190,  # gunicorn's largest; longer request lines get its HTML 414
    }
    hook_sets = []
    if config.METRICS:
        folder, made = metrics_folder()
        hook_sets.append(metrics_hooks(host, config.METRICS_PORT, folder if made else None))
    if config.embedded_data_dir is not None:
        hook_sets.insert(0, background_worker_hooks(config))  # stopped before the metrics folder goes
    if mcp_port:
        hook_sets.insert(0, mcp_hooks(host, mcp_port, mcp_public_url))
    options.update(combined(*hook_sets))
    TaskServer(options).run()
