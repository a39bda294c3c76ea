"""The change feed over HTTP: a full sync, incremental syncs, deletions, tokens, and a client
that follows the feed while others write ending with exactly what GET /tasks shows."""

import random
import threading

import pytest
from flask import g

from taskapp.changes.resources import make_token, read_token
from tests.support.identity import act_as


def changes(client, user, since=None, limit=None, status=200):
    query = {}
    if since is not None:
        query["since"] = since
    if limit is not None:
        query["limit"] = limit
    response = client.get("/api/me/changes", query_string=query, headers=user.headers)
    assert response.status_code == status, response.json
    return response.json


def follow(client, user, since=None, limit=100):
    """Every change from `since` on, following `next` while has_more; (changes, last token)."""
    seen = []
    while True:
        page = changes(client, user, since, limit)
        seen += page["changes"]
        since = page["next"]
        if not page["has_more"]:
            return seen, since


def apply(state: dict, found: list) -> dict:
    for change in found:
        if change["op"] == "upsert":
            state[change["task"]["id"]] = change["task"]
        else:
            state.pop(change["task_id"], None)
    return state


def all_tasks(client, user) -> dict:
    response = client.get("/api/me/tasks?limit=500", headers=user.headers)
    assert response.status_code == 200
    return {task["id"]: task for task in response.json}


def test_a_first_sync_returns_every_task_then_a_token(client, create_task, alice):
    made = [create_task(alice, title=f"t{n}") for n in range(5)]
    found, token = follow(client, alice, limit=2)
    assert [c["op"] for c in found] == ["upsert"] * 5
    assert [c["task"] for c in found] == made  # in the order written, each as GET returns it
    again = changes(client, alice, token)
    assert again["changes"] == [] and again["has_more"] is False
    assert changes(client, alice, again["next"])["changes"] == []  # and its token goes on from there


def test_a_user_with_no_tasks_gets_an_empty_first_sync(client, alice):
    page = changes(client, alice)
    assert page["changes"] == [] and page["has_more"] is False and page["next"]


def test_an_incremental_sync_has_each_changed_task_once_in_its_latest_state(client, create_task, alice):
    first, second = create_task(alice, title="one"), create_task(alice, title="two")
    _, token = follow(client, alice)
    client.patch(f"/api/me/tasks/{first['id']}", json={"title": "one, renamed"}, headers=alice.headers)
    client.patch(f"/api/me/tasks/{first['id']}/complete", headers=alice.headers)
    third = create_task(alice, title="three")
    found, token = follow(client, alice, token)
    assert [(c["op"], c["task"]["title"], c["task"]["completed"]) for c in found] == [
        ("upsert", "one, renamed", True), ("upsert", "three", False)
    ]
    assert found[0]["task"] == client.get(f"/api/me/tasks/{first['id']}", headers=alice.headers).json
    assert third["id"] == found[1]["task"]["id"] and second["id"] not in {c["task"]["id"] for c in found}


def test_a_deletion_is_in_the_feed(client, create_task, alice):
    kept, gone = create_task(alice), create_task(alice)
    _, token = follow(client, alice)
    assert client.delete(f"/api/me/tasks/{gone['id']}", headers=alice.headers).status_code == 204
    found, _ = follow(client, alice, token)
    assert found == [{"op": "delete", "task_id": gone["id"]}]
    assert kept["id"] in all_tasks(client, alice)


def test_a_task_created_and_deleted_between_syncs_is_only_a_deletion(client, create_task, alice):
    _, token = follow(client, alice)
    brief = create_task(alice)
    client.delete(f"/api/me/tasks/{brief['id']}", headers=alice.headers)
    found, _ = follow(client, alice, token)
    assert found == [{"op": "delete", "task_id": brief["id"]}]


def test_completing_a_recurring_task_and_undoing_it_are_upserts(client, create_task, alice):
    task = create_task(alice, title="daily", due_at="2099-01-01T09:00:00Z", recurrence="FREQ=DAILY")
    _, token = follow(client, alice)
    client.patch(f"/api/me/tasks/{task['id']}/complete", headers=alice.headers)
    found, token = follow(client, alice, token)
    assert [(c["op"], c["task"]["due_at"]) for c in found] == [("upsert", "2099-01-02T09:00:00Z")]
    [record] = client.get(f"/api/me/tasks/{task['id']}/completions", headers=alice.headers).json
    client.delete(f"/api/me/tasks/{task['id']}/completions/{record['id']}", headers=alice.headers)
    found, _ = follow(client, alice, token)
    assert [(c["op"], c["task"]["due_at"]) for c in found] == [("upsert", "2099-01-01T09:00:00Z")]


def test_a_sql_write_as_the_user_is_in_the_feed_too(client, create_task, alice, app_sql):
    task = create_task(alice, title="before")
    _, token = follow(client, alice)
    act_as(app_sql, alice.sub)
    app_sql.execute("update tasks set title = 'by SQL' where id = %s", (task["id"],))
    app_sql.commit()
    found, _ = follow(client, alice, token)
    assert [c["task"]["title"] for c in found] == ["by SQL"]


