"""The Python floor: bare Flask views doing the same job as taskapp, with nothing in between.

No flask-smorest, no marshmallow, no SQLAlchemy: PyJWT checks the same HS256 token, psycopg
runs the same SQL (bench/scenarios.py) in a transaction that first sets the identity and its
proof (taskapp.identity, a few lines of hmac), and the
response is the same JSON with the same headers. Served by Granian with the settings `taskapp serve` uses.
"""

import hashlib
import json
import os
import re
from datetime import UTC, datetime

import jwt
from flask import Flask, Response, request
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from bench.scenarios import BY_NAME, COLUMNS, sync_position
from taskapp.identity.proof import IdentityKey, act_as

SECRET = os.environ["JWT_SECRET_KEY"]
IDENTITY_KEY = IdentityKey(os.environ["TASKAPP_IDENTITY_KEY"])
pool = ConnectionPool(
    os.environ["DATABASE_URL"], min_size=int(os.environ.get("DATABASE_POOL_SIZE", "5")),
    max_size=int(os.environ.get("DATABASE_POOL_SIZE", "5")), kwargs={"row_factory": dict_row}, open=True,
)
app = Flask(__name__)


def psycopg_sql(sql: str) -> str:
    return re.sub(r":(\w+)", r"%(\1)s", sql.replace("::", "\x00")).replace("\x00", "::")


SQL = {name: psycopg_sql(scenario.sql) for name, scenario in BY_NAME.items()}


def default(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def answer(body, status=200, headers=None) -> Response:
    return Response(json.dumps(body, default=default), status, headers, mimetype="application/json")


def etag(task) -> dict:
    version = f"{task['id']}:{task['updated_at'].isoformat()}"
    return {"ETag": '"' + hashlib.sha256(version.encode()).hexdigest()[:32] + '"'}


def run(name: str, **params):
    """One transaction: set the caller's identity, run the scenario's statement."""
    authorization = request.headers.get("Authorization", "")
    try:
        user = jwt.decode(authorization.removeprefix("Bearer "), SECRET, algorithms=["HS256"])["sub"]
    except jwt.PyJWTError:
        return None
    with pool.connection() as conn, conn.transaction():
        act_as(conn, IDENTITY_KEY, user)
        return conn.execute(SQL[name], params).fetchall()


@app.get("/api/me/tasks")
def list_tasks():
    limit = int(request.args.get("limit", 100))
    if "q" in request.args:
        rows = run("search", q=request.args["q"])
    elif "tag" in request.args:
        rows = run("filtered, sorted", tag=request.args["tag"])
    else:
        rows = run("list 20" if limit == 20 else "list 100")
    if rows is None:
        return answer({"code": 401}, 401)
    return answer(rows[:limit])


def one_task(name: str, task_id: str, parameter: str = "id") -> Response:
    """The answer for one task found (or changed) by the scenario's statement."""
    rows = run(name, **{parameter: task_id})
    if rows is None:
        return answer({"code": 401}, 401)
    if not rows:
        return answer({"code": 404}, 404)
    return answer(rows[0], 200, etag(rows[0]))


@app.get("/api/me/tasks/<task_id>")
def get_task(task_id):
    return one_task("get one", task_id)


@app.post("/api/me/tasks")
def create_task():
    body = request.get_json()
    rows = run("create", title=body["title"], tag=body["tags"][0])
    return answer(rows[0], 201, {"Location": f"/api/me/tasks/{rows[0]['id']}", **etag(rows[0])})


CURSOR_KEY = os.environ.get("TASKAPP_SECRET_KEY") or SECRET
FIELDS = tuple(name.strip() for name in COLUMNS.split(","))


@app.get("/api/me/changes")
def changes():
    """As taskapp: open the sealed sync token and check it is the caller's, then the feed's
    statement from the current position."""
    since = request.args["since"]
    try:
        user = jwt.decode(request.headers.get("Authorization", "").removeprefix("Bearer "), SECRET,
                          algorithms=["HS256"])["sub"]
    except jwt.PyJWTError:
        return answer({"code": 401}, 401)
    if sync_position(since, user, CURSOR_KEY) is None:
        return answer({"code": 400}, 400)
    rows = run("sync, nothing new")
    if rows is None:
        return answer({"code": 401}, 401)
    page = [row for row in rows if row["op"] is not None][:100]
    found = [{"op": "delete", "task_id": row["id"]} if row["op"] == "delete"
             else {"op": "upsert", "task": {name: row[name] for name in FIELDS}} for row in page]
    return answer({"changes": found, "next": since, "has_more": len(rows) > 100})


@app.patch("/api/me/tasks/<task_id>/complete")
def toggle(task_id):
    """As taskapp: toggle a plain task; an open recurring one moves on (a day, in SQL here)."""
    response = one_task("toggle", task_id)
    if response.status_code == 404:
        return one_task("complete recurring", task_id, "rid")
    return response
