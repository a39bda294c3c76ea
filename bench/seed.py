"""Seeding the benchmark database: the full data set set-based through the real schema, as a
superuser; the small one through the API, as clients make their tasks.

Task ids are md5('bench-<user>-<n>')::uuid, so pgbench scripts can name a user's task without
a lookup. Full seeding turns triggers off (session_replication_role = replica) so that
created_at and updated_at can be spread over a year instead of all being now(); the small data
set keeps the API's stamps, and only its ids are renumbered to that form afterwards.
"""

import json
import threading
import urllib.request
from dataclasses import dataclass

import psycopg

from bench.scenarios import TAGS, WORDS

USERS = 200
TASKS_PER_USER = 1000
IDS_PER_USER = 100  # task ids handed to the load generator per user


@dataclass(frozen=True)
class DataSet:
    name: str
    users: int
    tasks_per_user: int


FULL = DataSet("full", USERS, TASKS_PER_USER)
# Per-user answers are small and fixed costs dominate (`python -m bench --small`).
SMALL = DataSet("small", 40, 100)


def user_id(number: int) -> str:
    return f"bench-{number}"


SEED = """
insert into tasks (id, user_id, title, description, completed, completed_at, priority, due_at, tags,
                   created_at, updated_at, recurrence, recurrence_start)
select md5('bench-' || u || '-' || n)::uuid,
       'bench-' || u,
       initcap(w[1 + (u + n) %% 10]) || ' ' || w[1 + (u * 3 + n * 7) %% 10] || ' #' || n,
       case when n %% 3 = 0 then null
            else 'Remember the ' || w[1 + (n * 5) %% 10] || ' and the ' || w[1 + (u + n * 11) %% 10] end,
       n %% 4 = 0,
       case when n %% 4 = 0 then stamp + interval '1 hour' end,
       (array['low', 'medium', 'high']::task_priority[])[1 + n %% 3],
       case when n %% 5 = 0 then null else timestamptz '2026-01-01' + (n %% 400) * interval '1 day' end,
       case n %% 4 when 0 then '{}'::text[]
                  when 1 then array[t[1 + n %% 5]]
                  else array[t[1 + n %% 5], t[1 + (n + 2) %% 5]] end,
       stamp,
       stamp + case when n %% 4 = 0 then interval '1 hour' else interval '0' end,
       case when n %% 10 = 7 then 'FREQ=DAILY' end,
       case when n %% 10 = 7 then timestamptz '2026-01-01' + (n %% 400) * interval '1 day' end
from generate_series(%(first)s, %(first)s + %(users)s - 1) u,
     generate_series(1, %(tasks)s) n,
     lateral (select timestamptz '2025-11-01' + (n * 31 + u) * interval '1 minute' as stamp) s,
     (select %(words)s::text[] as w, %(tags)s::text[] as t) v
"""

# The same rows without the recurrence columns: what `python -m bench.compare` seeds into both
# databases, since a revision from before recurring tasks has no such columns.
PLAIN_SEED = SEED.replace(", recurrence, recurrence_start)", ")").replace(
    ",\n       case when n %% 10 = 7 then 'FREQ=DAILY' end,\n"
    "       case when n %% 10 = 7 then timestamptz '2026-01-01' + (n %% 400) * interval '1 day' end", "")
assert "recurrence" not in PLAIN_SEED


# Every user's Inbox, made with the triggers on (its owner row and the membership copy), for
# a schema with lists; the tasks then go into it.
# On a Citus cluster an Inbox's id is made from its user's (public.inbox_id(), sql/citus.sql).
INBOX_ID = "md5('bench-inbox-' || u)::uuid"
INBOX_ID_ON_CITUS = "public.inbox_id('bench-' || u)"
INBOXES = """
insert into lists (id, name, personal_of, created_by)
select {inbox_id}, 'Inbox', 'bench-' || u, 'bench-' || u
from generate_series(%(first)s, %(first)s + %(users)s - 1) u
"""


def inboxes_of(admin_url: str) -> dict[str, str]:
    """Each user's Inbox id (none in a schema without lists)."""
    with psycopg.connect(admin_url) as conn:
        if not has_lists(conn):
            return {}
        return {user: str(list_id) for user, list_id in
                conn.execute("select personal_of, id from lists where personal_of is not null")}