def test_another_users_token_and_a_tampered_one_are_400(client, create_task, alice, bob):
    create_task(alice)
    _, token = follow(client, alice)
    for bad in (token, token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "nonsense", ""):
        page = changes(client, bob, bad, status=400)
        assert "start again" in page["message"]


def test_limit_is_checked(client, alice):
    for limit in (0, 501, "x"):
        changes(client, alice, limit=limit, status=422)


def test_other_users_changes_are_not_in_the_feed(client, create_task, alice, bob):
    create_task(alice, title="alice's")
    found, _ = follow(client, bob)
    assert found == []
    assert client.get(f"/api/{alice.sub}/changes", headers=bob.headers).status_code == 403


def test_deletions_past_the_retention_are_forgotten(client, create_task, alice, admin_sql):
    old, recent = create_task(alice), create_task(alice)
    client.delete(f"/api/me/tasks/{old['id']}", headers=alice.headers)
    admin_sql.execute("update task_deletions set deleted_at = now() - interval '31 days' where task_id = %s",
                      (old["id"],))
    client.delete(f"/api/me/tasks/{recent['id']}", headers=alice.headers)  # forgets the old one
    remembered = admin_sql.execute("select task_id from task_deletions where task_id in (%s, %s)",
                                   (old["id"], recent["id"])).fetchall()
    assert [str(row[0]) for row in remembered] == [recent["id"]]


def test_a_token_older_than_the_retention_is_410_and_starting_again_works(app, client, create_task, alice):
    create_task(alice)
    _, token = follow(client, alice)
    with app.test_request_context():
        g.user_id = alice.sub
        position = read_token(token)
        position["since_at"] -= 31 * 86400  # as if it were made 31 days ago
        position["after_id"] = str(position["after_id"])
        old = make_token(**position)
    page = changes(client, alice, old, status=410)
    assert "sync again from the start" in page["message"]
    found, token = follow(client, alice)  # starting again works, and so does the token it gives
    assert len(found) == 1
    assert changes(client, alice, token)["changes"] == []


def test_a_full_sync_started_after_deletions_were_forgotten_can_continue(client, create_task, alice, admin_sql):
    gone = create_task(alice)
    client.delete(f"/api/me/tasks/{gone['id']}", headers=alice.headers)
    admin_sql.execute("update task_deletions set deleted_at = now() - interval '31 days' where task_id = %s",
                      (gone["id"],))
    for _ in range(3):
        create_task(alice)
    other = create_task(alice)
    client.delete(f"/api/me/tasks/{other['id']}", headers=alice.headers)  # forgets the first deletion
    found, _ = follow(client, alice, limit=1)  # pages of one, each continuing from a forgotten version
    assert len(found) == 3


@pytest.mark.parametrize("seed", [1, 2])
def test_a_client_following_the_feed_while_others_write_ends_with_what_get_shows(make_app, alice, seed):
    """Writers create, patch, complete and delete one user's tasks from several threads while a
    reader follows the feed; what the reader builds from it is exactly the task list."""
    app = make_app(DATABASE_POOL_SIZE=8)
    reader_client = app.test_client()
    for n in range(10):
        reader_client.post("/api/me/tasks", json={"title": f"seed {n}"}, headers=alice.headers)
    stop = threading.Event()
    failures = []

    def writer(number):
        client = app.test_client()
        rng = random.Random(seed * 100 + number)
        mine = []
        while not stop.is_set():
            action = rng.choice(["create", "create", "patch", "complete", "delete"])
            if action == "create" or not mine:
                response = client.post("/api/me/tasks", json={"title": f"w{number}"}, headers=alice.headers)
                if response.status_code == 201:
                    mine.append(response.json["id"])
            elif action == "patch":
                response = client.patch(f"/api/me/tasks/{rng.choice(mine)}", json={"title": f"p{rng.random()}"},
                                        headers=alice.headers)
            elif action == "complete":
                response = client.patch(f"/api/me/tasks/{rng.choice(mine)}/complete", headers=alice.headers)
            else:
                victim = mine.pop(rng.randrange(len(mine)))
                response = client.delete(f"/api/me/tasks/{victim}", headers=alice.headers)
            if response.status_code >= 400:
                failures.append((action, response.status_code))

    state, token = {}, None
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(40):
            found, token = follow(reader_client, alice, token, limit=7)
            apply(state, found)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    found, token = follow(reader_client, alice, token, limit=7)
    apply(state, found)
    assert failures == []
    assert state == all_tasks(reader_client, alice)
    assert len(state) >= 10


def test_a_sync_token_keeps_the_snapshot_inside_unread(client, create_task, alice):
    # The position is a database snapshot, whose transaction ids would tell a client how busy
    # everyone else is: the token is sealed, not only signed.
    import base64

    create_task(alice)
    _, token = follow(client, alice)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert b"prev" not in raw and b"target" not in raw  # unsealed, the JSON keys would be there
    assert changes(client, alice, token)["changes"] == []
