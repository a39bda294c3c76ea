"""Every row of the contract, as a client sees it."""

from datetime import datetime, timedelta, timezone

import pytest

from tests.support.identity import act_as


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def test_a_new_task_is_201_with_location_etag_and_defaults(client, alice):
    response = client.post("/api/me/tasks", json={"title": "Write the spec"}, headers=alice.headers)
    assert response.status_code == 201
    task = response.json
    assert response.headers["Location"] == f"/api/me/tasks/{task['id']}"
    assert response.headers["ETag"].startswith('"')
    assert task["user_id"] == alice.sub
    assert task["title"] == "Write the spec"
    assert task["description"] is None
    assert task["completed"] is False
    assert task["completed_at"] is None
    assert task["priority"] == "medium"
    assert task["due_at"] is None
    assert task["tags"] == []
    assert task["created_at"] == task["updated_at"]
    assert task["created_at"].endswith("Z")


def test_location_follows_the_path_the_client_used(client, alice):
    response = client.post(f"/api/{alice.sub}/tasks", json={"title": "x"}, headers=alice.headers)
    assert response.headers["Location"] == f"/api/{alice.sub}/tasks/{response.json['id']}"
    assert client.get(response.headers["Location"], headers=alice.headers).status_code == 200


def test_title_is_trimmed_and_tags_are_normalised(create_task, alice):
    task = create_task(alice, title="  Pay rent \n", tags=[" Home", "home", "URGENT", "bills ", "urgent"])
    assert task["title"] == "Pay rent"
    assert task["tags"] == ["home", "urgent", "bills"]


def test_datetimes_come_back_in_utc(create_task, alice):
    task = create_task(alice, due_at="2030-01-15T09:30:00+05:30")
    assert task["due_at"] == "2030-01-15T04:00:00Z"


def test_a_task_created_completed_has_completed_at(create_task, alice):
    task = create_task(alice, completed=True)
    assert task["completed"] is True
    assert task["completed_at"] == task["created_at"]


def test_list_is_newest_first_and_only_yours(client, create_task, alice, bob):
    for title in ("first", "second", "third"):
        create_task(alice, title=title)
    create_task(bob, title="bob's")
    response = client.get("/api/me/tasks", headers=alice.headers)
    assert response.status_code == 200
    assert [t["title"] for t in response.json] == ["third", "second", "first"]


def test_list_returns_at_most_100_tasks(client, alice, database):
    import psycopg

    with psycopg.connect(database.app_url) as conn:
        act_as(conn, alice.sub)
        conn.execute("insert into tasks (title) values " + ", ".join(f"('bulk {n}')" for n in range(1, 106)))
    response = client.get("/api/me/tasks", headers=alice.headers)
    assert len(response.json) == 100


def test_get_one_task_with_etag(client, create_task, alice):
    task = create_task(alice, title="read me")
    response = client.get(f"/api/me/tasks/{task['id']}", headers=alice.headers)
    assert response.status_code == 200
    assert response.json == task
    assert response.headers["ETag"]


def test_put_replaces_the_whole_task_and_resets_omitted_fields(client, create_task, alice):
    task = create_task(
        alice, title="old", description="d", priority="high", tags=["a"],
        due_at="2030-01-01T00:00:00Z", completed=True,
    )
    response = client.put(f"/api/me/tasks/{task['id']}", json={"title": "new"}, headers=alice.headers)
    assert response.status_code == 200
    replaced = response.json
    assert replaced["title"] == "new"
    assert replaced["description"] is None
    assert replaced["priority"] == "medium"
    assert replaced["tags"] == []
    assert replaced["due_at"] is None
    assert replaced["completed"] is False and replaced["completed_at"] is None
    assert replaced["id"] == task["id"] and replaced["created_at"] == task["created_at"]
    assert parse(replaced["updated_at"]) > parse(task["updated_at"])


def test_patch_changes_only_the_fields_sent(client, create_task, alice):
    task = create_task(alice, title="keep", description="old", tags=["x"], priority="low")
    response = client.patch(f"/api/me/tasks/{task['id']}", json={"description": "new"}, headers=alice.headers)
    assert response.status_code == 200
    assert response.json["description"] == "new"
    assert {k: response.json[k] for k in ("title", "tags", "priority")} == {
        "title": "keep", "tags": ["x"], "priority": "low",
    }


