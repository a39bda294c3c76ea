"""The completion history over HTTP: every task's completions, the window report, undo."""

from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def complete(client, user, task_id):
    response = client.patch(f"/api/me/tasks/{task_id}/complete", headers=user.headers)
    assert response.status_code == 200, response.json
    return response.json


def history(client, user, task_id, query=""):
    response = client.get(f"/api/me/tasks/{task_id}/completions{query}", headers=user.headers)
    assert response.status_code == 200, response.json
    return response.json


def next_link(response) -> str | None:
    link = response.headers.get("Link")
    if link is None:
        return None
    target = link.split(";")[0].strip("<>")
    parts = urlsplit(target)
    return f"{parts.path}?{parts.query}"


def test_a_plain_task_gets_a_record_when_completed_and_loses_it_when_reopened(client, create_task, alice):
    task = create_task(alice, due_at="2099-01-01T09:00:00Z")
    done = complete(client, alice, task["id"])
    [record] = history(client, alice, task["id"])
    assert record["due_at"] == "2099-01-01T09:00:00Z"
    assert record["completed_at"] == done["completed_at"]
    complete(client, alice, task["id"])  # reopened
    assert history(client, alice, task["id"]) == []


@pytest.mark.parametrize("how", ["patch", "put"])
def test_completing_by_patch_or_put_records_it_too(client, create_task, alice, how):
    task = create_task(alice)
    if how == "patch":
        client.patch(f"/api/me/tasks/{task['id']}", json={"completed": True}, headers=alice.headers)
    else:
        client.put(f"/api/me/tasks/{task['id']}", json={"title": "t", "completed": True}, headers=alice.headers)
    assert len(history(client, alice, task["id"])) == 1


def test_a_task_created_completed_has_its_record(client, create_task, alice):
    task = create_task(alice, completed=True)
    assert [r["completed_at"] for r in history(client, alice, task["id"])] == [task["completed_at"]]


def test_the_history_is_newest_first_and_paged_with_link(client, create_task, alice):
    task = create_task(alice, due_at="2099-01-01T09:00:00Z", recurrence="FREQ=DAILY")
    for _ in range(5):
        complete(client, alice, task["id"])
    response = client.get(f"/api/me/tasks/{task['id']}/completions?limit=2", headers=alice.headers)
    seen = list(response.json)
    while (url := next_link(response)) is not None:
        response = client.get(url, headers=alice.headers)
        assert response.status_code == 200
        seen += response.json
    assert [r["due_at"][:10] for r in seen] == [f"2099-01-0{d}" for d in (5, 4, 3, 2, 1)]
    assert len({r["id"] for r in seen}) == 5


def test_undo_returns_the_task_to_the_occurrence_and_removes_the_record(client, create_task, alice):
    task = create_task(alice, due_at="2099-01-01T09:00:00Z", recurrence="FREQ=DAILY")
    complete(client, alice, task["id"])
    complete(client, alice, task["id"])
    latest, older = history(client, alice, task["id"])
    response = client.delete(f"/api/me/tasks/{task['id']}/completions/{latest['id']}", headers=alice.headers)
    assert response.status_code == 204
    now = client.get(f"/api/me/tasks/{task['id']}", headers=alice.headers).json
    assert now["due_at"] == "2099-01-02T09:00:00Z" and now["completed"] is False
    assert history(client, alice, task["id"]) == [older]
    # and the series goes on from there
    assert complete(client, alice, task["id"])["due_at"] == "2099-01-03T09:00:00Z"


def test_undoing_an_older_completion_is_409_and_changes_nothing(client, create_task, alice):
    task = create_task(alice, due_at="2099-01-01T09:00:00Z", recurrence="FREQ=DAILY")
    complete(client, alice, task["id"])
    complete(client, alice, task["id"])
    before = client.get(f"/api/me/tasks/{task['id']}", headers=alice.headers).json
    _, older = history(client, alice, task["id"])
    response = client.delete(f"/api/me/tasks/{task['id']}/completions/{older['id']}", headers=alice.headers)
    assert response.status_code == 409
    assert response.json["message"] == "Only the task's latest completion can be undone."
    assert client.get(f"/api/me/tasks/{task['id']}", headers=alice.headers).json == before
    assert len(history(client, alice, task["id"])) == 2


def test_undoing_a_plain_tasks_completion_reopens_it(client, create_task, alice):
    task = create_task(alice)
    complete(client, alice, task["id"])
    [record] = history(client, alice, task["id"])
    assert client.delete(f"/api/me/tasks/{task['id']}/completions/{record['id']}",
                         headers=alice.headers).status_code == 204
    now = client.get(f"/api/me/tasks/{task['id']}", headers=alice.headers).json
    assert now["completed"] is False and now["completed_at"] is None
    assert history(client, alice, task["id"]) == []


