"""Webhook delivery throughput: events per second for one and for two `taskapp worker` processes.

`python -m bench.deliveries`: for each worker count, a fresh migrated database; USERS users
each subscribed to every event type at a local receiver; EVENTS tasks created as those users
(each a `task.created` event in the outbox) before any worker runs; then the workers start
and the receiver counts arrivals. Throughput is measured from the first arrival to the last,
so process start-up is left out. Writes bench/results/deliveries.json.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from bench import report
from bench.__main__ import IDENTITY_KEY, IDENTITY_KEY_SECRET, database_server, fresh_databases
from bench.targets import ROOT, VENV_BIN
from taskapp.config import libpq_url
from taskapp.database.migrations import upgrade
from taskapp.identity.proof import act_as

WORKER_PASSWORD = "bench-worker-password"
SUBSCRIBE = """
set session_replication_role = replica;
insert into webhooks (user_id, url, events, secret)
select 'bench-' || u, %(url)s, array['task.created', 'task.updated', 'task.completed', 'task.deleted',
       'reminder.due'], 'whsec_' || encode(sha256(u::text::bytea), 'base64')
from generate_series(1, %(users)s) u;
insert into taskapp_private.subscriptions (user_id, webhook_id, events)
select w.user_id, w.id, w.events from webhooks w where w.user_id like 'bench-%%';
reset session_replication_role;
"""


class HAProxyReceiver:
    """A receiver that costs the machine next to nothing: HAProxy answering every request 204.

    For measuring requests beside a delivering worker, so that the receiver's own work (a
    customer's, elsewhere in real life) does not take the CPU from the service measured.
    """

    CONFIG = """
global
    maxconn 2000
    stats socket {socket} mode 600 level admin
defaults
    mode http
    timeout client 10s
    timeout connect 1s
    timeout server 10s
frontend hooks
    bind 127.0.0.1:{port}
    http-request return status 204
"""

    def __init__(self, folder: Path):
        from bench.targets import free_port

        port = free_port()
        self.socket = folder / "receiver.sock"
        config = folder / "receiver.cfg"
        config.write_text(self.CONFIG.format(socket=self.socket, port=port))
        self.process = subprocess.Popen(["haproxy", "-f", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}/hook"
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            assert time.monotonic() < deadline, "haproxy did not start"
            time.sleep(0.05)

    def received(self) -> int:
        """Requests answered so far (HAProxy counts each of these queries as one: left out)."""
        import socket

        self.queries = getattr(self, "queries", 0) + 1
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(str(self.socket))
            client.sendall(b"show info\n")
            answer = b""
            while chunk := client.recv(65536):
                answer += chunk
        counted = int(next(line.split(":")[1] for line in answer.decode().splitlines() if line.startswith("CumReq:")))
        return counted - self.queries

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def subscribe(admin_url: str, receiver_url: str, users: int) -> None:
    """Users bench-1 … bench-N subscribed to every event type at the receiver."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for statement in filter(str.strip, SUBSCRIBE.split(";")):
            conn.execute(statement, {"url": receiver_url, "users": users} if "%(" in statement else None)


def make_events(admin_url, app_url: str, users: int, events: int, receiver_url: str) -> None:
    subscribe(admin_url, receiver_url, users)
    with psycopg.connect(app_url) as conn:
        for number in range(events):
            user = f"bench-{number % users + 1}"
            act_as(conn, IDENTITY_KEY, user)
            conn.execute("insert into tasks (title) values (%s)", (f"event {number}",))
            conn.commit()


def measure(server_url: str, workers: int, users: int, events: int, concurrency: int, folder: Path) -> dict:
    receiver = HAProxyReceiver(folder)
    with fresh_databases(server_url, 1) as [admin]:
        upgrade(admin, "bench-app-password", IDENTITY_KEY, WORKER_PASSWORD)
        app_url = libpq_url(admin.set(username="taskapp_app", password="bench-app-password"))
        worker_url = libpq_url(admin.set(username="taskapp_worker", password=WORKER_PASSWORD))
        make_events(libpq_url(admin), app_url, users, events, receiver.url)
        env = {**os.environ, "WORKER_DATABASE_URL": worker_url, "TASKAPP_IDENTITY_KEY": IDENTITY_KEY_SECRET,
               "WEBHOOK_ALLOW_PRIVATE": "on"}
        processes = [subprocess.Popen([str(VENV_BIN / "taskapp"), "worker", "--concurrency", str(concurrency)],
                                      env=env, stdout=open(folder / f"worker-{workers}-{n}.log", "w"),
                                      stderr=subprocess.STDOUT) for n in range(workers)]
        deadline = time.monotonic() + 600
        first = last = None
        try:
            while True:  # from the first arrival to the last, read off HAProxy every 20 ms
                received = receiver.received()
                now = time.monotonic()
                if first is None and received > 0:
                    first, at_first = now, received
                if received >= events:
                    last = now
                    break
                if now > deadline:
                    raise RuntimeError(f"{received} of {events} events arrived")
                time.sleep(0.02)
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=30)
            receiver.stop()
    return {"workers": workers, "concurrency": concurrency, "events": events, "seconds": round(last - first, 2),
            "events_per_second": round((events - at_first) / (last - first), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.deliveries", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--concurrency", type=int, default=8, help="--concurrency of each worker")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    started = time.time()
    rows = []
    folder = Path(os.environ.get("TMPDIR", "/tmp"))
    with database_server() as server_url:
        for count in (int(n) for n in args.workers.split(",")):
            rows.append(measure(server_url, count, args.users, args.events, args.concurrency, folder))
            print(f"{count} worker(s) × {args.concurrency}: {rows[-1]['events_per_second']:.0f} events/s "
                  f"({args.events} events in {rows[-1]['seconds']} s)", flush=True)
    document = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)), "machine": report.machine(),
                "commit": subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                         text=True).stdout.strip(),
                "settings": {"users": args.users, "receiver": "HAProxy answering 204"},
                "results": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "deliveries.json").write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