@pytest.mark.parametrize("field", ["description", "due_at"])
def test_patch_null_clears_description_and_due_at(client, create_task, alice, field):
    task = create_task(alice, description="d", due_at="2030-01-01T00:00:00Z")
    response = client.patch(f"/api/me/tasks/{task['id']}", json={field: None}, headers=alice.headers)
    assert response.status_code == 200
    assert response.json[field] is None


@pytest.mark.parametrize("field", ["title", "completed", "priority", "tags"])
def test_patch_null_for_required_fields_is_422_and_changes_nothing(client, create_task, alice, field):
    task = create_task(alice, title="t", tags=["a"])
    response = client.patch(f"/api/me/tasks/{task['id']}", json={field: None}, headers=alice.headers)
    assert response.status_code == 422
    assert field in response.json["errors"]["json"]
    assert client.get(f"/api/me/tasks/{task['id']}", headers=alice.headers).json == task


def test_completing_sets_completed_at_and_reopening_clears_it(client, create_task, alice):
    task = create_task(alice)
    done = client.patch(f"/api/me/tasks/{task['id']}", json={"completed": True}, headers=alice.headers).json
    assert done["completed_at"] is not None
    url = f"/api/me/tasks/{task['id']}"
    again = client.patch(url, json={"completed": True, "title": "x"}, headers=alice.headers).json
    assert again["completed_at"] == done["completed_at"], "staying completed keeps the first time"
    reopened = client.patch(f"/api/me/tasks/{task['id']}", json={"completed": False}, headers=alice.headers).json
    assert reopened["completed_at"] is None


def test_complete_toggles_and_returns_the_task(client, create_task, alice):
    task = create_task(alice)
    first = client.patch(f"/api/me/tasks/{task['id']}/complete", headers=alice.headers)
    assert first.status_code == 200
    assert first.json["completed"] is True and first.json["completed_at"] is not None
    assert first.headers["ETag"]
    second = client.patch(f"/api/me/tasks/{task['id']}/complete", headers=alice.headers)
    assert second.json["completed"] is False and second.json["completed_at"] is None


def test_updated_at_moves_on_every_write(client, create_task, alice):
    task = create_task(alice)
    url = f"/api/me/tasks/{task['id']}"
    stamps = [task["updated_at"]]
    stamps.append(client.patch(url, json={}, headers=alice.headers).json["updated_at"])
    stamps.append(client.patch(url, json={"title": "t2"}, headers=alice.headers).json["updated_at"])
    stamps.append(client.put(url, json={"title": "t3"}, headers=alice.headers).json["updated_at"])
    stamps.append(client.patch(url + "/complete", headers=alice.headers).json["updated_at"])
    times = [parse(s) for s in stamps]
    assert times == sorted(times) and len(set(times)) == len(times)


def test_delete_is_204_and_then_the_task_is_gone(client, create_task, alice):
    task = create_task(alice)
    response = client.delete(f"/api/me/tasks/{task['id']}", headers=alice.headers)
    assert response.status_code == 204
    assert response.data == b""
    assert client.get(f"/api/me/tasks/{task['id']}", headers=alice.headers).status_code == 404
    assert client.delete(f"/api/me/tasks/{task['id']}", headers=alice.headers).status_code == 404


def test_summary_counts_total_open_completed_and_overdue(client, create_task, alice, bob):
    past = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    future = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    create_task(alice, title="overdue", due_at=past)
    create_task(alice, title="done late", due_at=past, completed=True)
    create_task(alice, title="due later", due_at=future)
    create_task(alice, title="no due date")
    create_task(bob, title="bob's overdue", due_at=past)
    response = client.get("/api/me/summary", headers=alice.headers)
    assert response.status_code == 200
    assert response.json == {
        "user_id": alice.sub,
        "tasks": {"total": 4, "open": 3, "completed": 1, "overdue": 1, "completed_today": 1},
    }


def test_summary_of_a_new_user_is_all_zero(client, alice):
    assert client.get(f"/api/{alice.sub}/summary", headers=alice.headers).json == {
        "user_id": alice.sub,
        "tasks": {"total": 0, "open": 0, "completed": 0, "overdue": 0, "completed_today": 0},
    }
