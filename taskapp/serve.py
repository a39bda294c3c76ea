"""Serving with gunicorn, as deployed: `taskapp serve`."""

import os

from gunicorn.app.base import BaseApplication

from taskapp.config import Config, libpq_url


class TaskServer(BaseApplication):
    """gunicorn running taskapp.create_app() in each worker."""

    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from taskapp import create_app

        return create_app()


def export_for_workers(config: Config) -> None:
    """Workers build their app from the environment: hand them what the master resolved."""
    os.environ["DATABASE_URL"] = libpq_url(config.DATABASE_URL)
    if config.JWT_SECRET_KEY is not None:
        os.environ["JWT_SECRET_KEY"] = config.JWT_SECRET_KEY


def serve(config: Config, host: str, port: int, workers: int, threads: int) -> None:
    export_for_workers(config)
    TaskServer(
        {
            "bind": f"{host}:{port}",
            "workers": workers,
            "worker_class": "gthread",
            "threads": threads,
            "graceful_timeout": 30,
            "timeout": 30,
        }
    ).run()
