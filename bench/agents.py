"""Batches and the MCP server: `python -m bench.agents`.

Three measurements on one served instance (`taskapp serve`, the MCP server beside it on the next
port), on a fresh database of 40 users × 100 tasks:

- **a batch of 50 creates against 50 single creates**: one client, one keep-alive connection,
  alternating a batch (`POST /batch`, 50 `create_task` operations) with 50 `POST /tasks` in a
  row, `--rounds` times each; the median time of each, and their ratio;
- **MCP tool calls per second** for `find_tasks` and `add_tasks` (one task), JSON-RPC over
  Streamable HTTP driven by wrk with random users' tokens, at 1 and 16 connections;
- beside them, the API's own `GET /tasks?limit=20` and `POST /tasks`, which those tools call.

Writes bench/results/agents.json and prints the tables.
"""

import argparse
import http.client
import json
import statistics
import tempfile
import time
from pathlib import Path

from bench import report
from bench.__main__ import APP_PASSWORD, IDENTITY_KEY_SECRET, SECRET, database_server, fresh_databases, users_file
from bench.scenarios import Scenario
from bench.seed import seed
from bench.targets import ROOT, VENV_BIN, Server, free_port, side_by_side
from taskapp.config import libpq_url
from taskapp.database.migrations import upgrade
from taskapp.identity.issuing import issue_token
from taskapp.identity.proof import IdentityKey

USERS, TASKS, BATCH = 40, 100, 50


def jsonrpc(tool: str, arguments: dict) -> str:
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                       "params": {"name": tool, "arguments": arguments}})


# The MCP server is stateless: a tools/call needs no initialize before it.
MCP_SCENARIOS = (
    Scenario("MCP find_tasks (20)", "POST", "/mcp", "", body=jsonrpc("find_tasks", {"limit": 20})),
    Scenario("MCP add_tasks (1)", "POST", "/mcp", "", body=jsonrpc("add_tasks", {"tasks": [{"title": "{title}"}]}),
             writes=True),
)
API_SCENARIOS = (
    Scenario("API list 20", "GET", "/api/me/tasks?limit=20", ""),
    Scenario("API create", "POST", "/api/me/tasks", "", body='{"title": "{title}"}', writes=True),
)


def batch_against_singles(port: int, token: str, rounds: int) -> dict:
    """Median seconds of a batch of BATCH creates and of BATCH single creates, alternated."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(path: str, body: dict) -> None:
        connection.request("POST", path, json.dumps(body), headers)
        answer = connection.getresponse()
        answer.read()
        assert answer.status in (200, 201), answer.status

    batch_times, single_times = [], []
    for round_ in range(rounds):
        # Each part in a rate-limit window of its own: the deployed budget (100 a second) counts
        # a batch's 50 operations as 50 requests, and 50 singles as 50.
        time.sleep(1.1)
        started = time.perf_counter()
        post("/api/me/batch", {"operations": [{"op": "create_task", "task": {"title": f"batched {round_} {n}"}}
                                              for n in range(BATCH)]})
        batch_times.append(time.perf_counter() - started)
        time.sleep(1.1)
        started = time.perf_counter()
        for n in range(BATCH):
            post("/api/me/tasks", {"title": f"single {round_} {n}"})
        single_times.append(time.perf_counter() - started)
    connection.close()
    batch, singles = statistics.median(batch_times), statistics.median(single_times)
    return {"operations": BATCH, "rounds": rounds, "batch_ms": batch * 1000, "singles_ms": singles * 1000,
            "batch_over_singles": batch / singles}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.agents", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--slices", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--connections", default="1,16")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="taskapp-agents-") as tmp, database_server() as server, \
            fresh_databases(server, 1) as (admin_url,):
        folder = Path(tmp)
        url = libpq_url(admin_url)
        upgrade(admin_url, APP_PASSWORD, IdentityKey(IDENTITY_KEY_SECRET))
        seed(url, users=USERS, tasks=TASKS, recurring=False)
        users = users_file(url, folder, users=USERS)
        app_url = libpq_url(admin_url.set(username="taskapp_app", password=APP_PASSWORD))
        env = {"DATABASE_URL": app_url, "JWT_SECRET_KEY": SECRET, "TASKAPP_IDENTITY_KEY": IDENTITY_KEY_SECRET,
               "DATABASE_POOL_SIZE": str(args.threads)}
        mcp_port = free_port()
        served = Server("taskapp", [str(VENV_BIN / "taskapp"), "serve", "--port", "{port}", "--workers",
                                    str(args.workers), "--threads", str(args.threads), "--mcp-port", str(mcp_port)],
                        env, folder / "taskapp.log").start("/healthz", {})
        try:
            wait_for(mcp_port)
            token = issue_token("bench-batcher", SECRET, 86400)
            batches = batch_against_singles(served.port, token, args.rounds)
            print(f"batch of {BATCH} creates: {batches['batch_ms']:.1f} ms; {BATCH} single creates: "
                  f"{batches['singles_ms']:.1f} ms; ratio {batches['batch_over_singles']:.3f}", flush=True)
            rows = []
            for connections in (int(c) for c in args.connections.split(",")):
                for scenario, base in [*((s, f"http://127.0.0.1:{mcp_port}") for s in MCP_SCENARIOS),
                                       *((s, served.url) for s in API_SCENARIOS)]:
                    (result,) = side_by_side([base], [scenario], connections, args.seconds, users, args.slices)
                    rows.append({"scenario": scenario.name, "connections": connections, **result})
                    print(f"{scenario.name:24} c={connections:<3} {result['throughput']:7.0f}/s "
                          f"p99 {result['p99_ms']:6.1f} ms errors {result['errors']}", flush=True)
        finally:
            served.stop()
    document = {"when": time.strftime("%Y-%m-%d %H:%M", time.gmtime(started)), "machine": report.machine(),
                "batch": batches, "results": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "agents.json").write_text(json.dumps(document, indent=2) + "\n")
    print(table(document))
    return 0


def wait_for(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/.well-known/oauth-protected-resource/mcp")
            connection.getresponse().read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def table(document: dict) -> str:
    batch = document["batch"]
    lines = [f"A batch of {batch['operations']} creates: {batch['batch_ms']:.1f} ms; {batch['operations']} single "
             f"creates: {batch['singles_ms']:.1f} ms (median of {batch['rounds']}); batch ÷ singles "
             f"{batch['batch_over_singles']:.3f}", "",
             "| scenario | conns | req/s | p50 ms | p99 ms | errors |", "|---|---:|---:|---:|---:|---:|"]
    for row in document["results"]:
        lines.append(f"| {row['scenario']} | {row['connections']} | {row['throughput']:.0f} | {row['p50_ms']:.1f} | "
                     f"{row['p99_ms']:.1f} | {row['errors']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
