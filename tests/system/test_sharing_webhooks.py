"""Webhooks and reminders of shared lists, with real `taskapp worker` processes and receivers:
a subscriber hears of every change in the lists they belong to, whoever made it, of members
coming and going, and of invitations to them; nothing from a list once they have left; and a
shared task's reminder fires once, for every member who listens."""

import time
from datetime import datetime, timedelta, timezone

import pytest

from tests.support.sharing import Sharing
from tests.support.users import new_user
from tests.support.working import Working
from tests.system.test_worker import subscribe, utc

EVERYTHING = ("task.created", "task.updated", "task.completed", "task.deleted", "reminder.due", "member.added",
              "member.removed", "member.role_changed", "invitation.received")


@pytest.fixture()
def sharing(local_client):
    return Sharing(local_client)


@pytest.fixture()
def carol():
    return new_user("carol")


def by_type(events):
    return sorted(((event["type"], event["data"]) for event in events), key=lambda item: item[0])


def test_a_member_hears_of_what_others_do_in_the_list(local_client, sharing, alice, bob, receivers, worker):
    receiver = receivers()
    hook = subscribe(local_client, alice, receiver.url, events=("task.created", "task.completed"))
    made = sharing.shared_list(alice, {bob: "editor"})
    task = sharing.add_task(bob, made["id"], title="bob's")
    sharing.call(bob, "PATCH", f"/tasks/{task['id']}/complete", status=200)
    events = sorted(receiver.events(hook["secret"], 2), key=lambda event: event["timestamp"])
    assert [(e["type"], e["data"]["task"]["title"], e["data"]["task"]["user_id"]) for e in events] == [
        ("task.created", "bob's", bob.sub), ("task.completed", "bob's", bob.sub)]


def test_membership_events_reach_the_members_and_an_invitation_the_invitee(
        local_client, sharing, alice, bob, receivers, worker):
    alices, bobs = receivers(), receivers()
    alice_hook = subscribe(local_client, alice, alices.url, events=("member.added", "member.role_changed",
                                                                      "member.removed"))
    bob_hook = subscribe(local_client, bob, bobs.url, events=("invitation.received", "member.added"))
    made = sharing.make_list(alice, "Chores")
    sent = sharing.invite(alice, made["id"], bob, "viewer")
    [invited] = bobs.events(bob_hook["secret"], 1)
    assert invited["type"] == "invitation.received"
    assert {k: invited["data"]["invitation"][k] for k in ("id", "list_id", "list_name", "role", "invited_by")} == {
        "id": sent["id"], "list_id": made["id"], "list_name": "Chores", "role": "viewer", "invited_by": alice.sub}
    sharing.accept(bob, sent["id"])
    # Bob hears of his own joining, while he is a member (once he leaves, what is not yet sent is not).
    joined = by_type(bobs.events(bob_hook["secret"], 2))
    assert [kind for kind, _ in joined] == ["invitation.received", "member.added"]
    sharing.call(alice, "PATCH", f"/lists/{made['id']}/members/{bob.sub}", {"role": "editor"}, status=200)
    sharing.call(bob, "DELETE", f"/lists/{made['id']}/members/me", status=204)
    events = by_type(alices.events(alice_hook["secret"], 3))
    member = {"list": {"id": made["id"], "name": "Chores"}}
    assert events == [("member.added", {**member, "member": {"user_id": bob.sub, "role": "viewer"}}),
                      ("member.removed", {**member, "member": {"user_id": bob.sub, "role": "editor"}}),
                      ("member.role_changed", {**member, "member": {"user_id": bob.sub, "role": "editor"}})]


def test_nothing_from_a_list_reaches_a_member_after_they_left(local_client, sharing, alice, bob, receivers, worker):
    bobs = receivers()
    hook = subscribe(local_client, bob, bobs.url, events=("task.created",))
    made = sharing.shared_list(alice, {bob: "viewer"})
    sharing.add_task(alice, made["id"], title="while bob is in")
    [event] = bobs.events(hook["secret"], 1)
    assert event["data"]["task"]["title"] == "while bob is in"
    sharing.call(alice, "DELETE", f"/lists/{made['id']}/members/{bob.sub}", status=204)
    sharing.add_task(alice, made["id"], title="after bob left")
    own = sharing.add_task(bob, title="bob's own")  # his own events still flow: the worker is not stuck
    bobs.wait_for(2)
    time.sleep(1.5)
    assert [e["data"]["task"]["title"] for e in bobs.events(hook["secret"], 2)] == ["while bob is in", own["title"]]


