"""`taskapp worker` with real receivers: signed events once each, retries, leases, reminders, isolation."""

import time
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

from tests.support.served import free_port
from tests.support.working import Working

FAST_RETRIES = {"WEBHOOK_RETRY_DELAYS": "0.3,0.3"}  # three attempts, a moment apart


@pytest.fixture()
def workers(database):
    started = []

    def start(*options, **env):
        started.append(Working(database.worker_url, *options, **env))
        return started[-1]

    yield start
    for worker in started:
        print(worker.output())  # shown when the test fails
        worker.close()


def subscribe(client, user, url, events=("task.created", "task.updated", "task.completed", "task.deleted")):
    answer = client.post("/api/me/webhooks", json={"url": url, "events": list(events)}, headers=user.headers)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def attempts(client, user, webhook):
    return client.get(f"/api/me/webhooks/{webhook['id']}/deliveries", headers=user.headers).get_json()


def recorded_attempts(client, user, webhook, count: int, seconds: float = 10) -> list[dict]:
    """The subscription's attempts, once `count` are recorded (after the receiver answered)."""
    deadline = time.monotonic() + seconds
    while len(found := attempts(client, user, webhook)) < count:
        assert time.monotonic() < deadline, f"{len(found)} of {count} attempts recorded"
        time.sleep(0.1)
    return found


def utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def test_every_kind_of_change_arrives_signed_once(local_client, alice, receivers, workers):
    receiver = receivers()
    webhook = subscribe(local_client, alice, receiver.url)
    workers()
    task = local_client.post("/api/me/tasks", json={"title": "buy milk"}, headers=alice.headers).get_json()
    path = f"/api/me/tasks/{task['id']}"
    local_client.patch(path, json={"title": "buy oat milk"}, headers=alice.headers)
    local_client.patch(path + "/complete", headers=alice.headers)
    local_client.delete(path, headers=alice.headers)
    events = sorted(receiver.events(webhook["secret"], 4), key=lambda event: event["timestamp"])
    assert [event["type"] for event in events] == ["task.created", "task.updated", "task.completed", "task.deleted"]
    assert [event["data"]["task"]["title"] for event in events] == ["buy milk", "buy oat milk", "buy oat milk",
                                                                    "buy oat milk"]
    assert events[0]["data"]["task"] == {**task, "title": "buy milk"}  # the task as GET returns it
    assert events[2]["data"]["task"]["completed"] is True
    ids = [item.headers["webhook-id"] for item in receiver.received]
    time.sleep(1.5)  # nothing more comes
    assert len(receiver.received) == 4 and len(set(ids)) == 4
    recorded = recorded_attempts(local_client, alice, webhook, 4)
    assert sorted(item["event_id"] for item in recorded) == sorted(ids)
    assert {(item["status"], item["attempt"], item["error"]) for item in recorded} == {(200, 1, None)}


def test_a_failing_receiver_gets_retries_with_the_same_webhook_id(local_client, alice, receivers, workers):
    receiver = receivers(statuses=(500, 500, 200))
    webhook = subscribe(local_client, alice, receiver.url)
    workers(**FAST_RETRIES)
    local_client.post("/api/me/tasks", json={"title": "t"}, headers=alice.headers)
    arrived = receiver.wait_for(3)
    assert len({item.headers["webhook-id"] for item in arrived}) == 1
    [event] = {item.body for item in arrived}  # the same event each time, signed anew
    time.sleep(1)
    assert len(receiver.received) == 3
    recorded = recorded_attempts(local_client, alice, webhook, 3)
    assert [(item["attempt"], item["status"]) for item in recorded] == [(3, 200), (2, 500), (1, 500)]
    assert local_client.get(f"/api/me/webhooks/{webhook['id']}", headers=alice.headers).get_json()["active"]


def test_a_subscription_that_never_answers_is_switched_off(local_client, alice, receivers, workers):
    receiver = receivers(statuses=(503,))
    webhook = subscribe(local_client, alice, receiver.url)
    workers(**FAST_RETRIES)
    local_client.post("/api/me/tasks", json={"title": "t"}, headers=alice.headers)
    receiver.wait_for(3)
    deadline = time.monotonic() + 10
    while local_client.get(f"/api/me/webhooks/{webhook['id']}", headers=alice.headers).get_json()["active"]:
        assert time.monotonic() < deadline, "the subscription stayed active"
        time.sleep(0.1)
    assert [item["status"] for item in attempts(local_client, alice, webhook)] == [503, 503, 503]
    local_client.post("/api/me/tasks", json={"title": "not sent"}, headers=alice.headers)
    time.sleep(1.5)
    assert len(receiver.received) == 3


