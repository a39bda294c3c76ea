"""Atomic batches over HTTP: operations in order, in one transaction, each answered (or refused)
as its single route would; references to what earlier operations made; one Idempotency-Key."""

import uuid

import pytest

from taskapp.batch.schemas import MAX_OPERATIONS
from tests.support.citus import CITUS_ADMIN_URL
from tests.support.users import new_user


def run(client, user, operations, status=200, headers=None):
    response = client.post("/api/me/batch", json={"operations": operations},
                           headers={**user.headers, **(headers or {})})
    assert response.status_code == status, response.get_json()
    return response


def titles(client, user):
    response = client.get("/api/me/tasks", query_string={"limit": 500}, headers=user.headers)
    return sorted(task["title"] for task in response.json)


def test_operations_run_in_order_and_later_ones_refer_to_what_earlier_ones_made(client, alice):
    operations = [
        {"op": "create_list", "ref": "trip", "list": {"name": "Trip"}},
        {"op": "create_task", "ref": "passport", "list_ref": "trip", "task": {"title": "Passport"}},
        {"op": "update_task", "task_ref": "passport", "changes": {"priority": "high"}},
        {"op": "complete_task", "task_ref": "passport"},
        {"op": "create_task", "ref": "tickets", "task": {"title": "Tickets"}},
        {"op": "move_task", "task_ref": "tickets", "list_ref": "trip"},
    ]
    if CITUS_ADMIN_URL:  # a task cannot change list on a cluster: the move is refused, nothing written
        body = run(client, alice, operations, status=409).json
        assert body["operation"] == "/operations/5" and "create it in that list" in body["message"]
        assert titles(client, alice) == []
        # Made in the list instead; "moving" it to the list it is in is no move, and answers 200.
        operations[4] = {"op": "create_task", "ref": "tickets", "list_ref": "trip", "task": {"title": "Tickets"}}
    results = run(client, alice, operations).json["results"]
    assert [r["op"] for r in results] == [
        "create_list", "create_task", "update_task", "complete_task", "create_task", "move_task"]
    assert [r["status"] for r in results] == [201, 201, 200, 200, 201, 200]
    trip = results[0]["list"]
    assert results[0]["ref"] == "trip" and trip["name"] == "Trip" and trip["role"] == "owner"
    passport = results[3]["task"]
    assert passport["id"] == results[1]["task"]["id"] and passport["list_id"] == trip["id"]
    assert passport["priority"] == "high" and passport["completed"] is True
    assert results[5]["task"]["list_id"] == trip["id"]
    got = client.get(f"/api/me/tasks/{passport['id']}", headers=alice.headers)
    assert got.headers["ETag"] == results[3]["etag"]
    assert titles(client, alice) == ["Passport", "Tickets"]


def test_a_failing_operation_leaves_nothing_written_and_says_which_it_was(client, alice):
    operations = [{"op": "create_task", "task": {"title": f"task {n}"}} for n in range(36)]
    operations.append({"op": "delete_task", "task_id": str(uuid.uuid4())})  # the 37th: no such task
    operations.append({"op": "create_task", "task": {"title": "after"}})
    body = run(client, alice, operations, status=404).json
    assert body["code"] == 404 and body["operation"] == "/operations/36"
    assert titles(client, alice) == []


def test_an_invalid_body_is_refused_as_its_route_refuses_it_with_the_field_under_the_operation(client, alice):
    body = run(client, alice, [
        {"op": "create_task", "task": {"title": "fine"}},
        {"op": "create_task", "task": {"title": "", "priority": "urgent"}},
    ], status=422).json
    assert body["operation"] == "/operations/1"
    fields = body["errors"]["json"]["operations"]["1"]["task"]
    assert set(fields) == {"title", "priority"}
    assert titles(client, alice) == []


