"""Writes racing a membership change, made deterministic: another transaction holds the change
uncommitted while a request writes; it commits once the request waits on it. The request then
gets the answer it would have got a moment later (404: the list or invitation is gone), never a
500, and nothing of it is written."""

import threading

import psycopg
import pytest

from tests.support.citus import CITUS_ADMIN_URL
from tests.support.identity import act_as
from tests.support.locks import until_waiting_on_a_lock

pytestmark = pytest.mark.skipif(bool(CITUS_ADMIN_URL), reason="row locks held across a coordinator's shards differ")


def answered_while_held(database, client, change: str, parameters: tuple, send):
    """`send()`'s answer, the request made while `change` is uncommitted in another transaction,
    which commits once the request's statement waits for it."""
    answer = {}
    with psycopg.connect(database.admin_url) as holder:
        holder.execute(change, parameters)
        thread = threading.Thread(target=lambda: answer.setdefault("response", send()))
        thread.start()
        until_waiting_on_a_lock(database.admin_url, still=thread.is_alive, why=answer)
        holder.commit()
        thread.join(30)
    return answer["response"]


def test_a_task_written_into_a_list_deleted_meanwhile_is_404(database, client, sharing, alice, bob):
    for write in ("create", "move"):
        shared = sharing.shared_list(alice, {bob: "editor"}, "Going away")
        mine = sharing.add_task(bob)

        def send(list_id=shared["id"], task=mine, write=write):
            if write == "create":
                return client.post("/api/me/tasks", json={"title": "too late", "list_id": list_id}, headers=bob.headers)
            return client.patch(f"/api/me/tasks/{task['id']}", json={"list_id": list_id}, headers=bob.headers)

        response = answered_while_held(database, client, "delete from lists where id = %s", (shared["id"],), send)
        assert response.status_code == 404, (write, response.get_json())
        assert response.get_json()["code"] == 404
        assert sharing.call(bob, "GET", f"/tasks/{mine['id']}", status=200)["list_id"] == mine["list_id"]
        assert "too late" not in sharing.titles(bob)


def test_accepting_an_invitation_revoked_meanwhile_is_404(database, client, sharing, alice, bob):
    shared = sharing.make_list(alice, "Club")
    invitation = sharing.invite(alice, shared["id"], bob, "editor")

    def send():
        return client.post(f"/api/me/invitations/{invitation['id']}/accept", headers=bob.headers)

    response = answered_while_held(database, client, "delete from list_invitations where id = %s",
                                   (invitation["id"],), send)
    assert response.status_code == 404, response.get_json()
    assert sharing.call(bob, "GET", f"/lists/{shared['id']}", status=404)


def test_accepting_an_invitation_to_a_list_deleted_meanwhile_is_404(database, client, sharing, alice, bob):
    shared = sharing.make_list(alice, "Club")
    invitation = sharing.invite(alice, shared["id"], bob, "editor")

    def send():
        return client.post(f"/api/me/invitations/{invitation['id']}/accept", headers=bob.headers)

    response = answered_while_held(database, client, "delete from lists where id = %s", (shared["id"],), send)
    assert response.status_code == 404, response.get_json()
    assert sharing.call(bob, "GET", "/invitations", status=200) == []


def test_removing_a_member_while_a_task_is_being_assigned_to_them_waits_without_deadlock(
        database, client, sharing, alice, bob):
    """A task entering the list holds its lock shared; the removal takes it before it locks the
    member's row, so the task can still be assigned to them (its foreign key needs that row) and
    commit, and then the removal goes on: no deadlock, and the departure holds the task."""
    shared = sharing.shared_list(alice, {bob: "editor"}, "L")
    answer = {}
    with psycopg.connect(database.app_url) as adding:
        act_as(adding, alice.sub)
        (task,) = adding.execute("insert into tasks (title, list_id) values ('for bob', %s) returning id",
                                 (shared["id"],)).fetchone()
        removal = threading.Thread(target=lambda: answer.setdefault("response", client.delete(
            f"/api/me/lists/{shared['id']}/members/{bob.sub}", headers=alice.headers)))
        removal.start()
        until_waiting_on_a_lock(database.admin_url, advisory=True, still=removal.is_alive, why=answer)
        adding.execute("update tasks set assignee_id = %s where id = %s", (bob.sub, task))
        adding.commit()
        removal.join(30)
    assert answer["response"].status_code == 204, answer["response"].get_json()
    assert sharing.call(alice, "GET", f"/tasks/{task}", status=200)["assignee_id"] is None  # cleared as he left
    with psycopg.connect(database.app_url) as conn:
        act_as(conn, bob.sub)
        (held,) = conn.execute("select task_ids from list_departures where list_id = %s", (shared["id"],)).fetchone()
        assert task in held
