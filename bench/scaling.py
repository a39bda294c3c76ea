"""How cost grows with the data: every scenario at 10 thousand, 1 million and 10 million tasks,
and one power user's pages among them: `python -m bench.scaling` (also the last part of
`python -m bench`).

One database grows in three steps, seeded set-based through the real schema as the full data
set is (bench/seed.py), each user with an Inbox of 100 tasks:

- 10 thousand tasks: 100 users;
- 1 million: 9,000 users and one power user with 100,000 tasks;
- 10 million: 99,000 users and the same power user.

At each size `taskapp serve` is started afresh (deployed defaults: logging, metrics and rate
limits on) and wrk drives every scenario at 1 and 16 connections as random users among the
first 100 — the same users, the same tasks, in a table a hundred and a thousand times larger.
Then the power user's pages (list of 20 and of 100, search, the filtered page, get one): one
user's requests are what the per-user rate limit exists to stop, so those run against a second
`taskapp serve`, identical but for a budget the load cannot reach. Writes
bench/results/scaling.json and scaling.png and prints the tables.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench import report
from bench.__main__ import IDENTITY_KEY_SECRET, SECRET, database, users_file
from bench.scenarios import BY_NAME, IN_MIX, MIX, SCENARIOS
from bench.seed import seed
from bench.targets import ROOT, VENV_BIN, Server, sync_tokens, wrk
from taskapp.identity.issuing import issue_token

TASKS_PER_USER = 100
MEASURED_USERS = 100  # bench-1 … bench-100, present at every size
POWER_USER, POWER_TASKS = 0, 100_000  # bench-0
# (name, users added at this step after those before, power user added at this step)
STEPS = (("10 thousand", 100, False), ("1 million", 8_900, True), ("10 million", 90_000, False))
POWER_SCENARIOS = ("list 20", "list 100", "search", "filtered, sorted", "get one")


def power_users_file(admin_url: str, folder: Path, tasks: int) -> Path:
    """The power user's line: token, no sync token, their Inbox, 100 of their task ids."""
    user = f"bench-{POWER_USER}"
    with psycopg.connect(admin_url) as conn:
        (inbox,) = conn.execute("select id from lists where personal_of = %s", (user,)).fetchone()
    ids = sample_ids_of(admin_url, POWER_USER, tasks)
    path = folder / "power-user.txt"
    path.write_text(f"{issue_token(user, SECRET, 86400)} - {inbox} {' '.join(ids)}\n")
    return path


def sample_ids_of(admin_url: str, user: int, tasks: int, count: int = 100) -> list[str]:
    """`count` of a user's task ids, spread over all their tasks (bench/seed.py names them)."""
    step = max(1, tasks // count)
    with psycopg.connect(admin_url) as conn:
        return [row[0] for row in conn.execute(
            "select md5('bench-' || %s || '-' || n)::uuid::text from generate_series(1, %s, %s) n",
            (user, tasks, step)).fetchall()][:count]


def serve(app_url: str, folder: Path, name: str, workers: int, threads: int, **extra) -> Server:
    env = {"DATABASE_URL": app_url, "JWT_SECRET_KEY": SECRET, "TASKAPP_IDENTITY_KEY": IDENTITY_KEY_SECRET,
           "DATABASE_POOL_SIZE": str(threads), **extra}
    return Server(name, [str(VENV_BIN / "taskapp"), "serve", "--port", "{port}", "--workers", str(workers),
                         "--threads", str(threads), "--mcp-port", "0"], env, folder / f"{name}.log")


def cells(args, url: str, size: str, who: str, plan, users) -> list[dict]:
    """wrk over each (name, scenarios) of `plan` at each concurrency; `users` is the users file,
    or a function that makes it just before the named scenario runs."""
    rows = []
    for name, chosen in plan:
        users_now = users(name) if callable(users) else users
        for count in args.connections:
            rows.append({"size": size, "who": who, "scenario": name, "connections": count,
                         **wrk(url, chosen, count, args.seconds, users_now)})
            print(line(rows[-1]), flush=True)
    return rows


def measure(args, admin_url: str, app_url: str, folder: Path, size: str, power: bool) -> list[dict]:
    rows = []
    probe = {"Authorization": f"Bearer {issue_token('bench-1', SECRET, 86400)}"}
    slug = size.replace(" ", "-")
    server = serve(app_url, folder, f"taskapp-{slug}", args.workers, args.threads)
    try:
        server.start("/api/me/tasks?limit=1", probe)
        tokens = {f"bench-{n}": issue_token(f"bench-{n}", SECRET, 86400) for n in range(1, MEASURED_USERS + 1)}
        users = users_file(admin_url, folder, MEASURED_USERS, sync_tokens(server.url, tokens))

        def users_for(name: str) -> Path:  # the feed poll's tokens current as of now: nothing new
            if BY_NAME.get(name) is not None and BY_NAME[name].needs_sync_token:
                return users_file(admin_url, folder, MEASURED_USERS, sync_tokens(server.url, tokens))
            return users

        wrk(server.url, list(IN_MIX), 4, 3, users)  # warm up: imports, pools, plans
        plan = [(scenario.name, [scenario]) for scenario in SCENARIOS] + [(MIX, list(IN_MIX))]
        rows += cells(args, server.url, size, "users", plan, users_for)
    finally:
        server.stop()
    if not power:
        return rows
    heavy = serve(app_url, folder, f"taskapp-power-user-{slug}", args.workers, args.threads,
                  TASKAPP_RATE_LIMIT="1000000/second")
    try:
        heavy.start("/api/me/tasks?limit=1", probe)
        users = power_users_file(admin_url, folder, round(POWER_TASKS * args.fraction))
        wrk(heavy.url, [BY_NAME[name] for name in POWER_SCENARIOS], 4, 3, users)
        plan = [(name, [BY_NAME[name]]) for name in POWER_SCENARIOS]
        rows += cells(args, heavy.url, size, "power user", plan, users)
    finally:
        heavy.stop()
    return rows


def line(row: dict) -> str:
    return (f"{row['size']:<12} {row['who']:<10} {row['scenario']:<19} c={row['connections']:<3} "
            f"{row['throughput']:7.0f}/s p50 {row['p50_ms']:6.1f} p99 {row['p99_ms']:6.1f} ms errors {row['errors']}")


def run(args) -> dict:
    started, rows, sizes = time.time(), [], []
    with database() as (admin_url, app_url), tempfile.TemporaryDirectory(prefix="taskapp-scaling-") as tmp:
        folder = Path(tmp)
        added, has_power = 0, False
        for size, users, power in STEPS:
            began = time.time()
            users = max(MEASURED_USERS, round(users * args.fraction)) if not added else round(users * args.fraction)
            total = seed(admin_url, users=users, tasks=TASKS_PER_USER, first=added + 1)
            added += users
            if power:
                total = seed(admin_url, users=1, tasks=round(POWER_TASKS * args.fraction), first=POWER_USER)
                has_power = True
            seconds = time.time() - began
            sizes.append({"size": size, "tasks": total, "users": added + has_power, "seed_seconds": round(seconds)})
            print(f"{size}: {total} tasks, {added + has_power} users (seeded in {seconds:.0f} s)", flush=True)
            rows += measure(args, admin_url, app_url, folder, size, has_power)
    return {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)), "machine": report.machine(),
            "settings": {"seconds": args.seconds, "workers": args.workers, "threads": args.threads,
                         "tasks_per_user": TASKS_PER_USER, "power_user_tasks": POWER_TASKS},
            "sizes": sizes, "results": rows}