@pytest.mark.parametrize("operations, field", [
    ([{"op": "explode"}], "op"),
    ([{"op": "create_task"}], "task"),
    ([{"op": "create_task", "task": "a title"}], "task"),
    ([{"op": "delete_task"}], "task_id"),
    ([{"op": "delete_task", "task_id": "not-a-uuid"}], "task_id"),
    ([{"op": "delete_task", "task_ref": "nowhere"}], "task_ref"),
    ([{"op": "delete_task", "task_id": str(uuid.uuid4()), "task_ref": "x"}], "task_ref"),
    ([{"op": "create_task", "task": {"title": "a"}, "surprise": 1}], "surprise"),
    ([{"op": "create_task", "ref": "a", "task": {"title": "a"}},
      {"op": "create_task", "ref": "a", "task": {"title": "b"}}], "ref"),
    ([{"op": "complete_task", "task_id": str(uuid.uuid4()), "completed": "yes"}], "completed"),
    ([{"op": "create_task", "ref": "has space", "task": {"title": "a"}}], "ref"),
])
def test_a_malformed_operation_is_422_naming_it_and_its_field(client, alice, operations, field):
    body = run(client, alice, [{"op": "create_task", "task": {"title": "first"}}, *operations], status=422).json
    where = body["errors"]["json"]["operations"]
    index = str(len(operations))  # the last one given is the malformed one
    assert field in where[index], body
    assert body["operation"] == f"/operations/{index}", body
    assert titles(client, alice) == []


@pytest.mark.parametrize("failing", [0, 11, 98, 99])
def test_whichever_operation_fails_nothing_is_written(client, alice, create_task, failing):
    """A stale If-Match, a missing task, an invalid body: at any place in a full batch, nothing stays."""
    task = create_task(alice, title="kept as it was")
    failures = [
        {"op": "update_task", "task_id": task["id"], "if_match": '"stale"', "changes": {"title": "changed"}},
        {"op": "complete_task", "task_id": str(uuid.uuid4())},
        {"op": "replace_task", "task_id": task["id"], "task": {"title": ""}},
    ]
    for failure, status in zip(failures, (412, 404, 422), strict=True):
        operations = [{"op": "create_task", "task": {"title": f"t{n}"}} if n % 2 else
                      {"op": "update_task", "task_id": task["id"], "changes": {"priority": "high"}}
                      for n in range(MAX_OPERATIONS)]
        operations[failing] = failure
        body = run(client, alice, operations, status=status).json
        assert body["operation"] == f"/operations/{failing}", body
        assert titles(client, alice) == ["kept as it was"]
        assert client.get(f"/api/me/tasks/{task['id']}", headers=alice.headers).json["priority"] == "medium"


def test_replace_task_answers_as_put(client, alice, create_task):
    task = create_task(alice, title="old", priority="low", tags=["a"])
    result = run(client, alice, [{"op": "replace_task", "task_id": task["id"], "task": {"title": "new"}}]).json
    replaced = result["results"][0]
    put = client.get(f"/api/me/tasks/{task['id']}", headers=alice.headers)
    assert replaced["op"] == "replace_task" and replaced["status"] == 200 and replaced["etag"] == put.headers["ETag"]
    assert replaced["task"] == put.json and put.json["title"] == "new" and put.json["tags"] == []
    assert put.json["priority"] == "medium" and put.json["list_id"] == task["list_id"]


def test_a_refusal_after_earlier_operations_is_answered_as_after_them(client, alice, bob):
    """Bob joins as a viewer and then writes in the list: 403 (he sees it, thanks to the first
    operation), not 404, and the whole batch, his joining too, is undone."""
    house = client.post("/api/me/lists", json={"name": "House"}, headers=alice.headers).json
    invitation = client.post(f"/api/me/lists/{house['id']}/invitations", json={"user_id": bob.sub, "role": "viewer"},
                             headers=alice.headers).json
    for write, status in (
        ({"op": "create_task", "task": {"title": "mine", "list_id": house["id"]}}, 403),
        ({"op": "rename_list", "list_id": house["id"], "list": {"name": "Bob's"}}, 403),
        ({"op": "invite", "list_id": house["id"], "invitation": {"user_id": alice.sub + "x", "role": "viewer"}}, 403),
        ({"op": "create_task", "task": {"title": "mine", "list_id": str(uuid.uuid4())}}, 404),
    ):
        body = run(client, bob, [{"op": "accept_invitation", "invitation_id": invitation["id"]}, write],
                   status=status).json
        assert body["operation"] == "/operations/1", (write, body)
        assert [i["id"] for i in client.get("/api/me/invitations", headers=bob.headers).json] == [invitation["id"]]
        assert client.get(f"/api/me/lists/{house['id']}", headers=bob.headers).status_code == 404


