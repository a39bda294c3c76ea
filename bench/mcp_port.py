"""Where `taskapp serve` offers the MCP server, decided by measurement: `python -m bench.mcp_port`.

Two candidates, side by side on one database in one run, measured on the API's own scenarios
(what every client pays): `own-port`, what `taskapp serve` does (Granian's WSGI workers for the
API; the MCP server a process of its own on the next port, idle here), against `same-port`
(bench/same_port.py: one ASGI application per Granian worker, the API through an ASGI-to-WSGI
adapter beside the SDK's app). Same workers, threads, settings and data set (the full one); wrk
alternates slices between them. Writes bench/results/mcp-port.json and prints a table.
"""

import argparse
import json
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench import report
from bench.__main__ import IDENTITY_KEY_SECRET, SECRET, database, users_file
from bench.scenarios import IN_MIX, MIX, SCENARIOS
from bench.seed import seed
from bench.servers import line, table
from bench.targets import ROOT, VENV_BIN, Server, free_port, side_by_side, wrk
from taskapp.identity.issuing import issue_token

CANDIDATES = ("own-port", "same-port")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.mcp_port", description=__doc__.splitlines()[0])
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
    with database() as (admin_url, app_url), tempfile.TemporaryDirectory(prefix="taskapp-mcp-port-") as tmp:
        folder = Path(tmp)
        print(f"seeded {seed(admin_url)} tasks", flush=True)
        env = {"DATABASE_URL": app_url, "JWT_SECRET_KEY": SECRET, "TASKAPP_IDENTITY_KEY": IDENTITY_KEY_SECRET,
               "DATABASE_POOL_SIZE": str(args.threads)}
        (folder / "metrics").mkdir()
        same_port, mcp_port = free_port(), free_port()
        servers = [
            Server("own-port", [str(VENV_BIN / "taskapp"), "serve", "--port", "{port}", "--workers", str(args.workers),
                                "--threads", str(args.threads), "--mcp-port", str(mcp_port)],
                   env, folder / "own-port.log"),
            Server("same-port", [str(VENV_BIN / "granian"), "--interface", "asgi", "--factory", "--host", "127.0.0.1",
                                 "--port", "{port}", "--workers", str(args.workers), "--http", "1",
                                 "--no-ws", "bench.same_port:create_app"],
                   {**env, "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"), "TASKAPP_BENCH_PORT": str(same_port),
                    "TASKAPP_BENCH_THREADS": str(args.threads)},
                   folder / "same-port.log", port=same_port),
        ]
        users = users_file(admin_url, folder)
        probe = {"Authorization": f"Bearer {issue_token('bench-1', SECRET, 86400)}"}
        try:
            for server, mcp_url in zip(servers, (f"http://127.0.0.1:{mcp_port}", None), strict=True):
                server.start("/api/me/tasks?limit=1", probe)
                mcp_answers(mcp_url or server.url)  # each candidate serves the MCP server too
                wrk(server.url, list(IN_MIX), 4, 3, users)  # warm up: imports, pools, plans
            for name, chosen in plan:
                for count in connections:
                    measured = side_by_side([server.url for server in servers], chosen, count, args.seconds,
                                            users, args.slices)
                    row = {"scenario": name, "connections": count, **dict(zip(CANDIDATES, measured, strict=True))}
                    rows.append(row)
                    print(line(row, CANDIDATES), flush=True)
        finally:
            for server in servers:
                server.stop()
    document = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)), "machine": report.machine(),
                "settings": {"seconds": args.seconds, "slices": args.slices, "workers": args.workers,
                             "threads": args.threads, "data_set": "full"},
                "results": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "mcp-port.json").write_text(json.dumps(document, indent=2) + "\n")
    print(table(document, CANDIDATES))
    return 0


def mcp_answers(base_url: str, seconds: float = 60) -> None:
    """Wait until the MCP server at `base_url` answers a request without a token: 401."""
    deadline = time.monotonic() + seconds
    request = urllib.request.Request(f"{base_url}/mcp", data=b"{}", method="POST",
                                     headers={"Accept": "application/json, text/event-stream"})
    while True:
        try:
            urllib.request.urlopen(request, timeout=5)
        except urllib.error.HTTPError as error:
            if error.code == 401:
                return
            raise
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
