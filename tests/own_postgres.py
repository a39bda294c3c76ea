"""A PostgreSQL server of a test's own (embedded, through pgserver), which it may stop, kill and restart."""

import os
import shutil
import signal
import tempfile
import time
import warnings

import psutil
import psycopg

from taskapp.config import libpq_url, sqlalchemy_url
from taskapp.schema import upgrade


class OwnPostgres:
    """A private server with one migrated database; `app_url` connects as taskapp_app."""

    def __init__(self, app_password: str):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver
        self.folder = tempfile.mkdtemp(prefix="taskapp-own-pg-")
        self.server = pgserver.get_server(os.path.join(self.folder, "pgdata"), cleanup_mode="delete")
        server_url = self.server.get_uri()
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute('create database "taskapp"')
        admin = sqlalchemy_url(server_url).set(database="taskapp")
        upgrade(admin, app_password)
        self.admin_url = libpq_url(admin)
        self.app_url = libpq_url(admin.set(username="taskapp_app", password=app_password))

    def _pg_ctl(self, *args) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(list(args), pgdata=self.server.pgdata, user=self.server.system_user, timeout=30)

    def stop(self) -> None:
        """A clean, fast shutdown: sessions are ended, the server is gone."""
        self._pg_ctl("-w", "-m", "fast", "stop")

    def kill(self) -> None:
        """kill -9 the postmaster and every backend: a crash, recovered from at the next start."""
        postmaster = psutil.Process(self.server.get_pid())
        processes = [postmaster, *postmaster.children(recursive=True)]
        for process in processes:
            try:
                process.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(processes, timeout=10)

    def start(self) -> None:
        with self.server._lock:
            self.server.ensure_postgres_running()
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self.admin_url, connect_timeout=2) as conn:
                    conn.execute("select 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def close(self) -> None:
        try:
            self.start()
        except Exception:  # already running, or gone: cleanup copes with both
            pass
        self.server.cleanup()
        shutil.rmtree(self.folder, ignore_errors=True)