def test_undoing_the_end_of_a_series_reopens_it_at_its_last_occurrence(client, create_task, alice):
    task = create_task(alice, due_at="2099-01-01T09:00:00Z", recurrence="FREQ=DAILY;COUNT=2")
    complete(client, alice, task["id"])
    assert complete(client, alice, task["id"])["completed"] is True
    latest = history(client, alice, task["id"])[0]
    client.delete(f"/api/me/tasks/{task['id']}/completions/{latest['id']}", headers=alice.headers)
    now = client.get(f"/api/me/tasks/{task['id']}", headers=alice.headers).json
    assert now["completed"] is False and now["due_at"] == "2099-01-02T09:00:00Z"


@pytest.mark.parametrize("completion_id", ["00000000-0000-4000-8000-000000000000", "not-a-uuid"])
def test_undoing_a_completion_that_does_not_exist_is_404(client, create_task, alice, completion_id):
    task = create_task(alice, completed=True)
    response = client.delete(f"/api/me/tasks/{task['id']}/completions/{completion_id}", headers=alice.headers)
    assert response.status_code == 404


def test_another_users_task_history_is_404_and_cannot_be_undone(client, create_task, alice, bob):
    task = create_task(alice, completed=True)
    [record] = history(client, alice, task["id"])
    assert client.get(f"/api/me/tasks/{task['id']}/completions", headers=bob.headers).status_code == 404
    response = client.delete(f"/api/me/tasks/{task['id']}/completions/{record['id']}", headers=bob.headers)
    assert response.status_code == 404
    assert history(client, alice, task["id"]) == [record]
    assert client.get(f"/api/{alice.sub}/tasks/{task['id']}/completions", headers=bob.headers).status_code == 403


def test_deleting_a_task_deletes_its_history(client, create_task, alice):
    task = create_task(alice, completed=True)
    client.delete(f"/api/me/tasks/{task['id']}", headers=alice.headers)
    assert client.get(f"/api/me/tasks/{task['id']}/completions", headers=alice.headers).status_code == 404
    assert client.get("/api/me/completions", headers=alice.headers).json == []


def test_the_window_report_lists_every_completion_of_yours_newest_first(client, create_task, alice, bob):
    plain = create_task(alice, completed=True)
    recurring = create_task(alice, due_at="2099-01-01T09:00:00Z", recurrence="FREQ=DAILY")
    complete(client, alice, recurring["id"])
    create_task(bob, completed=True)
    report = client.get("/api/me/completions", headers=alice.headers).json
    assert [r["task_id"] for r in report] == [recurring["id"], plain["id"]]
    assert parse(report[0]["completed_at"]) >= parse(report[1]["completed_at"])


def test_the_window_report_honours_its_bounds(client, create_task, alice):
    create_task(alice, completed=True)
    now = datetime.now(timezone.utc)
    window = {"completed_after": (now - timedelta(hours=1)).isoformat(),
              "completed_before": (now + timedelta(hours=1)).isoformat()}
    assert len(client.get("/api/me/completions", query_string=window, headers=alice.headers).json) == 1
    later = {"completed_after": (now + timedelta(hours=1)).isoformat()}
    assert client.get("/api/me/completions", query_string=later, headers=alice.headers).json == []
    earlier = {"completed_before": (now - timedelta(hours=1)).isoformat()}
    assert client.get("/api/me/completions", query_string=earlier, headers=alice.headers).json == []


def test_the_window_report_pages_without_repeats(client, create_task, alice):
    for _ in range(5):
        create_task(alice, completed=True)
    response = client.get("/api/me/completions?limit=2", headers=alice.headers)
    seen = list(response.json)
    while (url := next_link(response)) is not None:
        response = client.get(url, headers=alice.headers)
        seen += response.json
    assert len(seen) == 5 and len({r["id"] for r in seen}) == 5


@pytest.mark.parametrize("query", [
    "?completed_after=yesterday", "?completed_before=2099-13-01T00:00:00Z", "?limit=0", "?limit=501",
    "?completed_before=0001-01-01T00:00:00%2B06:29",  # the year 0 in UTC
])
def test_bad_report_arguments_are_422(client, alice, query):
    assert client.get(f"/api/me/completions{query}", headers=alice.headers).status_code == 422


def test_a_cursor_from_another_user_or_window_or_tampered_is_400(client, create_task, alice, bob):
    for _ in range(3):
        create_task(alice, completed=True)
    cursor = next_link(client.get("/api/me/completions?limit=1", headers=alice.headers)).split("cursor=")[1]
    assert client.get(f"/api/me/completions?limit=1&cursor={cursor}", headers=bob.headers).status_code == 400
    window = "completed_after=2000-01-01T00:00:00Z"
    assert client.get(f"/api/me/completions?{window}&cursor={cursor}", headers=alice.headers).status_code == 400
    assert client.get(f"/api/me/completions?cursor={cursor[:-2]}xx", headers=alice.headers).status_code == 400
