"""Idempotent writes over HTTP: a retry with the same Idempotency-Key gets the first answer
and writes nothing; a different request with it is 422, one in flight 409; keys are per user."""

import threading
import uuid

import pytest

WRITES = ["post", "put", "patch", "delete", "complete"]


def keyed(user, key) -> dict:
    return {**user.headers, "Idempotency-Key": key}


def titles(client, user) -> list:
    return [task["title"] for task in client.get("/api/me/tasks", headers=user.headers).json]


def test_a_retried_create_returns_the_same_task_and_leaves_one(client, alice):
    key = str(uuid.uuid4())
    first = client.post("/api/me/tasks", json={"title": "once"}, headers=keyed(alice, key))
    again = client.post("/api/me/tasks", json={"title": "once"}, headers=keyed(alice, key))
    assert first.status_code == again.status_code == 201
    assert again.get_data() == first.get_data()
    for name in ("Location", "ETag", "Content-Type"):
        assert again.headers[name] == first.headers[name]
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert titles(client, alice) == ["once"]


def test_a_retried_toggle_leaves_the_task_toggled_once(client, create_task, alice):
    task = create_task(alice)
    for _ in range(3):
        response = client.patch(f"/api/me/tasks/{task['id']}/complete", headers=keyed(alice, "toggle-1"))
        assert response.status_code == 200 and response.json["completed"] is True
    assert client.get(f"/api/me/tasks/{task['id']}", headers=alice.headers).json["completed"] is True
    assert len(client.get(f"/api/me/tasks/{task['id']}/completions", headers=alice.headers).json) == 1


def test_a_retried_delete_is_204_again(client, create_task, alice):
    task = create_task(alice)
    first = client.delete(f"/api/me/tasks/{task['id']}", headers=keyed(alice, "delete-1"))
    again = client.delete(f"/api/me/tasks/{task['id']}", headers=keyed(alice, "delete-1"))
    assert first.status_code == again.status_code == 204 and again.headers["Idempotent-Replayed"] == "true"
    assert client.delete(f"/api/me/tasks/{task['id']}", headers=alice.headers).status_code == 404


@pytest.mark.parametrize("method", ["put", "patch"])
def test_a_retried_edit_is_replayed_even_after_the_task_changed(client, create_task, alice, method):
    task = create_task(alice, title="first")
    body = {"title": "second"}
    call = getattr(client, method)
    first = call(f"/api/me/tasks/{task['id']}", json=body, headers=keyed(alice, f"{method}-1"))
    client.patch(f"/api/me/tasks/{task['id']}", json={"title": "third"}, headers=alice.headers)
    again = call(f"/api/me/tasks/{task['id']}", json=body, headers=keyed(alice, f"{method}-1"))
    assert again.get_data() == first.get_data() and again.json["title"] == "second"
    assert titles(client, alice) == ["third"]


def test_the_same_body_written_differently_is_the_same_request(client, alice):
    headers = {**keyed(alice, "spacing"), "Content-Type": "application/json"}
    first = client.post("/api/me/tasks", data='{"title": "a", "priority": "high"}', headers=headers)
    again = client.post("/api/me/tasks", data='{"priority":"high","title":"a"}', headers=headers)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json["id"] == first.json["id"]


def test_the_key_with_another_request_is_422_and_changes_nothing(client, create_task, alice):
    task = create_task(alice, title="kept")
    client.post("/api/me/tasks", json={"title": "a"}, headers=keyed(alice, "reused"))
    for method, path, body in (("post", "/api/me/tasks", {"title": "b"}),
                               ("patch", f"/api/me/tasks/{task['id']}", {"title": "a"}),
                               ("delete", f"/api/me/tasks/{task['id']}", None)):
        response = getattr(client, method)(path, json=body, headers=keyed(alice, "reused"))
        assert response.status_code == 422, response.json
        assert "different request" in response.json["message"]
    assert sorted(titles(client, alice)) == ["a", "kept"]


def test_me_and_the_user_id_in_the_path_are_the_same_request(client, alice):
    first = client.post("/api/me/tasks", json={"title": "a"}, headers=keyed(alice, "path"))
    again = client.post(f"/api/{alice.sub}/tasks", json={"title": "a"}, headers=keyed(alice, "path"))
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json == first.json


