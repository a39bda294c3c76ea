"""Property: walking the pages returns exactly what a plain Python filter-and-sort returns, in order."""

import uuid
from datetime import datetime, timedelta, timezone

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from taskapp.database.tables import PRIORITIES
from taskapp.tasks.listing import SORT_NAMES
from tests.support.identity import act_as
from tests.support.pages import next_link
from tests.support.sharing import Sharing
from tests.support.users import new_user

WORDS = ["alpha", "beta", "gamma", "delta", "Omega"]
TAGS = ["work", "home", "urgent"]
BASE = datetime(2030, 1, 1, tzinfo=timezone.utc)
# Few distinct instants, so ties on due_at (and on created_at within a batch) are common.
INSTANTS = [BASE + timedelta(hours=h) for h in (0, 1, 2, 3)]

words = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join)
task = st.fixed_dictionaries(
    {
        "title": words,
        "description": st.none() | words,
        "completed": st.booleans(),
        "priority": st.sampled_from(PRIORITIES),
        "due_at": st.none() | st.sampled_from(INSTANTS),
        "tags": st.lists(st.sampled_from(TAGS), unique=True, max_size=3),
    }
)
query = st.fixed_dictionaries(
    {"sort": st.sampled_from(SORT_NAMES), "limit": st.integers(1, 7)},
    optional={
        "completed": st.booleans(),
        "priority": st.sampled_from(PRIORITIES),
        "tag": st.lists(st.sampled_from(TAGS), min_size=1, max_size=2),
        "q": st.lists(st.sampled_from(WORDS), min_size=1, max_size=2).map(" ".join),
        "due_before": st.sampled_from(INSTANTS),
        "due_after": st.sampled_from(INSTANTS),
    },
)


def store(database, sub, batches):
    """Insert the tasks as their owner, one transaction per batch; return them as stored."""
    with psycopg.connect(database.app_url) as conn:
        for batch in batches:
            act_as(conn, sub)
            for t in batch:
                conn.execute(
                    "insert into tasks (title, description, completed, priority, due_at, tags) "
                    "values (%(title)s, %(description)s, %(completed)s, %(priority)s, %(due_at)s, %(tags)s)",
                    t,
                )
            conn.commit()
        act_as(conn, sub)
        cursor = conn.cursor(row_factory=psycopg.rows.dict_row)
        return cursor.execute("select * from tasks").fetchall()


def matches(row, args):
    text = f"{row['title']} {row['description'] or ''}".lower().split()
    return (
        ("completed" not in args or row["completed"] == args["completed"])
        and ("priority" not in args or row["priority"] == args["priority"])
        and all(tag in row["tags"] for tag in args.get("tag", []))
        and all(word in text for word in args.get("q", "").lower().split())
        and ("due_before" not in args or (row["due_at"] is not None and row["due_at"] < args["due_before"]))
        and ("due_after" not in args or (row["due_at"] is not None and row["due_at"] > args["due_after"]))
    )


def model(rows, args):
    """The expected ids: filter, sort by (key, id) in the asked direction, tasks without due_at last."""
    field = args["sort"].lstrip("-")
    descending = args["sort"].startswith("-")
    kept = [r for r in rows if matches(r, args)]

    def key(row):
        value = PRIORITIES.index(row["priority"]) if field == "priority" else row[field]
        return (value, uuid.UUID(str(row["id"])))

    present = sorted((r for r in kept if r[field] is not None), key=key, reverse=descending)
    missing = sorted((r for r in kept if r[field] is None), key=key_by_id, reverse=descending)
    return [str(r["id"]) for r in present + missing]


def key_by_id(row):
    return uuid.UUID(str(row["id"]))


def as_query_string(args):
    pairs = []
    for name, value in args.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, datetime):
                item = item.isoformat()
            elif isinstance(item, bool):
                item = "true" if item else "false"
            pairs.append((name, str(item)))
    return pairs


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=st.lists(st.lists(task, max_size=8), min_size=1, max_size=3), args=query)
def test_walking_the_pages_equals_a_python_filter_and_sort(app, database, batches, args):
    user = new_user("prop")
    rows = store(database, user.sub, batches)
    client = app.test_client()

    served, pages = [], 0
    response = client.get("/api/me/tasks", query_string=as_query_string(args), headers=user.headers)
    while True:
        assert response.status_code == 200, response.json
        assert len(response.json) <= args["limit"]
        served.extend(t["id"] for t in response.json)
        pages += 1
        url = next_link(response)
        if url is None:
            break
        assert response.json, "a page before the last is never empty"
        response = client.get(url, headers=user.headers)

    assert served == model(rows, args)


def store_in_lists(database, placed):
    """Insert each (writer, list_id, task) as that writer, in one transaction each."""
    with psycopg.connect(database.app_url) as conn:
        for writer, list_id, t in placed:
            act_as(conn, writer)
            conn.execute(
                "insert into tasks (title, description, completed, priority, due_at, tags, list_id) "
                "values (%(title)s, %(description)s, %(completed)s, %(priority)s, %(due_at)s, %(tags)s, %(list_id)s)",
                {**t, "list_id": list_id})
            conn.commit()


def visible_rows(database, sub):
    with psycopg.connect(database.app_url) as conn:
        act_as(conn, sub)
        return conn.cursor(row_factory=psycopg.rows.dict_row).execute("select * from tasks").fetchall()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(placed=st.lists(st.tuples(st.integers(0, 3), task), max_size=14), args=query,
       one_list=st.none() | st.integers(0, 3))
def test_pages_across_shared_lists_equal_a_python_filter_and_sort(app, database, placed, args, one_list):
    """Bob's tasks in his Inbox and in two lists others share with him (one as a viewer), with
    a list he is not in beside them: every page, filter, sort and the list filter equal the model
    over exactly what he may see."""
    sharing = Sharing(app.test_client())
    bob, alice, carol = new_user("bob"), new_user("alice"), new_user("carol")
    inbox = sharing.add_task(bob, title="first")["list_id"]
    lists = [inbox, sharing.shared_list(alice, {bob: "editor"}, "A")["id"],
             sharing.shared_list(carol, {bob: "viewer"}, "C")["id"], sharing.make_list(carol, "not Bob's")["id"]]
    writers = [bob.sub, alice.sub, carol.sub, carol.sub]
    store_in_lists(database, [(writers[n], lists[n], t) for n, t in placed])
    rows = visible_rows(database, bob.sub)
    assert {str(r["list_id"]) for r in rows} <= set(lists[:3])
    args = dict(args)
    if one_list is not None:
        args["list_id"] = lists[one_list]
        rows = [r for r in rows if str(r["list_id"]) == lists[one_list]]

    served = []
    response = app.test_client().get("/api/me/tasks", query_string=as_query_string(args), headers=bob.headers)
    while True:
        assert response.status_code == 200, response.json
        assert len(response.json) <= args["limit"]
        served.extend(t["id"] for t in response.json)
        url = next_link(response)
        if url is None:
            break
        assert response.json, "a page before the last is never empty"
        response = app.test_client().get(url, headers=bob.headers)
    assert served == model(rows, args)
