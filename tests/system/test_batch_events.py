"""A batch's writes reach webhooks as each operation would alone, in the batch's order, sent by a
real `taskapp worker` to a real receiver once the batch has committed; a refused batch sends
nothing."""

import time
import uuid

from tests.system.test_worker import subscribe


def test_each_operation_is_an_event_in_the_batchs_order(local_client, alice, receivers, worker):
    receiver = receivers()
    hook = subscribe(local_client, alice, receiver.url)
    answer = local_client.post("/api/me/batch", headers=alice.headers, json={"operations": [
        {"op": "create_task", "ref": "a", "task": {"title": "first"}},
        {"op": "create_task", "ref": "b", "task": {"title": "second"}},
        {"op": "update_task", "task_ref": "a", "changes": {"title": "first, renamed"}},
        {"op": "complete_task", "task_ref": "a"},
        {"op": "delete_task", "task_ref": "b"},
    ]})
    assert answer.status_code == 200, answer.get_json()
    events = sorted(receiver.events(hook["secret"], 5), key=lambda event: event["timestamp"])
    assert [(event["type"], event["data"]["task"]["title"]) for event in events] == [
        ("task.created", "first"), ("task.created", "second"), ("task.updated", "first, renamed"),
        ("task.completed", "first, renamed"), ("task.deleted", "second")]


def test_a_refused_batch_sends_nothing(local_client, alice, receivers, worker):
    receiver = receivers()
    hook = subscribe(local_client, alice, receiver.url)
    refused = local_client.post("/api/me/batch", headers=alice.headers, json={"operations": [
        {"op": "create_task", "task": {"title": "never"}},
        {"op": "delete_task", "task_id": str(uuid.uuid4())},
    ]})
    assert refused.status_code == 404
    made = local_client.post("/api/me/tasks", headers=alice.headers, json={"title": "after"})
    assert made.status_code == 201
    [event] = receiver.events(hook["secret"], 1)
    assert event["data"]["task"]["title"] == "after"
    time.sleep(1)  # an event of the refused batch, had one been made, would be sent by now too
    assert len(receiver.received) == 1
