"""Recurring tasks over HTTP: rules in the task's zone, completion that moves the task forward."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

BERLIN = ZoneInfo("Europe/Berlin")


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def at(days: int, hour: int = 9, zone=timezone.utc) -> str:
    """A wall-clock hour `days` from today in `zone`, as RFC 3339."""
    day = datetime.now(zone).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, tzinfo=zone).isoformat()


def complete(client, user, task_id):
    response = client.patch(f"/api/me/tasks/{task_id}/complete", headers=user.headers)
    assert response.status_code == 200, response.json
    return response.json


def history(client, user, task_id):
    response = client.get(f"/api/me/tasks/{task_id}/completions", headers=user.headers)
    assert response.status_code == 200, response.json
    return response.json


def test_a_recurring_task_is_returned_with_its_rule_normalised(create_task, alice):
    task = create_task(alice, due_at=at(1), recurrence="rrule:freq=weekly;byday=mo,we", time_zone="Europe/Berlin")
    assert task["recurrence"] == "FREQ=WEEKLY;BYDAY=MO,WE"
    assert task["time_zone"] == "Europe/Berlin"
    assert task["repeat_from"] == "due"
    assert "recurrence_last" not in task and "series_completions" not in task


def test_a_plain_task_has_the_defaults(create_task, alice):
    task = create_task(alice)
    assert (task["recurrence"], task["time_zone"], task["repeat_from"]) == (None, "UTC", "due")


def test_completing_moves_the_task_to_its_next_occurrence_and_keeps_it_open(client, create_task, alice):
    task = create_task(alice, due_at=at(1), recurrence="FREQ=DAILY")
    done = complete(client, alice, task["id"])
    assert done["completed"] is False and done["completed_at"] is None
    assert parse(done["due_at"]) == parse(task["due_at"]) + timedelta(days=1)
    [record] = history(client, alice, task["id"])
    assert parse(record["due_at"]) == parse(task["due_at"])
    assert record["task_id"] == task["id"]
    assert parse(record["completed_at"]) == parse(done["updated_at"])


def test_missed_occurrences_are_skipped_not_replayed(client, create_task, alice):
    task = create_task(alice, due_at=at(-7), recurrence="FREQ=DAILY")
    done = complete(client, alice, task["id"])
    assert parse(done["due_at"]) == parse(at(1)) or parse(done["due_at"]) == parse(at(0))
    assert parse(done["due_at"]) > datetime.now(timezone.utc)
    assert len(history(client, alice, task["id"])) == 1


def test_a_daily_0900_task_stays_at_0900_berlin_time_across_the_clock_change(client, create_task, alice):
    # 2099's spring-forward change in Berlin is on Sunday 29 March; the series starts the Friday before.
    task = create_task(alice, due_at="2099-03-27T09:00:00+01:00", recurrence="FREQ=DAILY", time_zone="Europe/Berlin")
    seen = []
    for _ in range(4):
        task = complete(client, alice, task["id"])
        seen.append(parse(task["due_at"]).astimezone(BERLIN))
    assert [(d.day, d.hour, d.minute) for d in seen] == [(28, 9, 0), (29, 9, 0), (30, 9, 0), (31, 9, 0)]
    assert seen[0].utcoffset() == timedelta(hours=1) and seen[1].utcoffset() == timedelta(hours=2)


def test_every_month_on_the_31st_skips_short_months_and_the_last_day_rule_never_spills(client, create_task, alice):
    on_31st = create_task(alice, due_at="2099-01-31T09:00:00Z", recurrence="FREQ=MONTHLY")
    assert complete(client, alice, on_31st["id"])["due_at"] == "2099-03-31T09:00:00Z"
    last_day = create_task(alice, due_at="2099-01-31T09:00:00Z", recurrence="FREQ=MONTHLY;BYMONTHDAY=-1")
    assert complete(client, alice, last_day["id"])["due_at"] == "2099-02-28T09:00:00Z"
    assert complete(client, alice, last_day["id"])["due_at"] == "2099-03-31T09:00:00Z"


def test_weekly_on_monday_and_wednesday(client, create_task, alice):
    # 2099-06-01 is a Monday.
    task = create_task(alice, due_at="2099-06-01T09:00:00+02:00", recurrence="FREQ=WEEKLY;BYDAY=MO,WE",
                       time_zone="Europe/Berlin")
    dues = [complete(client, alice, task["id"])["due_at"] for _ in range(3)]
    assert dues == ["2099-06-03T07:00:00Z", "2099-06-08T07:00:00Z", "2099-06-10T07:00:00Z"]


def test_count_ends_the_series_and_the_last_completion_completes_the_task(client, create_task, alice):
    task = create_task(alice, due_at="2099-01-01T09:00:00Z", recurrence="FREQ=DAILY;COUNT=3")
    assert complete(client, alice, task["id"])["due_at"] == "2099-01-02T09:00:00Z"
    assert complete(client, alice, task["id"])["due_at"] == "2099-01-03T09:00:00Z"
    last = complete(client, alice, task["id"])
    assert last["completed"] is True and last["due_at"] == "2099-01-03T09:00:00Z"
    assert [parse(c["due_at"]).day for c in history(client, alice, task["id"])] == [3, 2, 1]


def test_until_is_inclusive(client, create_task, alice):
    task = create_task(alice, due_at="2099-01-01T09:00:00Z", recurrence="FREQ=DAILY;UNTIL=20990102T090000Z")
    assert complete(client, alice, task["id"])["due_at"] == "2099-01-02T09:00:00Z"
    assert complete(client, alice, task["id"])["completed"] is True


def test_repeat_from_completion_restarts_the_rule_on_the_day_of_completion(client, create_task, alice):
    task = create_task(alice, due_at=at(-5, hour=8), recurrence="FREQ=DAILY;INTERVAL=3", repeat_from="completion")
    done = complete(client, alice, task["id"])
    assert parse(done["due_at"]) == parse(at(3, hour=8))
    assert done["completed"] is False


def test_repeat_from_completion_counts_completions(client, create_task, alice):
    task = create_task(alice, due_at=at(-1), recurrence="FREQ=DAILY;COUNT=2", repeat_from="completion")
    assert complete(client, alice, task["id"])["completed"] is False
    assert complete(client, alice, task["id"])["completed"] is True


@pytest.mark.parametrize("body", [{"completed": True}, "put"])
def test_completed_true_in_patch_or_put_completes_the_occurrence(client, create_task, alice, body):
    task = create_task(alice, due_at="2099-01-01T09:00:00Z", recurrence="FREQ=DAILY", title="water plants")
    if body == "put":
        body = {"title": "water plants", "due_at": task["due_at"], "recurrence": "FREQ=DAILY", "completed": True}
        response = client.put(f"/api/me/tasks/{task['id']}", json=body, headers=alice.headers)
    else:
        response = client.patch(f"/api/me/tasks/{task['id']}", json=body, headers=alice.headers)
    assert response.status_code == 200, response.json
    assert response.json["completed"] is False and response.json["due_at"] == "2099-01-02T09:00:00Z"
    assert len(history(client, alice, task["id"])) == 1


def test_a_task_created_completed_with_a_recurrence_starts_at_its_second_occurrence(create_task, client, alice):
    task = create_task(alice, due_at="2099-01-01T09:00:00Z", recurrence="FREQ=DAILY", completed=True)
    assert task["completed"] is False and task["due_at"] == "2099-01-02T09:00:00Z"
    assert len(history(client, alice, task["id"])) == 1


def test_changing_the_schedule_re_anchors_the_series(client, create_task, alice):
    task = create_task(alice, due_at="2099-01-01T09:00:00Z", recurrence="FREQ=DAILY;COUNT=2")
    complete(client, alice, task["id"])  # one of two done
    response = client.patch(f"/api/me/tasks/{task['id']}", json={"due_at": "2099-02-01T18:00:00Z"},
                            headers=alice.headers)
    assert response.status_code == 200
    # Re-anchored: COUNT=2 counts again from the new due_at.
    assert complete(client, alice, task["id"])["due_at"] == "2099-02-02T18:00:00Z"
    assert complete(client, alice, task["id"])["completed"] is True


def test_clearing_the_recurrence_makes_it_a_plain_task(client, create_task, alice):
    task = create_task(alice, due_at="2099-01-01T09:00:00Z", recurrence="FREQ=DAILY")
    response = client.patch(f"/api/me/tasks/{task['id']}", json={"recurrence": None}, headers=alice.headers)
    assert response.json["recurrence"] is None
    done = complete(client, alice, task["id"])
    assert done["completed"] is True and done["due_at"] == "2099-01-01T09:00:00Z"


def test_a_put_without_recurrence_makes_it_a_plain_task(client, create_task, alice):
    task = create_task(alice, due_at="2099-01-01T09:00:00Z", recurrence="FREQ=DAILY")
    response = client.put(f"/api/me/tasks/{task['id']}", json={"title": "plain"}, headers=alice.headers)
    assert response.status_code == 200 and response.json["recurrence"] is None


def test_reopening_a_finished_series_forgets_its_last_completion(client, create_task, alice):
    task = create_task(alice, due_at="2099-01-01T09:00:00Z", recurrence="FREQ=DAILY;COUNT=1")
    assert complete(client, alice, task["id"])["completed"] is True
    reopened = complete(client, alice, task["id"])
    assert reopened["completed"] is False
    assert history(client, alice, task["id"]) == []


def test_the_list_filters_recurring_tasks(client, create_task, alice):
    recurring = create_task(alice, due_at=at(1), recurrence="FREQ=DAILY")
    plain = create_task(alice)
    yes = client.get("/api/me/tasks?recurring=true", headers=alice.headers).json
    no = client.get("/api/me/tasks?recurring=false", headers=alice.headers).json
    assert [t["id"] for t in yes] == [recurring["id"]]
    assert [t["id"] for t in no] == [plain["id"]]
    assert client.get("/api/me/tasks?recurring=maybe", headers=alice.headers).status_code == 422


def test_the_summary_counts_completions_today(client, create_task, alice):
    task = create_task(alice, due_at=at(-3), recurrence="FREQ=DAILY")
    complete(client, alice, task["id"])
    complete(client, alice, task["id"])
    create_task(alice, completed=True)
    counts = client.get("/api/me/summary", headers=alice.headers).json["tasks"]
    assert counts["completed_today"] == 3
    assert counts["completed"] == 1 and counts["open"] == 1


def test_the_etag_moves_when_a_recurring_task_moves_forward(client, create_task, alice):
    task = create_task(alice, due_at=at(1), recurrence="FREQ=DAILY")
    stale = client.get(f"/api/me/tasks/{task['id']}", headers=alice.headers).headers["ETag"]
    complete(client, alice, task["id"])
    response = client.patch(f"/api/me/tasks/{task['id']}/complete", headers={**alice.headers, "If-Match": stale})
    assert response.status_code == 412
    assert len(history(client, alice, task["id"])) == 1


TOO_LONG = "FREQ=DAILY;BYMONTHDAY=" + ",".join(["1"] * 250)


@pytest.mark.parametrize(("fields", "field", "says"), [
    ({"recurrence": "FREQ=DAILY"}, "recurrence", "needs a due_at"),
    ({"recurrence": "not a rule", "due_at": "2099-01-01T09:00:00Z"}, "recurrence", "NAME=VALUE"),
    ({"recurrence": "FREQ=SECONDLY", "due_at": "2099-01-01T09:00:00Z"}, "recurrence", "not a timer"),
    ({"recurrence": "FREQ=MINUTELY", "due_at": "2099-01-01T09:00:00Z"}, "recurrence", "not a timer"),
    ({"recurrence": "FREQ=DAILY;BYHOUR=9", "due_at": "2099-01-01T09:00:00Z"}, "recurrence", "BYHOUR is not supported"),
    ({"recurrence": "FREQ=DAILY;UNTIL=20980101T000000Z", "due_at": "2099-01-01T09:00:00Z"}, "recurrence",
     "no occurrence at or after due_at"),
    # No date satisfies it: the search walks to the calendar's end (close enough to be within budget).
    ({"recurrence": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "due_at": "9990-01-01T09:00:00Z"}, "recurrence",
     "no occurrence at or after due_at"),
    ({"recurrence": "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30", "due_at": "2099-01-01T09:00:00Z"}, "recurrence",
     "too far apart"),
    ({"recurrence": "FREQ=DAILY;INTERVAL=7;BYDAY=MO", "due_at": "2099-01-06T09:00:00Z"}, "recurrence",
     "too far apart"),
    ({"recurrence": "FREQ=DAILY;INTERVAL=0", "due_at": "2099-01-01T09:00:00Z"}, "recurrence", "INTERVAL"),
    ({"recurrence": "FREQ=WEEKLY;BYDAY=XX", "due_at": "2099-01-01T09:00:00Z"}, "recurrence", "BYDAY"),
    ({"recurrence": "FREQ=DAILY;COUNT=2;UNTIL=20990101", "due_at": "2099-01-01T09:00:00Z"}, "recurrence", "COUNT"),
    ({"recurrence": TOO_LONG, "due_at": "2099-01-01T09:00:00Z"}, "recurrence", "500"),
    ({"recurrence": 7, "due_at": "2099-01-01T09:00:00Z"}, "recurrence", "Not a valid string"),
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone", "Unknown time zone"),
    ({"time_zone": "../../etc/passwd"}, "time_zone", "Unknown time zone"),
    ({"repeat_from": "whenever"}, "repeat_from", "Must be one of"),
])
def test_bad_recurrence_is_422_naming_what_is_wrong_and_creates_nothing(client, alice, fields, field, says):
    response = client.post("/api/me/tasks", json={"title": "x", **fields}, headers=alice.headers)
    assert response.status_code == 422, response.json
    assert says in " ".join(response.json["errors"]["json"][field])
    assert client.get("/api/me/tasks", headers=alice.headers).json == []


def test_a_patch_that_breaks_the_schedule_is_422_and_changes_nothing(client, create_task, alice):
    task = create_task(alice, due_at="2099-01-01T09:00:00Z", recurrence="FREQ=DAILY")
    for body in ({"due_at": None}, {"recurrence": "FREQ=DAILY;UNTIL=20980101"}, {"time_zone": "Nowhere/Else"}):
        response = client.patch(f"/api/me/tasks/{task['id']}", json=body, headers=alice.headers)
        assert response.status_code == 422, (body, response.json)
    assert client.get(f"/api/me/tasks/{task['id']}", headers=alice.headers).json == task


def test_a_recurrence_on_a_task_without_due_at_is_422(client, create_task, alice):
    task = create_task(alice)
    response = client.patch(f"/api/me/tasks/{task['id']}", json={"recurrence": "FREQ=DAILY"}, headers=alice.headers)
    assert response.status_code == 422
    assert "needs a due_at" in response.json["errors"]["json"]["recurrence"][0]


def test_another_users_recurring_task_cannot_be_completed(client, create_task, alice, bob):
    task = create_task(alice, due_at=at(1), recurrence="FREQ=DAILY")
    assert client.patch(f"/api/me/tasks/{task['id']}/complete", headers=bob.headers).status_code == 404
    assert client.patch(f"/api/me/tasks/{task['id']}", json={"completed": True},
                        headers=bob.headers).status_code == 404
    assert client.get(f"/api/me/tasks/{task['id']}", headers=alice.headers).json == task


def test_a_time_the_clock_change_skips_is_due_after_the_gap_that_day_and_as_usual_after(client, create_task, alice):
    # Berlin skips 02:00-03:00 on 2099-03-29: a daily 02:30 task is due 03:30 that day only.
    task = create_task(alice, due_at="2099-03-28T02:30:00+01:00", recurrence="FREQ=DAILY", time_zone="Europe/Berlin")
    dues = [parse(complete(client, alice, task["id"])["due_at"]).astimezone(BERLIN) for _ in range(2)]
    assert [(d.day, d.hour, d.minute) for d in dues] == [(29, 3, 30), (30, 2, 30)]


@pytest.mark.parametrize(("due_at", "zone"), [
    ("9999-12-31T23:00:00Z", "Australia/Lord_Howe"),  # local time is already in the year 10000
    ("0001-01-01T00:00:00Z", "America/New_York"),  # local time is still in the year 0
])
def test_a_due_at_whose_local_time_leaves_the_calendar_is_422(client, alice, due_at, zone):
    body = {"title": "x", "due_at": due_at, "recurrence": "FREQ=DAILY", "time_zone": zone}
    response = client.post("/api/me/tasks", json=body, headers=alice.headers)
    assert response.status_code == 422
    assert "years 1 to 9999" in response.json["errors"]["json"]["recurrence"][0]


def test_a_series_whose_next_occurrence_is_past_the_year_9999_ends(client, create_task, alice):
    task = create_task(alice, due_at="9999-12-31T09:00:00Z", recurrence="FREQ=DAILY", time_zone="America/New_York")
    done = complete(client, alice, task["id"])
    assert done["completed"] is True and done["due_at"] == task["due_at"]