def test_an_event_made_before_a_member_left_is_not_sent_after(local_client, sharing, alice, bob, receivers, database):
    bobs = receivers()
    hook = subscribe(local_client, bob, bobs.url, events=("task.created",))
    made = sharing.shared_list(alice, {bob: "viewer"})
    sharing.add_task(alice, made["id"], title="queued while no worker runs")
    sharing.call(bob, "DELETE", f"/lists/{made['id']}/members/me", status=204)
    worker = Working(database.worker_url)  # starts only now: the event waits, and is checked again
    try:
        own = sharing.add_task(bob, title="bob's own")
        bobs.wait_for(1)
        time.sleep(1.5)
        assert [e["data"]["task"]["title"] for e in bobs.events(hook["secret"], 1)] == [own["title"]]
        gone = [a for a in local_client.get(f"/api/me/webhooks/{hook['id']}/deliveries",
                                            headers=bob.headers).get_json()]
        assert len(gone) == 1  # the dropped event was never attempted
    finally:
        worker.close()


def test_a_shared_tasks_reminder_fires_once_for_every_listening_member(
        local_client, sharing, alice, bob, receivers, worker):
    alices, bobs = receivers(), receivers()
    alice_hook = subscribe(local_client, alice, alices.url, events=("reminder.due",))
    bob_hook = subscribe(local_client, bob, bobs.url, events=("reminder.due",))
    made = sharing.shared_list(alice, {bob: "editor"})
    at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=3)
    task = sharing.add_task(bob, made["id"], title="water the plants", reminders=[{"at": utc(at)}])
    [for_alice] = alices.events(alice_hook["secret"], 1, seconds=15)
    [for_bob] = bobs.events(bob_hook["secret"], 1, seconds=15)
    assert for_alice["data"]["task"]["id"] == for_bob["data"]["task"]["id"] == task["id"]
    time.sleep(1.5)
    assert len(alices.received) == len(bobs.received) == 1


def test_a_reminder_still_fires_after_its_creator_left_the_list(
        local_client, sharing, alice, bob, receivers, worker):
    alices = receivers()
    alice_hook = subscribe(local_client, alice, alices.url, events=("reminder.due",))
    made = sharing.shared_list(alice, {bob: "editor"})
    at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=4)
    task = sharing.add_task(bob, made["id"], title="bob set it", reminders=[{"at": utc(at)}])
    sharing.call(bob, "DELETE", f"/lists/{made['id']}/members/me", status=204)
    [event] = alices.events(alice_hook["secret"], 1, seconds=15)
    assert event["data"]["task"]["id"] == task["id"]
    assert sharing.call(alice, "GET", f"/tasks/{task['id']}")["reminders"][0]["fired"] is True


@pytest.mark.parametrize("change", ["demoted to viewer", "ownership handed over and then demoted"])
def test_a_reminder_still_fires_after_its_creator_may_no_longer_edit(
        local_client, sharing, alice, bob, carol, receivers, worker, change):
    """The creator a viewer now: the reminder is the owner's to fire (whoever owns the list by then)."""
    bobs, carols = receivers(), receivers()
    bob_hook = subscribe(local_client, bob, bobs.url, events=("reminder.due",))
    carol_hook = subscribe(local_client, carol, carols.url, events=("reminder.due", "member.role_changed"))
    made = sharing.shared_list(alice, {bob: "editor", carol: "editor"})
    at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=5)
    task = sharing.add_task(bob, made["id"], title="bob set it", reminders=[{"at": utc(at)}])
    owner = alice
    if change == "ownership handed over and then demoted":
        sharing.call(alice, "PATCH", f"/lists/{made['id']}/members/{carol.sub}", {"role": "owner"}, status=200)
        owner = carol
    sharing.call(owner, "PATCH", f"/lists/{made['id']}/members/{bob.sub}", {"role": "viewer"}, status=200)
    [for_bob] = bobs.events(bob_hook["secret"], 1, seconds=20)  # a viewer still hears of it
    assert for_bob["data"]["task"]["id"] == task["id"]
    # The role changes she hears of (one; three with the handover: hers, Alice's and Bob's), and the reminder.
    fired = [e for e in carols.events(carol_hook["secret"], 2 if owner is alice else 4, seconds=20)
             if e["type"] == "reminder.due"]
    assert [e["data"]["task"]["id"] for e in fired] == [task["id"]]
    assert sharing.call(owner, "GET", f"/tasks/{task['id']}")["reminders"][0]["fired"] is True
    time.sleep(1.5)
    assert len(bobs.received) == 1


