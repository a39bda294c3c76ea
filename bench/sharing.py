"""Shared lists: each scenario on a data set with sharing against the same scenario on one
without, side by side in one run: `python -m bench.sharing`.

Both data sets have 40 users, each with an Inbox of 100 tasks (seeded set-based through the
real schema). The sharing one adds 24 lists of 100 tasks, each shared by its owner with four
others, so that every user is a member of 3 shared lists besides their Inbox: 400 tasks each can
see instead of 100. The scenarios are those a member of shared lists runs: a page across all
their lists, a page of one list, a search, and getting, creating and toggling a task — in a
shared list on the sharing data set, in the Inbox on the other. Both are served alike by this
revision; wrk alternates slices between them. Also measured: what the membership lookup costs a
statement (EXPLAIN ANALYZE of its InitPlan). Writes bench/results/sharing.json.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

from bench import report
from bench.__main__ import APP_PASSWORD, IDENTITY_KEY_SECRET, SECRET, database_server, fresh_databases
from bench.scenarios import Scenario
from bench.seed import seed
from bench.targets import ROOT, VENV_BIN, Server, side_by_side, wrk
from taskapp.config import libpq_url
from taskapp.database.migrations import upgrade
from taskapp.identity.issuing import issue_token
from taskapp.identity.proof import IdentityKey, act_as

USERS, TASKS, SHARED_LISTS, MEMBERS = 40, 100, 24, 5

SCENARIOS = (
    Scenario("list 20, every list", "GET", "/api/me/tasks?limit=20", ""),
    Scenario("list 20, one list", "GET", "/api/me/tasks?list_id={list}&limit=20", ""),
    Scenario("search", "GET", "/api/me/tasks?q={q}&limit=20", ""),
    Scenario("get one", "GET", "/api/me/tasks/{id}", ""),
    Scenario("create", "POST", "/api/me/tasks", "", body='{"title": "{title}", "tags": ["{tag}"], "list_id": "{list}"}',
             writes=True),
    Scenario("toggle", "PATCH", "/api/me/tasks/{id}/complete", "", writes=True),
)

# The shared lists: list k is owned by user k+1 and shared with the next four users (mod 40), so
# that 24 lists × 5 members give every user 3 (120 memberships), each list's tasks made by its owner.
SHARE = """
insert into lists (id, name, created_by)
select md5('bench-shared-' || k)::uuid, 'Shared ' || k, 'bench-' || (1 + (k * 5) %% %(users)s)
from generate_series(0, %(lists)s - 1) k;
insert into list_members (list_id, user_id, role)
select md5('bench-shared-' || k)::uuid, 'bench-' || (1 + (k * 5 + m) %% %(users)s), 'editor'
from generate_series(0, %(lists)s - 1) k, generate_series(1, %(members)s - 1) m;
set session_replication_role = replica;
insert into tasks (id, list_id, user_id, title, description, priority, tags, created_at, updated_at)
select md5('bench-shared-' || k || '-' || n)::uuid, md5('bench-shared-' || k)::uuid,
       'bench-' || (1 + (k * 5) %% %(users)s),
       'Shared ' || (array['invoice', 'report', 'garden', 'meeting', 'dentist'])[1 + n %% 5] || ' #' || n,
       case when n %% 3 = 0 then null else 'About the ' || (array['taxes', 'release', 'review'])[1 + n %% 3] end,
       (array['low', 'medium', 'high']::task_priority[])[1 + n %% 3],
       array[(array['work', 'home', 'urgent', 'errand', 'later'])[1 + n %% 5]],
       timestamptz '2025-11-01' + (n * 37 + k) * interval '1 minute',
       timestamptz '2025-11-01' + (n * 37 + k) * interval '1 minute'
