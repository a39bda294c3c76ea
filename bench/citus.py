"""taskapp through a Citus coordinator against a single PostgreSQL, side by side in one run.

`python -m bench.citus --coordinator URL --single URL`: a superuser URL of a Citus coordinator
whose workers are added (`citus_add_node`), and one of a plain PostgreSQL server. Each gets a
fresh database (on the cluster: on every node, with the extension, as an operator makes one),
its own `taskapp db upgrade` (which distributes the schema on the coordinator), the same full
data set (no recurring tasks), and its own `taskapp serve` with the same settings. wrk drives
both in alternating slices, so the machine's drift falls on both alike. Writes
bench/results/citus.json and prints a table (README "Scaling out" quotes it).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg

from bench import report
from bench.__main__ import APP_PASSWORD, IDENTITY_KEY_SECRET, SECRET, fresh_databases, users_file
from bench.compare import measure, table
from bench.scenarios import IN_MIX, MIX
from bench.seed import seed
from bench.targets import ROOT, VENV_BIN, Server
from taskapp.config import libpq_url, sqlalchemy_url
from tests.support.citus import create_citus_database, drop_citus_database


@contextmanager
def citus_database(coordinator_url: str, shards: int | None):
    """A fresh database on every node of the coordinator's cluster, `shards` per table as an
    operator sets it before `taskapp db upgrade` (None: Citus's default): its admin URL."""
    name = f"taskapp_bench_{os.urandom(4).hex()}"
    url = create_citus_database(coordinator_url, name, shards)
    try:
        yield sqlalchemy_url(url)
    finally:
        drop_citus_database(coordinator_url, name)


def shards(admin_url: str) -> int:
    with psycopg.connect(admin_url) as conn:
        return conn.execute("select count(*) from pg_dist_shard where logicalrelid = 'tasks'::regclass").fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.citus", description=__doc__.splitlines()[0])
    parser.add_argument("--coordinator", default=os.environ.get("BENCH_CITUS_ADMIN_URL"), required=False,
                        help="a superuser URL of the Citus coordinator (default BENCH_CITUS_ADMIN_URL)")
    parser.add_argument("--single", default=os.environ.get("BENCH_DATABASE_ADMIN_URL"),
                        help="a superuser URL of a plain PostgreSQL server (default BENCH_DATABASE_ADMIN_URL)")
    parser.add_argument("--seconds", type=int, default=10, help="per scenario, target and concurrency")
    parser.add_argument("--slices", type=int, default=5)
    parser.add_argument("--connections", default="1,16")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--only", default="", help="scenario names separated by ';' (and/or mix); default all")
    parser.add_argument("--shards", type=int, default=0,
                        help="shards per distributed table (citus.shard_count when db upgrade distributes; "
                             "default Citus's own, 32)")
    parser.add_argument("--name", default="citus", help="results go to bench/results/NAME.json")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    if not args.coordinator or not args.single:
        parser.error("both --coordinator and --single (or their environment variables) are needed")
    connections = [int(c) for c in args.connections.split(",")]
    plan = [(scenario.name, [scenario]) for scenario in IN_MIX] + [(MIX, list(IN_MIX))]
    only = {name.strip() for name in args.only.split(";") if name.strip()}
    plan = [(name, chosen) for name, chosen in plan if not only or name in only]
    started = time.time()
    labels = ("citus", "single")
    with tempfile.TemporaryDirectory(prefix="taskapp-citus-") as tmp, ExitStack() as stack:
        folder = Path(tmp)
        on_cluster = stack.enter_context(citus_database(args.coordinator, args.shards or None))
        [on_single] = stack.enter_context(fresh_databases(args.single, 1))
        servers = []
        for label, admin_url in zip(labels, (on_cluster, on_single), strict=True):
            env = {"DATABASE_ADMIN_URL": libpq_url(admin_url), "TASKAPP_APP_PASSWORD": APP_PASSWORD,
                   "DATABASE_URL": libpq_url(admin_url.set(username="taskapp_app", password=APP_PASSWORD)),
                   "JWT_SECRET_KEY": SECRET, "TASKAPP_IDENTITY_KEY": IDENTITY_KEY_SECRET}
            subprocess.run([str(VENV_BIN / "taskapp"), "db", "upgrade"], env={**os.environ, **env}, check=True,
                           cwd=folder)
            print(f"{label}: seeded {seed(libpq_url(admin_url), recurring=False)} tasks", flush=True)
            env.pop("DATABASE_ADMIN_URL")
            env["DATABASE_POOL_SIZE"] = str(args.threads)
            servers.append(Server(
                label, [str(VENV_BIN / "taskapp"), "serve", "--port", "{port}", "--workers", str(args.workers),
                        "--threads", str(args.threads), "--mcp-port", "0"], env, folder / f"serve-{label}.log",
                cwd=folder))
        users = []
        for label, admin_url in zip(labels, (on_cluster, on_single), strict=True):
            (folder / label).mkdir()
            users.append(users_file(libpq_url(admin_url), folder / label))
        rows = measure(servers, plan, connections, args.seconds, args.slices, users, labels)
        shard_count = shards(libpq_url(on_cluster))
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    document = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "machine": report.machine(),
        "revision": commit,
        "new": "Citus coordinator", "base": "single PostgreSQL",
        "settings": {"seconds": args.seconds, "slices": args.slices, "workers": args.workers,
                     "threads": args.threads, "data_set": "full, no recurring tasks", "shards_of_tasks": shard_count},
        "results": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(document, indent=2) + "\n")
    print(table(document).replace("new", "citus").replace("base", "single"))
    print(f"wrote {args.out / (args.name + '.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