def in_inboxes(statement: str, inbox_id: str = INBOX_ID) -> str:
    """The seed statement with each task in its user's Inbox."""
    return statement.replace("insert into tasks (id, user_id,", "insert into tasks (id, list_id, user_id,").replace(
        "select md5('bench-' || u || '-' || n)::uuid,\n", "select md5('bench-' || u || '-' || n)::uuid,\n"
        f"       {inbox_id},\n")


def has_lists(conn) -> bool:
    return conn.execute("select to_regclass('public.lists') is not null").fetchone()[0]


def seed(admin_url: str, users: int = USERS, tasks: int = TASKS_PER_USER, recurring: bool = True,
         first: int = 1) -> int:
    """The full data set (users `bench-<first>` on, `tasks` each); without `recurring`, no task
    recurs (as in a schema from before recurrence). The count of every task in the database."""
    statement = SEED if recurring else PLAIN_SEED
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if has_lists(conn):
            on_citus = conn.execute("select to_regprocedure('public.inbox_id(text)') is not null").fetchone()[0]
            inbox_id = INBOX_ID_ON_CITUS if on_citus else INBOX_ID
            conn.execute(INBOXES.format(inbox_id=inbox_id), {"users": users, "first": first})
            statement = in_inboxes(statement, inbox_id)
        conn.execute("set session_replication_role = replica")
        conn.execute(statement, {"users": users, "tasks": tasks, "words": list(WORDS), "tags": list(TAGS),
                                 "first": first})
        conn.execute("reset session_replication_role")
        conn.execute("vacuum analyze tasks")
        return conn.execute("select count(*) from tasks").fetchone()[0]


def task_body(user: int, n: int) -> dict:
    """A task as a client would send it, varied like the full data set's rows."""
    body = {"title": f"{WORDS[(user + n) % 10].title()} {WORDS[(user * 3 + n * 7) % 10]} #{n}",
            "priority": ("low", "medium", "high")[n % 3]}
    if n % 3:
        body["description"] = f"Remember the {WORDS[(n * 5) % 10]} and the {WORDS[(user + n * 11) % 10]}"
    if n % 5:
        body["due_at"] = f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T09:00:00+01:00"
    if n % 4:
        body["tags"] = [TAGS[n % 5]] if n % 4 == 1 else [TAGS[n % 5], TAGS[(n + 2) % 5]]
    if n % 10 == 7:  # open, with a due date: the "complete recurring" scenario's tasks
        body["recurrence"] = "FREQ=DAILY"
    return body


RENUMBER = """
update tasks set id = md5(user_id || '-' || numbered.n)::uuid
from (select id, row_number() over (partition by user_id order by created_at, id) as n from tasks) numbered
where tasks.id = numbered.id
"""


def seed_through_api(base_url: str, admin_url: str, tokens: dict[int, str], data: DataSet, clients: int = 8) -> int:
    """POST every user's tasks to the running service, then give them md5 ids (see above)."""
    failures = []

    def client(numbers: list[int]) -> None:
        for user in numbers:
            for n in range(1, data.tasks_per_user + 1):
                request = urllib.request.Request(
                    base_url + "/api/me/tasks", data=json.dumps(task_body(user, n)).encode(), method="POST",
                    headers={"Authorization": f"Bearer {tokens[user]}", "Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=30) as response:
                    if response.status != 201:
                        failures.append(response.status)

    numbers = list(tokens)
    threads = [threading.Thread(target=client, args=(numbers[i::clients],)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"seeding through the API failed: {failures[:5]}")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("set session_replication_role = replica")  # ids change; stamps stay as made
        conn.execute(RENUMBER)
        conn.execute("reset session_replication_role")
        conn.execute("vacuum analyze tasks")
        return conn.execute("select count(*) from tasks").fetchone()[0]


def sample_ids(admin_url: str, users: int = USERS, per_user: int = IDS_PER_USER) -> dict[str, list[str]]:
    with psycopg.connect(admin_url) as conn:
        rows = conn.execute(
            "select 'bench-' || u, md5('bench-' || u || '-' || n)::uuid::text"
            " from generate_series(1, %s) u, generate_series(1, %s) n order by u, n",
            (users, per_user),
        ).fetchall()
    ids: dict[str, list[str]] = {}
    for user, task_id in rows:
        ids.setdefault(user, []).append(task_id)
    return ids