def test_two_workers_deliver_every_event_once(local_client, alice, receivers, workers):
    receiver = receivers()
    webhook = subscribe(local_client, alice, receiver.url, events=("task.created",))
    workers("--concurrency", "3")
    workers("--concurrency", "3")
    for number in range(60):
        local_client.post("/api/me/tasks", json={"title": f"task {number}"}, headers=alice.headers)
    events = receiver.events(webhook["secret"], 60, seconds=30)
    assert sorted(event["data"]["task"]["title"] for event in events) == sorted(f"task {n}" for n in range(60))
    time.sleep(1.5)
    ids = [item.headers["webhook-id"] for item in receiver.received]
    assert len(ids) == len(set(ids)) == 60


def test_an_event_whose_worker_was_killed_mid_delivery_still_arrives(local_client, alice, receivers, workers):
    receiver = receivers(hold=5, held=1)  # the first request hangs: its worker is killed meanwhile
    webhook = subscribe(local_client, alice, receiver.url, events=("task.created",))
    doomed = workers("--lease-seconds", "3")
    local_client.post("/api/me/tasks", json={"title": "survives"}, headers=alice.headers)
    receiver.wait_for(1)
    doomed.kill()
    workers("--lease-seconds", "3")
    first, second = receiver.wait_for(2, seconds=20)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert [item["status"] for item in recorded_attempts(local_client, alice, webhook, 1)] == [200]


def test_sigterm_stops_a_worker_cleanly(workers):
    worker = workers()
    started = time.monotonic()
    assert worker.stop() == 0
    assert time.monotonic() - started < 5
    assert "worker stopped" in worker.output()


def test_a_reminder_three_seconds_ahead_arrives_within_five_seconds(local_client, alice, receivers, workers):
    receiver = receivers()
    webhook = subscribe(local_client, alice, receiver.url, events=("reminder.due",))
    workers()
    at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=4)
    task = local_client.post("/api/me/tasks", json={"title": "call Bob", "reminders": [{"at": utc(at)}]},
                             headers=alice.headers).get_json()
    [event] = receiver.events(webhook["secret"], 1, seconds=15)
    arrived = receiver.received[0].at
    assert at.timestamp() - 0.5 <= arrived <= at.timestamp() + 5
    assert event["type"] == "reminder.due"
    assert event["data"]["reminder"]["fires_at"] == utc(at) and event["data"]["reminder"]["fired"] is True
    assert event["data"]["task"]["id"] == task["id"]
    # The task shows the reminder fired, and the change feed has it as an upsert.
    now = local_client.get(f"/api/me/tasks/{task['id']}", headers=alice.headers).get_json()
    assert now["reminders"][0]["fired"] is True
    feed = local_client.get("/api/me/changes", headers=alice.headers).get_json()
    assert [change["task"]["reminders"][0]["fired"] for change in feed["changes"]] == [True]


def test_a_relative_reminder_follows_a_moved_due_date(local_client, alice, receivers, workers):
    receiver = receivers()
    webhook = subscribe(local_client, alice, receiver.url, events=("reminder.due",))
    workers()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    task = local_client.post("/api/me/tasks", json={"title": "t", "due_at": utc(now + timedelta(seconds=3)),
                                                    "reminders": [{"before_due": 0}]},
                             headers=alice.headers).get_json()
    moved = now + timedelta(seconds=6)
    local_client.patch(f"/api/me/tasks/{task['id']}", json={"due_at": utc(moved)}, headers=alice.headers)
    [event] = receiver.events(webhook["secret"], 1, seconds=15)
    assert receiver.received[0].at >= moved.timestamp() - 0.5
    assert event["data"]["reminder"]["fires_at"] == utc(moved)


def test_a_recurring_tasks_reminder_fires_again_for_the_next_occurrence(local_client, alice, receivers, workers):
    receiver = receivers()
    webhook = subscribe(local_client, alice, receiver.url, events=("reminder.due",))
    workers()
    due = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=3)
    task = local_client.post("/api/me/tasks", json={
        "title": "stand-up", "due_at": utc(due), "recurrence": "FREQ=DAILY", "reminders": [{"before_due": 0}],
    }, headers=alice.headers).get_json()
    receiver.events(webhook["secret"], 1, seconds=15)
    done = local_client.patch(f"/api/me/tasks/{task['id']}/complete", headers=alice.headers).get_json()
    assert done["due_at"] == utc(due + timedelta(days=1))
    assert done["reminders"] == [{"before_due": 0, "fires_at": utc(due + timedelta(days=1)), "fired": False,
                                  "missed": False}]


def test_bobs_subscription_never_receives_alices_events(local_client, alice, bob, receivers, workers):
    alices, bobs = receivers(), receivers()
    subscribe(local_client, alice, alices.url, events=("task.created",))
    subscribe(local_client, bob, bobs.url, events=("task.created",))
    workers()
    local_client.post("/api/me/tasks", json={"title": "alice's"}, headers=alice.headers)
    alices.wait_for(1)
    time.sleep(1.5)
    assert bobs.received == []


