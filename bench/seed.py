"""Seeding the benchmark database through the real schema, set-based, as a superuser.

Task ids are md5('bench-<user>-<n>')::uuid, so pgbench scripts can name a user's task without
a lookup. Triggers are off while seeding (session_replication_role = replica) so that
created_at and updated_at can be spread over a year instead of all being now().
"""

import psycopg

from bench.scenarios import TAGS, WORDS

USERS = 200
TASKS_PER_USER = 1000
IDS_PER_USER = 100  # task ids handed to the load generator per user


def user_id(number: int) -> str:
    return f"bench-{number}"


SEED = """
insert into tasks (id, user_id, title, description, completed, completed_at, priority, due_at, tags,
                   created_at, updated_at)
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
       stamp + case when n %% 4 = 0 then interval '1 hour' else interval '0' end
from generate_series(1, %(users)s) u,
     generate_series(1, %(tasks)s) n,
     lateral (select timestamptz '2025-11-01' + (n * 31 + u) * interval '1 minute' as stamp) s,
     (select %(words)s::text[] as w, %(tags)s::text[] as t) v
"""


def seed(admin_url: str, users: int = USERS, tasks: int = TASKS_PER_USER) -> int:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute("set session_replication_role = replica")
        conn.execute(SEED, {"users": users, "tasks": tasks, "words": list(WORDS), "tags": list(TAGS)})
        conn.execute("reset session_replication_role")
        conn.execute("vacuum analyze tasks")
        return conn.execute("select count(*) from tasks").fetchone()[0]


def sample_ids(admin_url: str, users: int = USERS, per_user: int = IDS_PER_USER) -> dict[str, list[str]]:
    with psycopg.connect(admin_url) as conn:
        rows = conn.execute(
            "select 'bench-' || u, md5('bench-' || u || '-' || n)::uuid::text"
            " from generate_series(1, %s) u, generate_series(1, %s) n",
            (users, per_user),
        ).fetchall()
    ids: dict[str, list[str]] = {}
    for user, task_id in rows:
        ids.setdefault(user, []).append(task_id)
    return ids