@pytest.mark.parametrize("body", [{}, {"operations": []}, {"operations": {}}, [], {"operations": [1]},
                                  {"operations": [], "atomic": False}])
def test_a_batch_without_operations_is_refused(client, alice, body):
    response = client.post("/api/me/batch", json=body, headers=alice.headers)
    assert response.status_code == 422, response.json
    assert response.json["code"] == 422


def test_at_most_the_limit_of_operations(client, alice):
    too_many = [{"op": "create_task", "task": {"title": f"t{n}"}} for n in range(MAX_OPERATIONS + 1)]
    run(client, alice, too_many, status=422)
    assert titles(client, alice) == []
    results = run(client, alice, too_many[:MAX_OPERATIONS]).json["results"]
    assert len(results) == MAX_OPERATIONS and len(titles(client, alice)) == MAX_OPERATIONS


def test_one_idempotency_key_covers_the_batch(client, alice):
    operations = [{"op": "create_task", "task": {"title": "once"}}, {"op": "create_task", "task": {"title": "twice?"}}]
    first = run(client, alice, operations, headers={"Idempotency-Key": "batch-1"})
    again = run(client, alice, operations, headers={"Idempotency-Key": "batch-1"})
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == first.json
    assert titles(client, alice) == ["once", "twice?"]
    other = [{"op": "create_task", "task": {"title": "other"}}]
    run(client, alice, other, status=422, headers={"Idempotency-Key": "batch-1"})


def test_a_refused_batch_is_not_remembered_by_its_key(client, alice):
    operations = [{"op": "create_task", "task": {"title": "a"}}, {"op": "delete_task", "task_id": str(uuid.uuid4())}]
    for _ in range(2):  # processed anew each time, never replayed
        response = run(client, alice, operations, status=404, headers={"Idempotency-Key": "retry-me"})
        assert "Idempotent-Replayed" not in response.headers
    # The key is still free: a corrected batch may use it.
    run(client, alice, operations[:1], headers={"Idempotency-Key": "retry-me"})
    assert titles(client, alice) == ["a"]


def test_if_match_per_operation(client, alice, create_task):
    task = create_task(alice, title="versioned")
    stale = '"stale"'
    body = run(client, alice, [{"op": "update_task", "task_id": task["id"], "if_match": stale,
                                "changes": {"title": "changed"}}], status=412).json
    assert body["operation"] == "/operations/0"
    etag = client.get(f"/api/me/tasks/{task['id']}", headers=alice.headers).headers["ETag"]
    results = run(client, alice, [
        {"op": "update_task", "task_id": task["id"], "if_match": etag, "changes": {"title": "changed"}},
        {"op": "complete_task", "task_id": task["id"], "completed": True},
    ]).json["results"]
    assert results[1]["task"]["title"] == "changed" and results[1]["task"]["completed"] is True


def test_another_users_ids_find_nothing_and_change_nothing(client, alice, bob, create_task):
    hers = create_task(alice, title="hers")
    for operation in (
        {"op": "update_task", "task_id": hers["id"], "changes": {"title": "mine now"}},
        {"op": "complete_task", "task_id": hers["id"]},
        {"op": "delete_task", "task_id": hers["id"]},
        {"op": "move_task", "task_id": hers["id"], "list_id": hers["list_id"]},
        {"op": "create_task", "task": {"title": "into hers", "list_id": hers["list_id"]}},
        {"op": "rename_list", "list_id": hers["list_id"], "list": {"name": "mine"}},
        {"op": "invite", "list_id": hers["list_id"], "invitation": {"user_id": bob.sub, "role": "admin"}},
    ):
        body = run(client, bob, [{"op": "create_task", "task": {"title": "bob's"}}, operation], status=404).json
        assert body["operation"] == "/operations/1", operation
    assert titles(client, alice) == ["hers"]
    assert titles(client, bob) == []


