"""A real PgBouncer in pool_mode=transaction in front of a test database, for the tests that need one."""

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from tests.support.served import free_port

PGBOUNCER = shutil.which("pgbouncer") or next(
    (path for path in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.access(path, os.X_OK)), None
)
needs_pgbouncer = pytest.mark.skipif(
    PGBOUNCER is None, reason="pgbouncer is not installed (Debian: apt-get install pgbouncer; .ci/run installs it)"
)


def run_as(host: str) -> list[str]:
    """pgbouncer refuses to run as root: run it as whoever can reach the server's socket."""
    if os.geteuid() != 0:
        return []
    owner = pwd.getpwuid(os.stat(host).st_uid).pw_name if host.startswith("/") else "nobody"
    return ["-u", owner]


@contextmanager
def pgbouncer(app_url: str, password: str, server_connections: int):
    """Run pgbouncer in front of `app_url`'s database; yields its taskapp_app URL."""
    target = conninfo_to_dict(app_url)
    host = target.get("host") or "/tmp"
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="taskapp-pgbouncer-"))
    folder.chmod(0o755)
    (folder / "users.txt").write_text(f'"taskapp_app" "{password}"\n')
    (folder / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"taskapp = host={host} port={target.get('port') or 5432} dbname={target['dbname']}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = plain\nauth_file = {folder / 'users.txt'}\n"
        f"pool_mode = transaction\ndefault_pool_size = {server_connections}\nmax_client_conn = 200\n"
        "server_connect_timeout = 5\nquery_wait_timeout = 30\nserver_login_retry = 1\n"
        "ignore_startup_parameters = extra_float_digits\n"
    )
    for name in ("users.txt", "pgbouncer.ini"):
        (folder / name).chmod(0o644)
    log = open(folder / "pgbouncer.log", "w")
    process = subprocess.Popen(
        [PGBOUNCER, *run_as(host), str(folder / "pgbouncer.ini")], stdout=log, stderr=subprocess.STDOUT
    )
    url = f"postgresql://taskapp_app:{password}@127.0.0.1:{port}/taskapp?connect_timeout=5"
    try:
        deadline = time.monotonic() + 15
        while True:
            if process.poll() is not None:
                pytest.fail(f"pgbouncer exited: {(folder / 'pgbouncer.log').read_text()}")
            try:
                with psycopg.connect(url, prepare_threshold=None) as conn:
                    conn.execute("select 1")
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)
