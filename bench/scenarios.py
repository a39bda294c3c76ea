"""The benchmark's scenarios: the HTTP request, and the SQL a reference runs for it.

The SQL is what taskapp's statements compile to (taskapp/tasks/queries.py, listing.py), written
once here with `:name` parameters: pgbench reads them as its variables, and the bare Flask
reference binds them as psycopg parameters. Each transaction sets the identity first, as the
service does.
"""

import base64
import hashlib
import json
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from itsdangerous import BadSignature, URLSafeSerializer

from taskapp.changes.queries import FEED as CHANGES_FEED

COLUMNS = ("id, user_id, list_id, assignee_id, title, description, completed, completed_at, priority, due_at, tags, "
           "created_at, updated_at, recurrence, time_zone, repeat_from")
NEWEST_FIRST = "order by created_at desc, id desc"
SEARCH = "(numnode(plainto_tsquery('simple', :q)) = 0 or search @@ plainto_tsquery('simple', :q))"
FILTERED = "completed is false and tags @> array[:tag]::text[]"
WORDS = ("invoice", "report", "garden", "meeting", "dentist", "groceries", "taxes", "release", "review", "travel")
TAGS = ("work", "home", "urgent", "errand", "later")


@dataclass(frozen=True)
class Scenario:
    name: str
    method: str
    path: str  # with {id}, {q}, {tag} filled in per request (by bench/wrk.lua)
    sql: str  # one statement, `:name` parameters (user, id, q, tag, title)
    body: str | None = None
    writes: bool = False
    in_mix: bool = True  # the mix keeps the scenarios it had, so runs stay comparable
    needs_sync_token: bool = False  # {since}: each user's current change-feed token (taken just before)


SCENARIOS = (
    Scenario("list 20", "GET", "/api/me/tasks?limit=20", f"select {COLUMNS} from tasks {NEWEST_FIRST} limit 21"),
    Scenario("list 100", "GET", "/api/me/tasks?limit=100", f"select {COLUMNS} from tasks {NEWEST_FIRST} limit 101"),
    Scenario("get one", "GET", "/api/me/tasks/{id}", f"select {COLUMNS} from tasks where id = :id"),
    Scenario(
        "search", "GET", "/api/me/tasks?q={q}&limit=20",
        f"select {COLUMNS} from tasks where {SEARCH} {NEWEST_FIRST} limit 21",
    ),
    Scenario(
        "filtered, sorted", "GET", "/api/me/tasks?completed=false&tag={tag}&sort=due_at&limit=20",
        f"select {COLUMNS} from tasks where {FILTERED} order by due_at asc nulls last, id asc limit 21",
    ),
    Scenario(
        "create", "POST", "/api/me/tasks",
        f"insert into tasks (title, priority, tags) values (:title, 'medium', array[:tag]::text[]) returning {COLUMNS}",
        body='{"title": "{title}", "tags": ["{tag}"]}', writes=True,
    ),
    Scenario(
        "toggle", "PATCH", "/api/me/tasks/{id}/complete",
        f"update tasks set completed = not completed where id = :id and (recurrence is null or completed) "
        f"returning {COLUMNS}", writes=True,
    ),
    # An open daily task (every tenth of the seed's, {rid}) completed: taskapp records the
    # occurrence and computes the next one with dateutil; the references move it a day on in SQL.
    Scenario(
        "complete recurring", "PATCH", "/api/me/tasks/{rid}/complete",
        "with moved as (update tasks set due_at = due_at + interval '1 day', "
        "series_completions = series_completions + 1 where id = :rid and recurrence is not null "
        f"and not completed returning {COLUMNS}), recorded as (insert into task_completions "
        "(list_id, task_id, due_at, completed_at) select list_id, id, due_at - interval '1 day', updated_at "
        f"from moved) select {COLUMNS} from moved",
        writes=True, in_mix=False,
    ),
)
# A client polling the change feed with a current token: nothing new, the cheap answer it must be.
# The references run taskapp's own feed statement from a position as current (the snapshot of
# the moment: nothing after it), at the start of a round.
FEED_SINCE = (
    CHANGES_FEED.text.replace(":prev", "pg_current_snapshot()::text").replace("CAST(:target AS pg_snapshot)", "NULL")
    .replace(":after_xid", "'0'").replace(":after_id", "'00000000-0000-0000-0000-000000000000'")
    .replace(":limit", "101")
)
SCENARIOS = (
    *SCENARIOS,
    Scenario("sync, nothing new", "GET", "/api/me/changes?since={since}", FEED_SINCE, in_mix=False,
             needs_sync_token=True),
)
BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
SYNC_TOKEN_SALT = "taskapp.changes.position"


def sync_position(token: str, user: str, cursor_key: str) -> dict | None:
    """What the references do with a sync token taskapp made (taskapp.web.cursors): open its
    Fernet seal (a key derived from the cursor key and the salt), check its itsdangerous
    signature and that it is bound to `user`. The position, or None for a token not theirs."""
    seal = Fernet(base64.urlsafe_b64encode(hashlib.sha256(f"{SYNC_TOKEN_SALT}\0{cursor_key}".encode()).digest()))
    try:
        position = URLSafeSerializer(cursor_key, salt=SYNC_TOKEN_SALT).loads(seal.decrypt(token.encode()).decode())
    except (InvalidToken, BadSignature, ValueError):
        return None
    scope = hashlib.sha256(json.dumps({"user": user}).encode()).hexdigest()[:24]  # taskapp.web.cursors.scope_of
    if not isinstance(position, dict) or position.pop("f", None) != scope:
        return None
    return position
MIX = "mix"  # every scenario above with in_mix, chosen at random per request
IN_MIX = tuple(scenario for scenario in SCENARIOS if scenario.in_mix)
RECURRING_EVERY = 10  # task n of each user recurs when n % 10 == 7 (bench/seed.py)
