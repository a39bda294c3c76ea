"""The change feed with shared lists: a member's feed covers every list they can see; losing a
list gives a delete of each of its tasks, gaining one an upsert of each; and whatever the
members do meanwhile, following the feed from any token ends with exactly what GET /tasks shows."""

import random
import threading

import pytest

from tests.api.test_changes import all_tasks, apply, follow
from tests.support.citus import CITUS_ADMIN_URL
from tests.support.sharing import Sharing
from tests.support.users import new_user


def synced(client, user, state=None, token=None, limit=100):
    """(the replica after following the feed, the last token)."""
    found, token = follow(client, user, token, limit)
    return apply({} if state is None else state, found), token


def test_another_members_writes_are_in_my_feed(client, sharing, alice, bob):
    made = sharing.shared_list(alice, {bob: "editor"})
    state, token = synced(client, bob)
    task = sharing.add_task(alice, made["id"], title="from alice")
    sharing.call(alice, "PATCH", f"/tasks/{task['id']}", {"title": "changed by alice"}, status=200)
    found, token = follow(client, bob, token)
    assert [(c["op"], c["task"]["title"]) for c in found] == [("upsert", "changed by alice")]
    sharing.call(alice, "DELETE", f"/tasks/{task['id']}", status=204)
    found, _ = follow(client, bob, token)
    assert found == [{"op": "delete", "task_id": task["id"]}]


def test_removed_while_offline_the_next_sync_deletes_the_lists_tasks(client, sharing, alice, bob):
    made = sharing.shared_list(alice, {bob: "editor"})
    kept = sharing.add_task(bob, title="bob's own")
    shared = [sharing.add_task(alice, made["id"], title=f"shared {n}")["id"] for n in range(3)]
    state, token = synced(client, bob)
    assert set(state) == {kept["id"], *shared}
    sharing.call(alice, "DELETE", f"/lists/{made['id']}/members/{bob.sub}", status=204)  # Bob is offline
    sharing.add_task(alice, made["id"], title="after bob left")
    found, token = follow(client, bob, token)
    assert sorted(c["task_id"] for c in found if c["op"] == "delete") == sorted(shared)
    assert all(c["op"] == "delete" for c in found)
    apply(state, found)
    assert state == all_tasks(client, bob)
    assert follow(client, bob, token)[0] == []


def test_leaving_and_the_list_being_deleted_remove_its_tasks_too(client, sharing, alice, bob, admin_sql):
    carol = new_user("carol")
    made = sharing.shared_list(alice, {bob: "viewer", carol: "editor"})
    task = sharing.add_task(carol, made["id"])
    bob_state, bob_token = synced(client, bob)
    carol_state, carol_token = synced(client, carol)
    sharing.call(bob, "DELETE", f"/lists/{made['id']}/members/me", status=204)
    sharing.call(alice, "DELETE", f"/lists/{made['id']}", status=204)
    for user, state, token in ((bob, bob_state, bob_token), (carol, carol_state, carol_token)):
        found, _ = follow(client, user, token)
        assert found == [{"op": "delete", "task_id": task["id"]}]
        assert apply(state, found) == all_tasks(client, user) == {}


def test_joining_a_list_gives_every_one_of_its_tasks(client, sharing, alice, bob):
    made = sharing.make_list(alice)
    old = [sharing.add_task(alice, made["id"], title=f"old {n}")["id"] for n in range(3)]
    state, token = synced(client, bob)
    sent = sharing.invite(alice, made["id"], bob, "viewer")
    found, token = follow(client, bob, token)
    assert found == []  # invited is not a member
    sharing.accept(bob, sent["id"])
    found, token = follow(client, bob, token, limit=2)  # in pages
    assert sorted(c["task"]["id"] for c in found) == sorted(old) and {c["op"] for c in found} == {"upsert"}
    assert apply(state, found) == all_tasks(client, bob)


def test_a_task_moved_out_of_a_list_is_a_delete_only_for_those_who_cannot_see_where_it_went(
        client, sharing, alice, bob):
    made = sharing.shared_list(alice, {bob: "editor"})
    task = sharing.add_task(alice, made["id"])
    alice_state, alice_token = synced(client, alice)
    bob_state, bob_token = synced(client, bob)
    inbox = next(item for item in sharing.call(alice, "GET", "/lists") if item["personal"])
    if CITUS_ADMIN_URL:  # a move is refused where the list is the distribution column: nothing changes
        sharing.call(alice, "PATCH", f"/tasks/{task['id']}", {"list_id": inbox["id"]}, status=409)
        assert follow(client, bob, bob_token)[0] == [] and follow(client, alice, alice_token)[0] == []
        return
    sharing.call(alice, "PATCH", f"/tasks/{task['id']}", {"list_id": inbox["id"]}, status=200)
    found, _ = follow(client, bob, bob_token)
    assert found == [{"op": "delete", "task_id": task["id"]}]
    found, _ = follow(client, alice, alice_token)
    assert [(c["op"], c["task"]["list_id"]) for c in found] == [("upsert", inbox["id"])]
    assert apply(alice_state, found) == all_tasks(client, alice)


