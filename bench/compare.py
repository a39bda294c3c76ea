"""This revision against an earlier one, side by side in one run: `python -m bench.compare REV`.

What a change costs the scenarios that existed before it. Both revisions are installed as
wheels into their own virtual environments (as operators install taskapp), each migrates its
own fresh database on the same PostgreSQL server with its own `taskapp db upgrade`, both get
the same data set (no recurring tasks, which an earlier schema may not have), and both are
served alike by `taskapp serve`. wrk then drives them in alternating slices, so the
machine's drift falls on both alike. Writes bench/results/compare.json and prints a table.

With --worker, the new revision runs as its users would have it with webhooks: every user
subscribed to every event type at a local receiver (HAProxy answering 204, so that the
receiver takes next to no CPU from the service), and a `taskapp worker` delivering them while
the scenarios run.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import URL

from bench import report
from bench.__main__ import (
    APP_PASSWORD,
    IDENTITY_KEY_SECRET,
    SECRET,
    database_server,
    fresh_databases,
    users_file,
)
from bench.deliveries import WORKER_PASSWORD, HAProxyReceiver, subscribe
from bench.scenarios import IN_MIX, MIX
from bench.seed import FULL, seed
from bench.targets import ROOT, Server, side_by_side, wrk
from taskapp.config import libpq_url
from taskapp.identity.issuing import issue_token


def install(revision: str, folder: Path, index: int = 0) -> Path:
    """A virtual environment with `revision` of this repository installed from a wheel; its bin/."""
    commit = subprocess.run(["git", "rev-parse", "--short", revision], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.strip()
    source = folder / f"source-{index}-{commit}"
    source.mkdir()
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
    venv = folder / f"venv-{index}-{commit}"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(source)], check=True)
    return venv / "bin"


def environment(admin_url: URL) -> dict:
    app_url = admin_url.set(username="taskapp_app", password=APP_PASSWORD)
    return {"DATABASE_ADMIN_URL": libpq_url(admin_url), "DATABASE_URL": libpq_url(app_url),
            "TASKAPP_APP_PASSWORD": APP_PASSWORD, "JWT_SECRET_KEY": SECRET,
            "TASKAPP_IDENTITY_KEY": IDENTITY_KEY_SECRET, "TASKAPP_WORKER_PASSWORD": WORKER_PASSWORD}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the earlier revision (a commit, tag or branch)")
    parser.add_argument("--new", default="HEAD", help="the revision measured against it (default HEAD)")
    parser.add_argument("--seconds", type=int, default=20, help="per scenario, revision and concurrency")
    parser.add_argument("--slices", type=int, default=10)
    parser.add_argument("--connections", default="1,16")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--only", default="", help="scenario names separated by ';' (and/or mix); default all")
    parser.add_argument("--worker", action="store_true",
                        help="the new revision with every user subscribed to webhooks and a worker delivering")
    parser.add_argument("--subscribed", action="store_true",
                        help="the new revision with every user subscribed to webhooks, but no worker")
    parser.add_argument("--name", default="compare", help="results go to bench/results/NAME.json")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    connections = [int(c) for c in args.connections.split(",")]
    plan = [(scenario.name, [scenario]) for scenario in IN_MIX] + [(MIX, list(IN_MIX))]
    only = {name.strip() for name in args.only.split(";") if name.strip()}
    plan = [(name, chosen) for name, chosen in plan if not only or name in only]
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="taskapp-compare-") as tmp, database_server() as server, \
            fresh_databases(server, 2) as admin_urls:
        folder = Path(tmp)
        revisions = [args.new, args.base]
        bins = [install(revision, folder, index) for index, revision in enumerate(revisions)]
        servers, background = [], []
        for index, (revision, bin_dir, admin_url) in enumerate(zip(revisions, bins, admin_urls, strict=True)):
            env = environment(admin_url)
            subprocess.run([str(bin_dir / "taskapp"), "db", "upgrade"], env={**os.environ, **env}, check=True,
                           cwd=folder)
            print(f"{revision}: seeded {seed(libpq_url(admin_url), recurring=False)} tasks", flush=True)
            if (args.worker or args.subscribed) and index == 0:
                receiver = HAProxyReceiver(folder)
                subscribe(libpq_url(admin_url), receiver.url, FULL.users)
            if args.worker and index == 0:
                worker_url = libpq_url(admin_url.set(username="taskapp_worker", password=WORKER_PASSWORD))
                background.append(subprocess.Popen(
                    [str(bin_dir / "taskapp"), "worker"], cwd=folder, stdout=open(folder / "worker.log", "w"),
                    stderr=subprocess.STDOUT, env={**os.environ, **env, "WORKER_DATABASE_URL": worker_url,
                                                   "WEBHOOK_ALLOW_PRIVATE": "on"}))
            env.pop("DATABASE_ADMIN_URL")
            env["DATABASE_POOL_SIZE"] = str(args.threads)
            servers.append(Server(
                revision, [str(bin_dir / "taskapp"), "serve", "--port", "{port}", "--workers", str(args.workers),
                           "--threads", str(args.threads)], env, folder / f"serve-{index}.log", cwd=folder))
        users = users_file(libpq_url(admin_urls[0]), folder)
        try:
            rows = measure(servers, plan, connections, args.seconds, args.slices, [users, users],
                           (args.new, args.base))
        finally:
            for process in background:
                process.terminate()
                process.wait(timeout=30)
            if args.worker or args.subscribed:
                print(f"webhook events received while measuring: {receiver.received()}", flush=True)
                receiver.stop()
    commits = {revision: subprocess.run(["git", "rev-parse", revision], cwd=ROOT, capture_output=True,
                                        text=True).stdout.strip() for revision in (args.new, args.base)}
    document = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "machine": report.machine(),
        "new": commits[args.new], "base": commits[args.base],
        "settings": {"seconds": args.seconds, "slices": args.slices, "workers": args.workers,
                     "threads": args.threads, "data_set": "full, no recurring tasks",
                     "new_with_webhooks_subscribed": args.worker or args.subscribed,
                     "new_with_a_worker": args.worker},
        "results": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(document, indent=2) + "\n")
    print(table(document))
    print(f"wrote {args.out / (args.name + '.json')}")
    return 0


def measure(servers: list[Server], plan: list, connections: list[int], seconds: int, slices: int,
            users: list[Path], labels: tuple[str, str]) -> list[dict]:
    """Start the two servers (the new, then the base), warm them up and drive them side by side
    over every (scenario, connections) cell of `plan`, each with its users file; the rows,
    printed as they come. The servers are stopped after."""
    probe = {"Authorization": f"Bearer {issue_token('bench-1', SECRET, 86400)}"}
    rows = []
    try:
        for target in servers:
            target.start("/api/me/tasks?limit=1", probe)
        for target, listed in zip(servers, users, strict=True):  # warm up: imports, pools, plans
            wrk(target.url, list(IN_MIX), 4, 3, listed)
        for name, chosen in plan:
            for count in connections:
                new, base = side_by_side([target.url for target in servers], chosen, count, seconds, users, slices)
                rows.append({"scenario": name, "connections": count, "new": new, "base": base})
                print(f"{name:<17} c={count:<3} {labels[0]} {new['throughput']:7.0f}/s p99 {new['p99_ms']:6.1f} ms"
                      f" | {labels[1]} {base['throughput']:7.0f}/s p99 {base['p99_ms']:6.1f} ms"
                      f" | ratio {new['throughput'] / base['throughput']:.1%}"
                      f" | errors {new['errors']}/{base['errors']}", flush=True)
    finally:
        for target in servers:
            target.stop()
    return rows


def table(document: dict) -> str:
    lines = ["| scenario | conns | new req/s | base req/s | new ÷ base | new p99 ms | base p99 ms | errors |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in document["results"]:
        new, base = row["new"], row["base"]
        lines.append(f"| {row['scenario']} | {row['connections']} | {new['throughput']:.0f} | {base['throughput']:.0f}"
                     f" | {new['throughput'] / base['throughput']:.1%} | {new['p99_ms']:.1f} | {base['p99_ms']:.1f}"
                     f" | {new['errors'] + base['errors']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