@pytest.mark.parametrize("key", ["", '""', "x" * 256, "naïve", "tab\there", "new\x7fline"])
def test_a_malformed_key_is_400_and_writes_nothing(client, alice, key):
    response = client.post("/api/me/tasks", json={"title": "no"}, headers=keyed(alice, key))
    assert response.status_code == 400, response.json
    assert "Idempotency-Key" in response.json["message"]
    assert titles(client, alice) == []


def test_a_quoted_key_is_the_key_inside_the_quotes(client, alice):
    client.post("/api/me/tasks", json={"title": "q"}, headers=keyed(alice, '"abc"'))
    again = client.post("/api/me/tasks", json={"title": "q"}, headers=keyed(alice, "abc"))
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert client.post("/api/me/tasks", json={"title": "q"}, headers=keyed(alice, "x" * 255)).status_code == 201


def test_keys_are_per_user(client, alice, bob):
    mine = client.post("/api/me/tasks", json={"title": "alice's"}, headers=keyed(alice, "shared"))
    theirs = client.post("/api/me/tasks", json={"title": "bob's"}, headers=keyed(bob, "shared"))
    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs.headers
    assert theirs.json["id"] != mine.json["id"]
    assert titles(client, alice) == ["alice's"] and titles(client, bob) == ["bob's"]


def test_a_refused_write_stores_nothing_and_its_retry_is_processed(client, alice):
    assert client.post("/api/me/tasks", json={"title": ""}, headers=keyed(alice, "fixme")).status_code == 422
    response = client.post("/api/me/tasks", json={"title": "fixed"}, headers=keyed(alice, "fixme"))
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers


def test_without_the_header_nothing_changes(client, create_task, alice):
    task = create_task(alice)
    states = [client.patch(f"/api/me/tasks/{task['id']}/complete", headers=alice.headers).json["completed"]
              for _ in range(2)]
    assert states == [True, False]


def test_an_expired_key_is_a_new_key_and_old_keys_are_removed_as_the_user_writes(client, alice, admin_sql):
    client.post("/api/me/tasks", json={"title": "a"}, headers=keyed(alice, "old"))
    client.post("/api/me/tasks", json={"title": "a"}, headers=keyed(alice, "older"))
    admin_sql.execute("update idempotency_keys set expires_at = now() - interval '1 second' where user_id = %s",
                      (alice.sub,))
    again = client.post("/api/me/tasks", json={"title": "a"}, headers=keyed(alice, "old"))
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert titles(client, alice) == ["a", "a", "a"]
    left = admin_sql.execute("select key from idempotency_keys where user_id = %s", (alice.sub,)).fetchall()
    assert left == [("old",)]  # the new one; "older" went on the way


def test_concurrent_duplicates_make_one_write(make_app, alice):
    app = make_app(DATABASE_POOL_SIZE=12)
    answers = []
    barrier = threading.Barrier(12)

    def send():
        client = app.test_client()
        barrier.wait()
        response = client.post("/api/me/tasks", json={"title": "raced"}, headers=keyed(alice, "race"))
        answers.append((response.status_code, response.headers.get("Idempotent-Replayed"),
                        response.headers.get("Retry-After"), response.json.get("id")))

    threads = [threading.Thread(target=send) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    created = [a for a in answers if a[0] == 201 and a[1] is None]
    replayed = [a for a in answers if a[0] == 201 and a[1] == "true"]
    busy = [a for a in answers if a[0] == 409]
    assert len(created) == 1 and len(created) + len(replayed) + len(busy) == 12
    assert all(a[2] for a in busy) and {a[3] for a in replayed} <= {created[0][3]}
    assert titles(app.test_client(), alice) == ["raced"]


def test_replays_survive_a_server_restart(database, alice):
    from tests.support.served import Served

    body, headers = {"title": "before the restart"}, {**keyed(alice, "restart"), **alice.headers}
    server = Served(database.app_url, workers=1, threads=2)
    try:
        status, first_headers, first = server.request("POST", "/api/me/tasks", body, headers)
        assert status == 201
    finally:
        server.kill()
    server = Served(database.app_url, workers=1, threads=2)
    try:
        status, again_headers, again = server.request("POST", "/api/me/tasks", body, headers)
        assert status == 201 and again == first and again_headers["Idempotent-Replayed"] == "true"
        assert again_headers["Location"] == first_headers["Location"]
        status, _, listed = server.request("GET", "/api/me/tasks", headers=alice.headers)
        assert [task["title"] for task in listed] == ["before the restart"]
    finally:
        server.stop()