def test_rejoining_before_syncing_gives_the_list_back_whole(client, sharing, alice, bob):
    made = sharing.shared_list(alice, {bob: "editor"})
    task = sharing.add_task(alice, made["id"])
    state, token = synced(client, bob)
    sharing.call(alice, "DELETE", f"/lists/{made['id']}/members/{bob.sub}", status=204)
    sharing.call(alice, "DELETE", f"/tasks/{task['id']}", status=204)
    later = sharing.add_task(alice, made["id"], title="while bob was away")
    sharing.share(alice, made["id"], bob, "viewer")
    found, _ = follow(client, bob, token)
    assert apply(state, found) == all_tasks(client, bob)
    assert set(state) == {later["id"]}


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_following_the_feed_while_members_come_and_go_ends_with_what_get_shows(make_app, seed):
    """Members write, move tasks, invite, accept, remove, leave, change roles and delete lists from
    several threads while Bob follows his feed in small pages; what he builds is exactly his task
    list, and no answer along the way is a 5xx."""
    app = make_app(DATABASE_POOL_SIZE=8)
    setup = Sharing(app.test_client())
    alice, bob, carol = new_user("alice"), new_user("bob"), new_user("carol")
    lists = [setup.shared_list(alice, {bob: "editor", carol: "editor"}, f"list {n}")["id"] for n in range(3)]
    for list_id in lists:
        for n in range(3):
            setup.add_task(alice, list_id, title=f"seed {n}")
    stop = threading.Event()
    failures = []

    def member(user, number):
        client = app.test_client()
        rng = random.Random(seed * 100 + number)

        def call(who, method, path, json=None):
            response = client.open(f"/api/me{path}", method=method, json=json, headers=who.headers)
            if response.status_code >= 500:
                failures.append((method, path, response.status_code, response.get_json(silent=True)))
            return response.get_json(silent=True) if response.status_code < 300 else None

        while not stop.is_set():
            action = rng.choice(["create", "create", "patch", "move", "delete", "membership"])
            slot = rng.randrange(len(lists))
            list_id = lists[slot]
            tasks = call(user, "GET", "/tasks?limit=500") or []
            if action == "create":
                call(user, "POST", "/tasks", {"title": f"{user.sub} {rng.random()}", "list_id": list_id})
            elif action == "membership" and user is alice:
                who = rng.choice([bob, carol])
                change = rng.choice(["remove", "remove", "leave", "role", "delete list"])
                if change == "delete list":  # the list goes for everyone; a new one takes its place
                    call(alice, "DELETE", f"/lists/{list_id}")
                    made = call(alice, "POST", "/lists", {"name": f"list {rng.random()}"})
                    list_id = lists[slot] = made["id"]
                elif change == "role":
                    call(alice, "PATCH", f"/lists/{list_id}/members/{who.sub}",
                         {"role": rng.choice(["viewer", "editor", "admin"])})
                    continue
                else:  # removed by the owner, or leaving of their own accord
                    call(*((alice, "DELETE", f"/lists/{list_id}/members/{who.sub}") if change == "remove" else
                           (who, "DELETE", f"/lists/{list_id}/members/me")))
                for invitee in ((bob, carol) if change == "delete list" else (who,)):
                    if rng.random() < 0.7:
                        sent = call(alice, "POST", f"/lists/{list_id}/invitations",
                                    {"user_id": invitee.sub, "role": "editor"})
                        if sent is not None:
                            call(invitee, "POST", f"/invitations/{sent['id']}/accept")
            elif action == "membership" or not tasks:
                continue
            elif action == "patch":
                call(user, "PATCH", f"/tasks/{rng.choice(tasks)['id']}", {"title": str(rng.random())})
            elif action == "move":
                call(user, "PATCH", f"/tasks/{rng.choice(tasks)['id']}", {"list_id": list_id})
            else:
                call(user, "DELETE", f"/tasks/{rng.choice(tasks)['id']}")

    reader = app.test_client()
    state, token = {}, None
    threads = [threading.Thread(target=member, args=(user, n)) for n, user in enumerate((alice, carol))]
    for thread in threads:
        thread.start()
    try:
        for _ in range(30):
            state, token = synced(reader, bob, state, token, limit=3)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    state, token = synced(reader, bob, state, token, limit=3)
    assert failures == []
    assert state == all_tasks(reader, bob)
    # And a client starting from nothing reaches the same.
    assert synced(reader, bob, limit=4)[0] == state