def test_sharing_in_one_batch(client, alice, bob):
    carol = new_user("carol")
    made = run(client, alice, [
        {"op": "create_list", "ref": "house", "list": {"name": "House"}},
        {"op": "invite", "list_ref": "house", "invitation": {"user_id": bob.sub, "role": "editor"}},
        {"op": "invite", "list_ref": "house", "invitation": {"user_id": carol.sub, "role": "viewer"}},
        {"op": "create_task", "list_ref": "house", "task": {"title": "Paint"}},
    ]).json["results"]
    house, invitation = made[0]["list"], made[1]["invitation"]
    joined = run(client, bob, [
        {"op": "accept_invitation", "invitation_id": invitation["id"]},
        {"op": "create_task", "task": {"title": "Buy brushes", "list_id": house["id"]}},
    ]).json["results"]
    assert joined[0]["list"]["role"] == "editor" and joined[1]["task"]["list_id"] == house["id"]
    run(client, carol, [{"op": "decline_invitation", "invitation_id": made[2]["invitation"]["id"]}])
    changed = run(client, alice, [
        {"op": "change_member_role", "list_id": house["id"], "user_id": bob.sub, "role": "admin"},
        {"op": "rename_list", "list_id": house["id"], "list": {"name": "Home"}},
    ]).json["results"]
    assert changed[0]["member"]["role"] == "admin" and changed[1]["list"]["name"] == "Home"
    # Bob is an admin now, but may not remove the owner: the whole batch is refused.
    refused = run(client, bob, [
        {"op": "create_task", "task": {"title": "kept?", "list_id": house["id"]}},
        {"op": "remove_member", "list_id": house["id"], "user_id": alice.sub},
    ], status=403).json
    assert refused["operation"] == "/operations/1"
    assert sorted(titles(client, bob)) == ["Buy brushes", "Paint"]
    run(client, bob, [{"op": "remove_member", "list_id": house["id"], "user_id": "me"}])
    run(client, alice, [{"op": "delete_list", "list_id": house["id"]}])
    assert titles(client, alice) == []


@pytest.mark.parametrize("prefix", ["/lead", "a/b", "%2F", "..", "a?b#c", "\\"])
def test_a_member_is_named_by_any_user_id_even_one_a_path_would_change(client, alice, prefix):
    """The member's id reaches the route as given: through a URL, `/x` would become `//x` (a
    redirect), `%2F` a slash and `..` a step up."""
    odd = new_user(prefix)
    made = run(client, alice, [
        {"op": "create_list", "ref": "l", "list": {"name": "L"}},
        {"op": "invite", "list_ref": "l", "invitation": {"user_id": odd.sub, "role": "viewer"}},
    ]).json["results"]
    the_list = made[0]["list"]["id"]
    run(client, odd, [{"op": "accept_invitation", "invitation_id": made[1]["invitation"]["id"]}])
    changed = run(client, alice, [
        {"op": "change_member_role", "list_id": the_list, "user_id": odd.sub, "role": "editor"},
    ]).json["results"]
    assert changed[0]["member"]["user_id"] == odd.sub and changed[0]["member"]["role"] == "editor"
    missing = run(client, alice, [{"op": "remove_member", "list_id": the_list, "user_id": prefix}], status=404)
    assert missing.json["operation"] == "/operations/0"
    run(client, alice, [{"op": "remove_member", "list_id": the_list, "user_id": odd.sub}])
    members = client.get(f"/api/me/lists/{the_list}/members", headers=alice.headers).json
    assert [m["user_id"] for m in members] == [alice.sub]


