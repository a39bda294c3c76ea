"""Reminders over HTTP: what a client writes, what it reads back, what moves them."""

from datetime import datetime, timedelta, timezone

import pytest


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def ahead(**delta) -> str:
    return iso(datetime.now(timezone.utc).replace(microsecond=0) + timedelta(**delta))


def patch(client, user, task_id, body):
    return client.patch(f"/api/me/tasks/{task_id}", json=body, headers=user.headers)


def test_a_task_has_no_reminders_by_default(create_task, alice):
    assert create_task(alice)["reminders"] == []


def test_reminders_come_back_with_when_they_fire(create_task, alice):
    due = ahead(days=2)
    at = ahead(days=1)
    task = create_task(alice, due_at=due, reminders=[{"at": at}, {"before_due": 30}])
    assert task["reminders"] == [
        {"at": at, "fires_at": at, "fired": False, "missed": False},
        {"before_due": 30, "fires_at": iso(datetime.fromisoformat(due[:-1] + "+00:00") - timedelta(minutes=30)),
         "fired": False, "missed": False},
    ]


def test_an_offset_is_stored_in_utc(create_task, alice):
    task = create_task(alice, reminders=[{"at": "2099-03-01T09:00:00+01:00"}])
    assert task["reminders"][0]["at"] == "2099-03-01T08:00:00Z"
    assert task["reminders"][0]["fires_at"] == "2099-03-01T08:00:00Z"


def test_a_reminder_already_past_is_missed_not_fired(create_task, alice):
    task = create_task(alice, reminders=[{"at": "2020-01-01T00:00:00Z"}])
    assert task["reminders"][0]["missed"] is True
    assert task["reminders"][0]["fired"] is False


def test_a_relative_reminder_follows_the_due_date(client, create_task, alice):
    task = create_task(alice, due_at="2099-01-01T09:00:00Z", reminders=[{"before_due": 60}])
    moved = patch(client, alice, task["id"], {"due_at": "2099-02-01T09:00:00Z"}).json
    assert moved["reminders"][0]["fires_at"] == "2099-02-01T08:00:00Z"


def test_a_recurring_tasks_next_occurrence_moves_its_relative_reminder(client, create_task, alice):
    task = create_task(alice, due_at="2099-01-01T09:00:00Z", recurrence="FREQ=DAILY", reminders=[{"before_due": 15}])
    moved = client.patch(f"/api/me/tasks/{task['id']}/complete", headers=alice.headers).json
    assert moved["due_at"] == "2099-01-02T09:00:00Z"
    assert moved["reminders"][0]["fires_at"] == "2099-01-02T08:45:00Z"


def test_other_writes_keep_the_reminders(client, create_task, alice):
    task = create_task(alice, due_at="2099-01-01T09:00:00Z", reminders=[{"before_due": 5}])
    renamed = patch(client, alice, task["id"], {"title": "renamed"}).json
    assert renamed["reminders"] == task["reminders"]


def test_reminders_are_replaced_as_a_list_and_cleared_with_an_empty_one(client, create_task, alice):
    task = create_task(alice, reminders=[{"at": "2099-01-01T00:00:00Z"}])
    replaced = patch(client, alice, task["id"], {"reminders": [{"at": "2099-06-01T00:00:00Z"}]}).json
    assert [r["at"] for r in replaced["reminders"]] == ["2099-06-01T00:00:00Z"]
    assert patch(client, alice, task["id"], {"reminders": []}).json["reminders"] == []


@pytest.mark.parametrize("reminders, field", [
    ([{"before_due": 10}], "reminders"),
    ([{"at": "2099-01-01T00:00:00Z"}] * 6, "reminders"),
    ([{"before_due": -1}], "reminders"),
    ([{"before_due": 40321}], "reminders"),
    ([{"before_due": "10"}], "reminders"),
    ([{"at": "2099-01-01T00:00:00"}], "reminders"),
    ([{"at": "2099-01-01T00:00:00Z", "before_due": 5}], "reminders"),
    ([{}], "reminders"),
    ([{"at": "2099-01-01T00:00:00Z", "fired": True}], "reminders"),
    ("soon", "reminders"),
])
def test_bad_reminders_are_422_and_change_nothing(client, alice, reminders, field):
    response = client.post("/api/me/tasks", json={"title": "t", "reminders": reminders}, headers=alice.headers)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]["json"]
    assert client.get("/api/me/tasks", headers=alice.headers).json == []


def test_clearing_the_due_date_of_a_task_with_a_relative_reminder_is_422(client, create_task, alice):
    task = create_task(alice, due_at="2099-01-01T09:00:00Z", reminders=[{"before_due": 10}])
    response = patch(client, alice, task["id"], {"due_at": None})
    assert response.status_code == 422
    assert "reminders" in response.json["errors"]["json"]
    assert client.get(f"/api/me/tasks/{task['id']}", headers=alice.headers).json["due_at"] == task["due_at"]


def test_a_relative_reminder_needs_a_due_date_on_put_and_patch(client, create_task, alice):
    task = create_task(alice)
    assert patch(client, alice, task["id"], {"reminders": [{"before_due": 10}]}).status_code == 422
    put = client.put(f"/api/me/tasks/{task['id']}", json={"title": "t", "reminders": [{"before_due": 10}]},
                     headers=alice.headers)
    assert put.status_code == 422
