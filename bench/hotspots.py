"""Where a served request's CPU goes, sampled from the running workers with py-spy:
`python -m bench.hotspots [scenario …] [--seconds 20] [--connections 16]`.

Seeds the full data set, serves taskapp with `taskapp serve` as deployed, drives one scenario
at a time with wrk and meanwhile runs `py-spy record --gil --subprocesses` against the server
(samples only while a thread holds the interpreter, so waiting on the database or the network
is not counted). Each sample is charged to the innermost frame of a layer it recognises (the
HTTP server, Flask, SQLAlchemy, psycopg, taskapp's own code, …), and the layers' shares are
applied to the CPU the serving processes used per request. Also prints the functions that held
the interpreter most (their own time). Writes bench/results/hotspots.json.
"""

import argparse
import collections
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from bench.__main__ import IDENTITY_KEY_SECRET, SECRET, database, users_file
from bench.scenarios import BY_NAME
from bench.seed import seed
from bench.targets import ROOT, VENV_BIN, Server, wrk
from taskapp.identity.issuing import issue_token

# (layer, pattern of the frame's file path), innermost recognised frame wins; first match.
LAYERS = (
    ("auth (token checks)", r"/(jwt|flask_jwt_extended)/"),
    ("cursor signing (itsdangerous)", r"/itsdangerous/"),
    ("rate limits", r"/limits/|taskapp/web/rate_limits"),
    ("metrics", r"/prometheus_client/"),
    ("logging", r"/logging/|taskapp/web/observability"),
    ("JSON", r"/(json|orjson)/"),
    ("marshmallow", r"/marshmallow/"),
    ("flask-smorest + webargs + apispec", r"/(flask_smorest|webargs|apispec)/"),
    ("SQLAlchemy", r"/sqlalchemy/"),
    ("driver (psycopg)", r"/psycopg(_pool|_binary)?/"),
    ("taskapp's own code", r"/taskapp/"),
    ("Flask/werkzeug", r"/(flask|werkzeug|click|blinker)/"),
    ("HTTP server (Granian)", r"/granian/"),
)
FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^)]*?)(?::\d+)?\)$")


def layer_of(stack: list[str]) -> str:
    for frame in reversed(stack):
        found = FRAME.match(frame)
        path = found.group("file") if found else frame
        for name, pattern in LAYERS:
            if re.search(pattern, path):
                return name
    return "other (interpreter, standard library)"


def cpu_seconds(pid: int) -> float:
    process = psutil.Process(pid)
    total = 0.0
    for each in [process, *process.children(recursive=True)]:
        try:
            times = each.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def profile(server: Server, scenario: str, users: Path, seconds: int, connections: int, folder: Path) -> dict:
    raw = folder / f"{scenario.replace(' ', '-')}.txt"
    spy = subprocess.Popen([str(VENV_BIN / "py-spy"), "record", "--pid", str(server.process.pid), "--subprocesses",
                            "--gil", "--full-filenames", "--rate", "200", "--format", "raw", "--output", str(raw),
                            "--duration", str(seconds)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    before = cpu_seconds(server.process.pid)
    measured = wrk(server.url, [BY_NAME[scenario]], connections, seconds - 2, users)
    used = cpu_seconds(server.process.pid) - before
    spy.wait(timeout=seconds + 60)
    layers, functions = collections.Counter(), collections.Counter()
    for line in raw.read_text().splitlines():
        stack_text, _, count = line.rpartition(" ")
        stack = stack_text.split(";")
        layers[layer_of(stack)] += int(count)
        functions[stack[-1]] += int(count)
    samples = sum(layers.values()) or 1
    per_request_ms = used / measured["requests"] * 1000
    return {"scenario": scenario, "connections": connections, "throughput": measured["throughput"],
            "cpu_ms_per_request": per_request_ms,
            "layers_ms": {name: per_request_ms * count / samples for name, count in layers.most_common()},
            "top_functions": [(name, round(100 * count / samples, 1)) for name, count in functions.most_common(25)]}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hotspots", description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", default=["get one", "search"])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    results = []
    with database() as (admin_url, app_url), tempfile.TemporaryDirectory(prefix="taskapp-hotspots-") as tmp:
        folder = Path(tmp)
        seed(admin_url)
        env = {"DATABASE_URL": app_url, "JWT_SECRET_KEY": SECRET, "TASKAPP_IDENTITY_KEY": IDENTITY_KEY_SECRET,
               "DATABASE_POOL_SIZE": "4"}
        server = Server("taskapp", [str(VENV_BIN / "taskapp"), "serve", "--port", "{port}", "--mcp-port", "0"], env,
                        folder / "taskapp.log")
        users = users_file(admin_url, folder)
        try:
            server.start("/api/me/tasks?limit=1", {"Authorization": f"Bearer {issue_token('bench-1', SECRET)}"})
            for scenario in args.scenarios:
                wrk(server.url, [BY_NAME[scenario]], 4, 3, users)  # warm up
                result = profile(server, scenario, users, args.seconds, args.connections, folder)
                results.append(result)
                print(f"\n{scenario}: {result['throughput']:.0f} req/s, "
                      f"{result['cpu_ms_per_request']:.2f} ms CPU per request")
                for name, ms in result["layers_ms"].items():
                    print(f"  {name:<40} {ms:6.3f} ms")
                print("  held the interpreter most (own time, % of samples):")
                for name, share in result["top_functions"][:15]:
                    print(f"    {share:5.1f} %  {name}")
        finally:
            server.stop()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "hotspots.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