def table(document: dict) -> str:
    """Throughput and p99 per scenario and size, and the change from 1 to 10 million."""
    sizes = [entry["size"] for entry in document["sizes"]]
    found = {(r["who"], r["scenario"], r["connections"], r["size"]): r for r in document["results"]}
    keys = sorted({(r["who"], r["scenario"], r["connections"]) for r in document["results"]},
                  key=lambda key: (key[0] != "users", [row["scenario"] for row in document["results"]].index(key[1]),
                                   key[2]))
    head = " | ".join(f"{size} req/s (p99 ms)" for size in sizes)
    lines = [f"| who | scenario | conns | {head} | 10 million ÷ 1 million |",
             "|---|---|---:|" + "---:|" * len(sizes) + "---:|"]
    for who, scenario, connections in keys:
        cells = []
        for size in sizes:
            row = found.get((who, scenario, connections, size))
            cells.append(f"{row['throughput']:.0f} ({row['p99_ms']:.1f})" if row else "—")
        big, bigger = found.get((who, scenario, connections, "1 million")), found.get(
            (who, scenario, connections, "10 million"))
        change = f"{bigger['throughput'] / big['throughput']:.2f}" if big and bigger else "—"
        lines.append(f"| {who} | {scenario} | {connections} | {' | '.join(cells)} | {change} |")
    return "\n".join(lines)


def chart(document: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [entry["tasks"] for entry in document["sizes"]]
    names = [entry["size"] for entry in document["sizes"]]
    figure, (throughput, p99) = plt.subplots(1, 2, figsize=(13, 5))
    series = {}
    for row in document["results"]:
        if row["connections"] == max(r["connections"] for r in document["results"]):
            series.setdefault((row["who"], row["scenario"]), {})[row["size"]] = row
    for (who, scenario), by_size in series.items():
        xs = [tasks for tasks, name in zip(sizes, names, strict=True) if name in by_size]
        label = scenario if who == "users" else f"{scenario} (power user)"
        style = "-o" if who == "users" else "--s"
        throughput.plot(xs, [by_size[n]["throughput"] for n in names if n in by_size], style, label=label)
        p99.plot(xs, [by_size[n]["p99_ms"] for n in names if n in by_size], style, label=label)
    for axis, label in ((throughput, "requests / s"), (p99, "p99 latency, ms")):
        axis.set_xscale("log")
        axis.set_xlabel("tasks in the database")
        axis.set_ylabel(label)
    throughput.set_title(f"taskapp as the data grows, 16 connections — {document['when']}")
    throughput.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def arguments(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.scaling", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per scenario, size and concurrency")
    parser.add_argument("--connections", default="1,16")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--fraction", type=float, default=1.0,
                        help="seed this fraction of each size (a smoke run: 0.01); the names stay")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    args.connections = [int(c) for c in args.connections.split(",")]
    return args


def main(args=None) -> int:
    args = args or arguments()
    document = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scaling.json").write_text(json.dumps(document, indent=2) + "\n")
    chart(document, args.out / "scaling.png")
    print(table(document))
    print(f"wrote {args.out / 'scaling.json'} and {args.out / 'scaling.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