def test_the_feed_shows_the_batchs_tasks_as_they_ended(client, alice, create_task):
    kept = create_task(alice, title="kept")
    token = client.get("/api/me/changes", headers=alice.headers).json["next"]
    results = run(client, alice, [
        {"op": "create_task", "ref": "new", "task": {"title": "new"}},
        {"op": "update_task", "task_ref": "new", "changes": {"title": "new, renamed"}},
        {"op": "complete_task", "task_id": kept["id"], "completed": True},
        {"op": "create_task", "ref": "gone", "task": {"title": "gone"}},
        {"op": "delete_task", "task_ref": "gone"},
    ]).json["results"]
    changes = client.get("/api/me/changes", query_string={"since": token}, headers=alice.headers).json["changes"]
    upserts = {c["task"]["id"]: c["task"] for c in changes if c["op"] == "upsert"}
    assert set(upserts) == {results[0]["task"]["id"], kept["id"]}
    assert upserts[results[0]["task"]["id"]]["title"] == "new, renamed"
    assert upserts[kept["id"]]["completed"] is True
    assert results[3]["task"]["id"] not in upserts


@pytest.mark.parametrize("raw", ['{"description": NaN}', '{"due_at": Infinity}', '{"title": -Infinity}',
                                 '{"due_at": 1e999}'])
def test_a_number_json_cannot_hold_is_refused_as_its_route_refuses_it(client, alice, create_task, raw):
    """NaN, Infinity and numbers past a double reach the operation's route as sent (and are
    refused there, 422), not rewritten as null, which would clear the field."""
    task = create_task(alice, title="kept", description="kept", due_at="2030-01-01T00:00:00Z")
    body = '{"operations": [{"op": "update_task", "task_id": "%s", "changes": %s}]}' % (task["id"], raw)
    response = client.post("/api/me/batch", data=body, content_type="application/json", headers=alice.headers)
    assert response.status_code in (400, 422), response.json
    single = client.patch(f"/api/me/tasks/{task['id']}", data=raw, content_type="application/json",
                          headers=alice.headers)
    assert single.status_code == response.status_code, (single.json, response.json)
    kept = client.get(f"/api/me/tasks/{task['id']}", headers=alice.headers).json
    assert (kept["title"], kept["description"], kept["due_at"]) == ("kept", "kept", "2030-01-01T00:00:00Z")


def test_nobody_is_invited_as_me(client, alice):
    """`me` names the caller wherever a member is named: a member by that name could be named by nobody else."""
    made = client.post("/api/me/lists", json={"name": "L"}, headers=alice.headers).json
    single = client.post(f"/api/me/lists/{made['id']}/invitations", json={"user_id": "me", "role": "viewer"},
                         headers=alice.headers)
    assert single.status_code == 422 and "user_id" in single.json["errors"]["json"], single.json
    body = run(client, alice, [{"op": "invite", "list_id": made["id"], "invitation": {"user_id": "me",
                                                                                      "role": "viewer"}}],
               status=422).json
    assert "user_id" in body["errors"]["json"]["operations"]["0"]["invitation"]


SPARSE_RULE = "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO;BYSETPOS=1"  # a 29 February on a Monday: decades apart


def test_one_request_spends_a_bounded_computation_on_recurring_completions(client, alice, create_task):
    """Each completion of a rule whose occurrences are decades apart searches tens of thousands of
    days; a batch of a hundred would hold a worker for seconds. The searches of one request share
    a budget: past it, the batch is refused (422, nothing written) and each completion alone works."""
    sparse = create_task(alice, title="leap monday", due_at="2032-02-29T00:00:00Z", recurrence=SPARSE_RULE)
    body = run(client, alice, [{"op": "complete_task", "task_id": sparse["id"]}] * 100, status=422).json
    assert body["operation"] != "/operations/0" and "fewer" in str(body["errors"]), body
    assert client.get(f"/api/me/tasks/{sparse['id']}", headers=alice.headers).json["due_at"] == "2032-02-29T00:00:00Z"
    done = client.patch(f"/api/me/tasks/{sparse['id']}/complete", headers=alice.headers)
    assert done.status_code == 200 and done.json["due_at"] > "2032-02-29T00:00:00Z", done.json
    # Ordinary recurring tasks, a hundred completions at once, are far within it.
    daily = [create_task(alice, title=f"daily {n}", due_at="2030-01-01T09:00:00Z", recurrence="FREQ=DAILY")
             for n in range(100)]
    results = run(client, alice, [{"op": "complete_task", "task_id": t["id"]} for t in daily]).json["results"]
    assert all(r["task"]["due_at"] == "2030-01-02T09:00:00Z" for r in results)