from generate_series(0, %(lists)s - 1) k, generate_series(1, %(tasks)s) n;
reset session_replication_role;
vacuum analyze tasks;
vacuum analyze list_members;
"""


def users_file(admin_url: str, folder: Path, name: str, shared: bool) -> Path:
    """A token per user, their list (a shared one, or their Inbox), and the ids of its tasks."""
    path = folder / f"users-{name}.txt"
    lines = []
    with psycopg.connect(admin_url) as conn:
        for u in range(1, USERS + 1):
            user = f"bench-{u}"
            if shared:
                (list_id,) = conn.execute(
                    "select list_id from list_members where user_id = %s and list_id in"
                    " (select id from lists where personal_of is null) order by list_id limit 1", (user,)).fetchone()
            else:
                (list_id,) = conn.execute("select id from lists where personal_of = %s", (user,)).fetchone()
            ids = [str(row[0]) for row in conn.execute(
                "select id from tasks where list_id = %s order by id limit 100", (list_id,))]
            lines.append(f"{issue_token(user, SECRET, 86400)} - {list_id} {' '.join(ids)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def lookup_cost(app_url: str, key: IdentityKey, rounds: int = 200) -> dict:
    """The membership lookup's time per statement, from its InitPlan in EXPLAIN ANALYZE (median, µs)."""
    times = []
    with psycopg.connect(app_url) as conn:
        for n in range(rounds):
            with conn.transaction():
                act_as(conn, key, f"bench-{1 + n % USERS}")
                (plan,) = conn.execute("explain (analyze, format json) select id from tasks limit 1").fetchone()
                nodes = [plan[0]["Plan"]]
                while nodes:
                    node = nodes.pop()
                    if node.get("Parent Relationship") == "InitPlan":
                        times.append(node["Actual Total Time"] * 1000)
                    nodes.extend(node.get("Plans", []))
    return {"median_us": statistics.median(times), "p95_us": sorted(times)[int(len(times) * 0.95)]}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sharing", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--slices", type=int, default=10)
    parser.add_argument("--connections", default="1,16")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    key = IdentityKey(IDENTITY_KEY_SECRET)
    started, rows = time.time(), []
    with tempfile.TemporaryDirectory(prefix="taskapp-sharing-") as tmp, database_server() as server, \
            fresh_databases(server, 2) as admin_urls:
        folder = Path(tmp)
        targets, users, costs = [], [], {}
        for name, admin_url in zip(("inbox only", "sharing"), admin_urls, strict=True):
            url = libpq_url(admin_url)
            upgrade(admin_url, APP_PASSWORD, key)
            seed(url, users=USERS, tasks=TASKS, recurring=False)
            if name == "sharing":
                with psycopg.connect(url, autocommit=True) as conn:
                    for statement in filter(str.strip, SHARE.split(";\n")):
                        conn.execute(statement, {"users": USERS, "lists": SHARED_LISTS, "members": MEMBERS,
                                                 "tasks": TASKS})
            app_url = libpq_url(admin_url.set(username="taskapp_app", password=APP_PASSWORD))
            costs[name] = lookup_cost(app_url, key)
            users.append(users_file(url, folder, name.replace(" ", "-"), shared=name == "sharing"))
            env = {"DATABASE_URL": app_url, "JWT_SECRET_KEY": SECRET, "TASKAPP_IDENTITY_KEY": IDENTITY_KEY_SECRET,
                   "DATABASE_POOL_SIZE": str(args.threads)}
            for variable in ("DATABASE_ADMIN_URL", "TASKAPP_DATA_DIR"):
                os.environ.pop(variable, None)
            targets.append(Server(name, [str(VENV_BIN / "taskapp"), "serve", "--port", "{port}", "--workers",
                                         str(args.workers), "--threads", str(args.threads)], env,
                                  folder / f"{name.replace(' ', '-')}.log"))
        probe = {"Authorization": f"Bearer {issue_token('bench-1', SECRET, 86400)}"}
        try:
            for target in targets:
                target.start("/api/me/tasks?limit=1", probe)
            for target, their_users in zip(targets, users, strict=True):
                wrk(target.url, list(SCENARIOS), 4, 3, their_users)
            for scenario in SCENARIOS:
                for count in (int(c) for c in args.connections.split(",")):
                    inbox, shared = side_by_side([target.url for target in targets], [scenario], count,
                                                 args.seconds, users, args.slices)
                    rows.append({"scenario": scenario.name, "connections": count, "inbox_only": inbox,
                                 "sharing": shared})
                    print(f"{scenario.name:<20} c={count:<3} inbox only {inbox['throughput']:7.0f}/s p99 "
                          f"{inbox['p99_ms']:6.1f} ms | sharing {shared['throughput']:7.0f}/s p99 "
                          f"{shared['p99_ms']:6.1f} ms | ratio {shared['throughput'] / inbox['throughput']:.1%}"
                          f" | errors {inbox['errors']}/{shared['errors']}", flush=True)
        finally:
            for target in targets:
                target.stop()
    document = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)), "machine": report.machine(),
                "settings": {"seconds": args.seconds, "slices": args.slices, "workers": args.workers,
                             "threads": args.threads, "users": USERS, "tasks_per_list": TASKS,
                             "shared_lists": SHARED_LISTS, "members_per_list": MEMBERS},
                "membership_lookup": costs, "results": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sharing.json").write_text(json.dumps(document, indent=2) + "\n")
    print(table(document))
    return 0


def table(document: dict) -> str:
    lines = ["| scenario | conns | inbox only req/s | sharing req/s | sharing ÷ inbox only | p99 ms (inbox / sharing) "
             "| errors |", "|---|---:|---:|---:|---:|---:|---:|"]
    for row in document["results"]:
        a, b = row["inbox_only"], row["sharing"]
        lines.append(f"| {row['scenario']} | {row['connections']} | {a['throughput']:.0f} | {b['throughput']:.0f} | "
                     f"{b['throughput'] / a['throughput']:.1%} | {a['p99_ms']:.1f} / {b['p99_ms']:.1f} | "
                     f"{a['errors'] + b['errors']} |")
    costs = document["membership_lookup"]
    lines.append("")
    lines.append("Membership lookup per statement (InitPlan, median / p95 µs): " + "; ".join(
        f"{name} {cost['median_us']:.0f} / {cost['p95_us']:.0f}" for name, cost in costs.items()))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