def test_the_member_who_goes_hears_of_it_and_nothing_after(local_client, sharing, alice, bob, receivers, worker):
    bobs = receivers()
    hook = subscribe(local_client, bob, bobs.url, events=("member.removed", "task.created"))
    made = sharing.shared_list(alice, {bob: "editor"}, "Chores")
    sharing.call(alice, "DELETE", f"/lists/{made['id']}/members/{bob.sub}", status=204)
    [removed] = bobs.events(hook["secret"], 1)
    chores = {"id": made["id"], "name": "Chores"}
    assert (removed["type"], removed["data"]) == (
        "member.removed", {"list": chores, "member": {"user_id": bob.sub, "role": "editor"}})
    sharing.add_task(alice, made["id"], title="after bob went")
    own = sharing.add_task(bob, title="bob's own")
    bobs.wait_for(2)
    time.sleep(1.5)
    assert [e["type"] for e in bobs.events(hook["secret"], 2)] == ["member.removed", "task.created"]
    assert bobs.events(hook["secret"], 2)[1]["data"]["task"]["id"] == own["id"]


def test_each_member_of_a_deleted_list_hears_that_they_are_out_of_it(
        local_client, sharing, alice, bob, carol, receivers, worker):
    """One `member.removed` about themselves per member, however many tasks the list held; a member
    who had left before hears nothing."""
    bobs, carols = receivers(), receivers()
    bob_hook = subscribe(local_client, bob, bobs.url, events=("member.removed", "task.deleted"))
    carol_hook = subscribe(local_client, carol, carols.url, events=("member.removed", "task.deleted"))
    made = sharing.shared_list(alice, {bob: "editor", carol: "viewer"}, "Going")
    for title in ("paint", "sand"):
        sharing.add_task(alice, made["id"], title=title)
    sharing.call(carol, "DELETE", f"/lists/{made['id']}/members/me", status=204)  # Carol went before
    [carol_left] = carols.events(carol_hook["secret"], 1)
    assert carol_left["data"]["member"]["user_id"] == carol.sub
    [carol_went] = bobs.events(bob_hook["secret"], 1)  # Bob, a member, heard of Carol leaving
    assert carol_went["data"]["member"]["user_id"] == carol.sub
    sharing.call(alice, "DELETE", f"/lists/{made['id']}", status=204)
    out = bobs.events(bob_hook["secret"], 2)[1]
    going = {"id": made["id"], "name": "Going"}
    assert (out["type"], out["data"]) == (
        "member.removed", {"list": going, "member": {"user_id": bob.sub, "role": "editor"}})
    time.sleep(1.5)
    assert len(bobs.received) == 2 and len(carols.received) == 1


def test_a_member_removed_in_a_batch_hears_of_the_removal_and_not_of_what_came_before_it(
        local_client, sharing, alice, bob, receivers, worker):
    """A batch changes a task, then removes Bob: both commit together, so Bob never saw the change;
    he hears of his removal only."""
    bobs = receivers()
    hook = subscribe(local_client, bob, bobs.url, events=("member.removed", "task.updated", "task.created"))
    made = sharing.shared_list(alice, {bob: "editor"}, "Chores")
    task = sharing.add_task(alice, made["id"], title="before")
    bobs.wait_for(1)  # its task.created
    done = local_client.post("/api/me/batch", headers=alice.headers, json={"operations": [
        {"op": "update_task", "task_id": task["id"], "changes": {"title": "replacing bob"}},
        {"op": "create_task", "task": {"title": "secret", "list_id": made["id"]}},
        {"op": "remove_member", "list_id": made["id"], "user_id": bob.sub}]})
    assert done.status_code == 200, done.get_json()
    events = bobs.events(hook["secret"], 2)
    assert [e["type"] for e in events] == ["task.created", "member.removed"]
    time.sleep(1.5)
    assert len(bobs.received) == 2


def test_a_task_moved_out_is_deleted_for_members_who_do_not_see_where_it_went(
        local_client, sharing, alice, bob, carol, receivers, worker):
    alices, bobs, carols = receivers(), receivers(), receivers()
    events = ("task.deleted", "task.updated")
    alice_hook = subscribe(local_client, alice, alices.url, events=events)
    bob_hook = subscribe(local_client, bob, bobs.url, events=events)
    carol_hook = subscribe(local_client, carol, carols.url, events=events)
    home = sharing.shared_list(alice, {bob: "editor", carol: "viewer"}, "Home")
    work = sharing.shared_list(alice, {carol: "viewer"}, "Work")
    task = sharing.add_task(alice, home["id"], title="file taxes")
    sharing.call(alice, "PATCH", f"/tasks/{task['id']}", {"list_id": work["id"]}, status=200)
    [for_bob] = bobs.events(bob_hook["secret"], 1)
    assert for_bob["type"] == "task.deleted" and for_bob["data"]["task"]["list_id"] == home["id"]
    [for_carol] = carols.events(carol_hook["secret"], 1)
    assert for_carol["type"] == "task.updated" and for_carol["data"]["task"]["list_id"] == work["id"]
    [for_alice] = alices.events(alice_hook["secret"], 1)
    assert for_alice["type"] == "task.updated"
    time.sleep(1.5)
    assert len(alices.received) == len(bobs.received) == len(carols.received) == 1