def test_a_redirect_is_not_followed(local_client, alice, receivers, workers):
    elsewhere = receivers()
    redirecting = receivers(redirect_to=elsewhere.url)
    webhook = subscribe(local_client, alice, redirecting.url, events=("task.created",))
    workers(**FAST_RETRIES)
    local_client.post("/api/me/tasks", json={"title": "t"}, headers=alice.headers)
    redirecting.wait_for(3)
    time.sleep(1)
    assert elsewhere.received == []
    assert [item["status"] for item in recorded_attempts(local_client, alice, webhook, 3)] == [302, 302, 302]


def test_a_private_address_is_refused_again_at_delivery(local_client, alice, receivers, workers):
    """Subscribed while private addresses were allowed; the worker no longer allows them."""
    receiver = receivers()
    webhook = subscribe(local_client, alice, receiver.url, events=("task.created",))
    workers(WEBHOOK_ALLOW_PRIVATE="off", **FAST_RETRIES)
    local_client.post("/api/me/tasks", json={"title": "t"}, headers=alice.headers)
    [first, *_] = reversed(recorded_attempts(local_client, alice, webhook, 1))
    assert first["status"] is None and "Only https://" in first["error"]
    assert receiver.received == []


def test_the_workers_numbers_are_on_its_metrics_port(local_client, alice, receivers, workers):
    receiver = receivers()
    subscribe(local_client, alice, receiver.url, events=("task.created",))
    port = free_port()
    workers("--metrics-port", str(port))
    local_client.post("/api/me/tasks", json={"title": "t"}, headers=alice.headers)
    receiver.wait_for(1)
    deadline = time.monotonic() + 10
    while True:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
        if 'taskapp_worker_deliveries_total{outcome="delivered"} 1.0' in text or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert 'taskapp_worker_deliveries_total{outcome="delivered"} 1.0' in text
    assert "taskapp_worker_delivery_latency_seconds_count 1.0" in text
    assert 'taskapp_worker_jobs_due{kind="delivery"}' in text and 'taskapp_worker_jobs_due{kind="reminder"}' in text
    assert "taskapp_worker_reminder_lag_seconds_count" in text


def test_readiness_does_not_depend_on_receivers(local_client, alice):
    subscribe(local_client, alice, "http://127.0.0.1:9/down", events=("task.created",))
    local_client.post("/api/me/tasks", json={"title": "t"}, headers=alice.headers)
    assert local_client.get("/readyz").status_code == 200


def test_a_worker_outlives_its_connections_being_cut(local_client, alice, receivers, workers, admin_sql):
    receiver = receivers()
    subscribe(local_client, alice, receiver.url, events=("task.created",))
    worker = workers()
    admin_sql.execute("select pg_terminate_backend(pid) from pg_stat_activity where usename = 'taskapp_worker'")
    local_client.post("/api/me/tasks", json={"title": "after the cut"}, headers=alice.headers)
    receiver.wait_for(1, seconds=20)
    assert worker.process.poll() is None


def test_a_trickling_receiver_delays_only_its_own_subscription(local_client, alice, bob, receivers, workers):
    """One header line a second: each read beats any socket timeout, the delivery's deadline does not."""
    slow, fast = receivers(trickle=1.0), receivers()
    slow_hook = subscribe(local_client, alice, slow.url, events=("task.created",))
    fast_hook = subscribe(local_client, bob, fast.url, events=("task.created",))
    workers()  # four threads; one user holds at most half of them
    for number in range(8):
        local_client.post("/api/me/tasks", json={"title": f"slow {number}"}, headers=alice.headers)
    slow.wait_for(2)  # Alice's share of the worker is now held by her receiver
    local_client.post("/api/me/tasks", json={"title": "fast"}, headers=bob.headers)
    started = time.monotonic()
    [event] = fast.events(fast_hook["secret"], 1, seconds=4)
    assert event["data"]["task"]["title"] == "fast" and time.monotonic() - started < 4
    # Alice's deliveries end at their deadline, each a failed attempt to be retried.
    failed = recorded_attempts(local_client, alice, slow_hook, 1, seconds=15)
    assert failed[0]["status"] is None and "No complete answer within 5 s" in failed[0]["error"]


def test_a_url_stored_before_urls_were_normalised_is_delivered_percent_encoded(
        local_client, alice, receivers, workers, admin_sql):
    """Non-ASCII in a stored path once made every try raise before an attempt was recorded."""
    receiver = receivers()
    webhook = subscribe(local_client, alice, receiver.url, events=("task.created",))
    admin_sql.execute("update webhooks set url = url || '/ü' where id = %s", (webhook["id"],))
    workers()
    local_client.post("/api/me/tasks", json={"title": "somewhere"}, headers=alice.headers)
    [arrived] = receiver.wait_for(1)
    assert arrived.path == "/hook/%C3%BC"
    assert recorded_attempts(local_client, alice, webhook, 1)[0]["status"] == 200
