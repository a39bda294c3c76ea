"""Which HTTP server serves taskapp best, side by side on one database in one run:
`python -m bench.servers`.

`taskapp serve` (Granian) against the same app under gunicorn with the gthread workers
`taskapp serve` ran before (`--graceful-timeout 30 --timeout 30`, metrics gathered from every
worker alike): the same checkout, settings (2 workers × 4 threads, logging, metrics and rate
limits on, as deployed) and data set (the full one); wrk alternates slices between the
servers, so the machine's drift falls on each alike. Writes bench/results/servers.json and
prints a table.
"""

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import report
from bench.__main__ import IDENTITY_KEY_SECRET, SECRET, database, users_file
from bench.scenarios import IN_MIX, MIX, SCENARIOS
from bench.seed import seed
from bench.targets import ROOT, VENV_BIN, Server, side_by_side, wrk
from taskapp.identity.issuing import issue_token

CANDIDATES = ("gunicorn", "granian")


def gunicorn_and_granian(args, env: dict, folder: Path) -> list[Server]:
    return [
        Server("gunicorn", [str(VENV_BIN / "gunicorn"), "taskapp.app:create_app()", "--worker-class", "gthread",
                            "--workers", str(args.workers), "--threads", str(args.threads),
                            "-b", "127.0.0.1:{port}", "--graceful-timeout", "30", "--timeout", "30"],
               {**env, "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics")}, folder / "gunicorn.log"),
        Server("granian", [str(VENV_BIN / "taskapp"), "serve", "--port", "{port}", "--workers", str(args.workers),
                           "--threads", str(args.threads), "--mcp-port", "0"], env, folder / "granian.log"),
    ]


def main() -> int:
    return two_candidates("bench.servers", __doc__, CANDIDATES, gunicorn_and_granian, "servers.json")


def two_candidates(module: str, doc: str, candidates: tuple[str, str],
                   make_servers: Callable[[argparse.Namespace, dict, Path], list[Server]], result: str,
                   ready: Callable[[Server], None] | None = None) -> int:
    """Two ways of serving taskapp, side by side on one database in one run: `make_servers(args,
    env, folder)` gives them (in the order of `candidates`), `ready(server)` checks each once
    it answers; every scenario at each concurrency, wrk alternating slices between them. Writes
    bench/results/`result` and prints a table."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=doc.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20, help="per scenario, candidate and concurrency")
    parser.add_argument("--slices", type=int, default=10)
    parser.add_argument("--connections", default="1,16")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--only", default="", help="scenario names separated by ';' (and/or mix); default all")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    connections = [int(c) for c in args.connections.split(",")]
    plan = [(scenario.name, [scenario]) for scenario in SCENARIOS if not scenario.needs_sync_token]
    plan.append((MIX, list(IN_MIX)))
    only = {name.strip() for name in args.only.split(";") if name.strip()}
    plan = [(name, chosen) for name, chosen in plan if not only or name in only]
    started, rows = time.time(), []
    with database() as (admin_url, app_url), tempfile.TemporaryDirectory(prefix="taskapp-candidates-") as tmp:
        folder = Path(tmp)
        print(f"seeded {seed(admin_url)} tasks", flush=True)
        env = {"DATABASE_URL": app_url, "JWT_SECRET_KEY": SECRET, "TASKAPP_IDENTITY_KEY": IDENTITY_KEY_SECRET,
               "DATABASE_POOL_SIZE": str(args.threads)}
        (folder / "metrics").mkdir()
        servers = make_servers(args, env, folder)
        users = users_file(admin_url, folder)
        probe = {"Authorization": f"Bearer {issue_token('bench-1', SECRET, 86400)}"}
        try:
            for server in servers:
                server.start("/api/me/tasks?limit=1", probe)
                if ready is not None:
                    ready(server)
                wrk(server.url, list(IN_MIX), 4, 3, users)  # warm up: imports, pools, plans
            for name, chosen in plan:
                for count in connections:
                    measured = side_by_side([server.url for server in servers], chosen, count, args.seconds,
                                            users, args.slices)
                    row = {"scenario": name, "connections": count, **dict(zip(candidates, measured, strict=True))}
                    rows.append(row)
                    print(line(row, candidates), flush=True)
        finally:
            for server in servers:
                server.stop()
    document = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)), "machine": report.machine(),
                "settings": {"seconds": args.seconds, "slices": args.slices, "workers": args.workers,
                             "threads": args.threads, "data_set": "full"},
                "results": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / result).write_text(json.dumps(document, indent=2) + "\n")
    print(table(document, candidates))
    return 0


def line(row: dict, candidates: tuple[str, str]) -> str:
    """One measured row of two candidates, as it is printed while the run goes on."""
    first, second = (row[name] for name in candidates)
    return (f"{row['scenario']:<19} c={row['connections']:<3} "
            + " | ".join(f"{name} {row[name]['throughput']:6.0f}/s p99 {row[name]['p99_ms']:6.1f} ms "
                         f"errors {row[name]['errors']}" for name in candidates)
            + f" | {candidates[1]} ÷ {candidates[0]} {second['throughput'] / first['throughput']:.2f}")


def table(document: dict, candidates: tuple[str, str]) -> str:
    """The run's rows as a Markdown table, the second candidate against the first."""
    first, second = candidates
    lines = [f"| scenario | conns | {first} req/s | {second} req/s | {second} ÷ {first} | {first} p99 ms "
             f"| {second} p99 ms | errors |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in document["results"]:
        a, b = row[first], row[second]
        lines.append(f"| {row['scenario']} | {row['connections']} | {a['throughput']:.0f} | {b['throughput']:.0f} "
                     f"| {b['throughput'] / a['throughput']:.2f} | {a['p99_ms']:.1f} | {b['p99_ms']:.1f} "
                     f"| {a['errors'] + b['errors']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
