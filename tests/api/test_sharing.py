"""Lists shared between people, over HTTP: Alice shares a list with Bob as editor and Carol as
viewer, and each does what their role allows, no more; members come and go; the database
decides every answer (the SQL side is tests/sql/test_sharing_policies.py)."""

import datetime
import time
import uuid
from urllib.parse import quote

import pytest

from tests.support.citus import CITUS_ADMIN_URL
from tests.support.users import new_user


@pytest.fixture()
def carol():
    return new_user("carol")


@pytest.fixture()
def groceries(sharing, alice, bob, carol):
    """Alice's list, shared with Bob as editor and Carol as viewer."""
    return sharing.shared_list(alice, {bob: "editor", carol: "viewer"}, "Groceries")


def test_a_new_user_has_an_inbox_and_a_task_without_a_list_goes_there(sharing, alice):
    lists = sharing.call(alice, "GET", "/lists", status=200)
    assert [(item["name"], item["role"], item["personal"], item["owner_id"]) for item in lists] == [
        ("Inbox", "owner", True, alice.sub)]
    task = sharing.add_task(alice)
    assert task["list_id"] == lists[0]["id"]
    assert task["user_id"] == alice.sub and task["assignee_id"] is None


def test_a_first_task_makes_the_inbox_it_goes_to(sharing, alice):
    task = sharing.add_task(alice)
    lists = sharing.call(alice, "GET", "/lists", status=200)
    assert [item["id"] for item in lists] == [task["list_id"]]


def test_an_invitee_sees_the_invitation_with_the_lists_name_and_joins_with_its_role(sharing, alice, bob):
    made = sharing.make_list(alice, "Holiday")
    sent = sharing.invite(alice, made["id"], bob, "editor")
    assert (sent["invitee_id"], sent["role"], sent["invited_by"], sent["list_name"]) == (
        bob.sub, "editor", alice.sub, "Holiday")
    assert [i["id"] for i in sharing.call(bob, "GET", "/invitations", status=200)] == [sent["id"]]
    assert sharing.call(bob, "GET", f"/lists/{made['id']}", status=404)  # not a member yet
    joined = sharing.accept(bob, sent["id"])
    assert (joined["id"], joined["role"], joined["owner_id"], joined["personal"]) == (
        made["id"], "editor", alice.sub, False)
    assert sharing.call(bob, "GET", "/invitations", status=200) == []
    members = sharing.call(bob, "GET", f"/lists/{made['id']}/members", status=200)
    assert [(m["user_id"], m["role"]) for m in members] == [(alice.sub, "owner"), (bob.sub, "editor")]


def test_the_editor_adds_and_completes_tasks_and_everyone_sees_them(sharing, groceries, alice, bob, carol):
    task = sharing.add_task(bob, groceries["id"], title="milk")
    assert task["user_id"] == bob.sub and task["list_id"] == groceries["id"]
    done = sharing.call(bob, "PATCH", f"/tasks/{task['id']}/complete", status=200)
    assert done["completed"] is True
    for member in (alice, bob, carol):
        assert "milk" in sharing.titles(member)
        history = sharing.call(member, "GET", f"/tasks/{task['id']}/completions", status=200)
        assert [c["completed_by"] for c in history] == [bob.sub]


def test_the_viewer_reads_but_every_write_is_403(sharing, groceries, alice, carol):
    task = sharing.add_task(alice, groceries["id"], title="bread")
    assert sharing.call(carol, "GET", f"/tasks/{task['id']}", status=200)["title"] == "bread"
    sharing.add_task(carol, groceries["id"], status=403)
    for method, path, body in (
        ("PATCH", f"/tasks/{task['id']}", {"title": "mine"}),
        ("PUT", f"/tasks/{task['id']}", {"title": "mine"}),
        ("PATCH", f"/tasks/{task['id']}/complete", None),
        ("DELETE", f"/tasks/{task['id']}", None),
        ("PATCH", f"/lists/{groceries['id']}", {"name": "mine"}),
        ("DELETE", f"/tasks/{task['id']}/completions/{uuid.uuid4()}", None),
        ("DELETE", f"/lists/{groceries['id']}", None),
        ("POST", f"/lists/{groceries['id']}/invitations", {"user_id": "someone", "role": "viewer"}),
        ("GET", f"/lists/{groceries['id']}/invitations", None),
    ):
        body_sent = sharing.call(carol, method, path, body, status=403)
        assert body_sent["code"] == 403, (method, path)
    assert sharing.call(alice, "GET", f"/tasks/{task['id']}", status=200)["title"] == "bread"


def test_a_promoted_viewer_may_write(sharing, groceries, alice, carol):
    changed = sharing.call(alice, "PATCH", f"/lists/{groceries['id']}/members/{carol.sub}", {"role": "editor"},
                           status=200)
    assert changed["role"] == "editor"
    sharing.add_task(carol, groceries["id"], title="eggs")
    assert "eggs" in sharing.titles(alice)


def test_a_non_member_finds_nothing_of_the_list_as_if_it_never_existed(sharing, groceries, alice):
    stranger = new_user("stranger")
    task = sharing.add_task(alice, groceries["id"])
    never = str(uuid.uuid4())
    for list_id in (groceries["id"], never):
        for method, path, body in (
            ("GET", f"/lists/{list_id}", None),
            ("PATCH", f"/lists/{list_id}", {"name": "x"}),
            ("DELETE", f"/lists/{list_id}", None),
            ("GET", f"/lists/{list_id}/members", None),
            ("PATCH", f"/lists/{list_id}/members/{alice.sub}", {"role": "viewer"}),
            ("DELETE", f"/lists/{list_id}/members/{alice.sub}", None),
            ("GET", f"/lists/{list_id}/invitations", None),
            ("POST", f"/lists/{list_id}/invitations", {"user_id": stranger.sub, "role": "editor"}),
            ("POST", "/tasks", {"title": "x", "list_id": list_id}),
        ):
            assert sharing.call(stranger, method, path, body, status=404)["code"] == 404, (method, path)
    for method, path, body in (("GET", f"/tasks/{task['id']}", None), ("PATCH", f"/tasks/{task['id']}", {"title": "x"}),
                               ("DELETE", f"/tasks/{task['id']}", None)):
        sharing.call(stranger, method, path, body, status=404)
    own = sharing.add_task(stranger)
    sharing.call(stranger, "PATCH", f"/tasks/{own['id']}", {"list_id": groceries["id"]}, status=404)
    assert sharing.titles(stranger) == {"A task"}


def test_moving_a_task_needs_edit_rights_on_both_lists(sharing, groceries, alice, bob, carol):
    mine = sharing.add_task(carol, title="carol's own")
    if CITUS_ADMIN_URL:  # the list is the distribution column: a move is refused, saying what to do instead
        for who, task in ((carol, mine), (bob, sharing.add_task(bob, title="to share"))):
            refused = sharing.call(who, "PATCH", f"/tasks/{task['id']}", {"list_id": groceries["id"]}, status=409)
            assert "create it in that list" in refused["message"]
        assert "to share" not in sharing.titles(carol)
        return
    sharing.call(carol, "PATCH", f"/tasks/{mine['id']}", {"list_id": groceries["id"]}, status=403)
    moved = sharing.call(bob, "PATCH", f"/tasks/{sharing.add_task(bob, title='to share')['id']}",
                         {"list_id": groceries["id"]}, status=200)
    assert moved["list_id"] == groceries["id"] and "to share" in sharing.titles(carol)


def test_the_list_id_filter_and_every_list_together(sharing, groceries, alice, bob):
    sharing.add_task(bob, title="bob's inbox")
    sharing.add_task(bob, groceries["id"], title="shared")
    assert sharing.titles(bob) == {"bob's inbox", "shared"}
    assert sharing.titles(bob, list_id=groceries["id"]) == {"shared"}
    assert sharing.titles(alice) == {"shared"}


def test_an_assignee_must_be_a_member_and_is_cleared_when_they_leave(sharing, groceries, alice, bob):
    stranger = new_user("stranger")
    task = sharing.add_task(alice, groceries["id"], assignee_id=bob.sub)
    assert task["assignee_id"] == bob.sub
    refused = sharing.add_task(alice, groceries["id"], status=422, assignee_id=stranger.sub)
    assert "member" in refused["message"]
    assert {t["id"] for t in sharing.call(alice, "GET", f"/tasks?assignee_id={bob.sub}", status=200)} == {task["id"]}
    sharing.call(bob, "DELETE", f"/lists/{groceries['id']}/members/me", status=204)
    assert sharing.call(alice, "GET", f"/tasks/{task['id']}", status=200)["assignee_id"] is None


def test_admins_manage_members_below_admin_and_the_owner_manages_admins(sharing, groceries, alice, bob, carol):
    sharing.call(alice, "PATCH", f"/lists/{groceries['id']}/members/{bob.sub}", {"role": "admin"}, status=200)
    sharing.call(bob, "PATCH", f"/lists/{groceries['id']}/members/{carol.sub}", {"role": "editor"}, status=200)
    sharing.call(bob, "PATCH", f"/lists/{groceries['id']}/members/{carol.sub}", {"role": "admin"}, status=403)
    sharing.call(bob, "PATCH", f"/lists/{groceries['id']}/members/{alice.sub}", {"role": "viewer"}, status=403)
    sharing.call(bob, "PATCH", f"/lists/{groceries['id']}/members/{carol.sub}", {"role": "owner"}, status=403)
    dave = new_user("dave")
    sharing.invite(bob, groceries["id"], dave, "admin", status=403)
    sent = sharing.invite(bob, groceries["id"], dave, "editor")
    assert [i["id"] for i in sharing.call(bob, "GET", f"/lists/{groceries['id']}/invitations", status=200)] == [
        sent["id"]]
    sharing.call(bob, "DELETE", f"/lists/{groceries['id']}/members/{carol.sub}", status=204)
    sharing.call(bob, "DELETE", f"/lists/{groceries['id']}/members/{alice.sub}", status=403)  # his role forbids it
    sharing.call(alice, "PATCH", f"/lists/{groceries['id']}/members/{bob.sub}", {"role": "viewer"}, status=200)
    sharing.call(bob, "PATCH", f"/lists/{groceries['id']}", {"name": "x"}, status=403)


@pytest.mark.parametrize("prefix", ["/lead", "a//b", "a/b/", "%2F", "line\nbreak"])
@pytest.mark.parametrize("escaped", [False, True])
def test_every_member_is_reachable_whatever_slashes_their_id_holds(sharing, alice, prefix, escaped):
    """A `sub` is any text: `…/members//x` names the member `/x` (not a redirect to `x`), and
    `%2F` is a slash like any other."""
    odd = new_user(prefix)
    the_list = sharing.shared_list(alice, {odd: "viewer"}, "Odd")
    member = quote(odd.sub, safe="") if escaped else quote(odd.sub, safe="/")
    path = f"/lists/{the_list['id']}/members/{member}"
    changed = sharing.call(alice, "PATCH", path, {"role": "editor"}, status=200)
    assert changed["user_id"] == odd.sub and changed["role"] == "editor"
    sharing.call(odd, "DELETE", path, status=204)
    assert [m["user_id"] for m in sharing.call(alice, "GET", f"/lists/{the_list['id']}/members", status=200)] == [
        alice.sub]


def test_a_member_id_holding_nul_is_no_member(sharing, alice):
    """No stored id holds NUL (PostgreSQL text cannot): such a path is a 404, not a driver error."""
    the_list = sharing.call(alice, "POST", "/lists", {"name": "L"}, status=201)
    for path in (f"/lists/{the_list['id']}/members/%00", f"/lists/{the_list['id']}/members/a%00b"):
        sharing.call(alice, "PATCH", path, {"role": "editor"}, status=404)
        sharing.call(alice, "DELETE", path, status=404)


def test_ownership_is_handed_over_and_the_owner_cannot_leave_without_it(sharing, groceries, alice, carol):
    sharing.call(alice, "DELETE", f"/lists/{groceries['id']}/members/me", status=409)
    sharing.call(alice, "DELETE", f"/lists/{groceries['id']}/members/{alice.sub}", status=409)
    sharing.call(alice, "PATCH", f"/lists/{groceries['id']}/members/{alice.sub}", {"role": "admin"}, status=409)
    sharing.call(alice, "PATCH", f"/lists/{groceries['id']}/members/me", {"role": "admin"}, status=409)
    sharing.call(carol, "DELETE", f"/lists/{groceries['id']}/members/{alice.sub}", status=403)  # a viewer
    sharing.call(alice, "PATCH", f"/lists/{groceries['id']}/members/nobody", {"role": "owner"}, status=404)
    handed = sharing.call(alice, "PATCH", f"/lists/{groceries['id']}/members/{carol.sub}", {"role": "owner"},
                          status=200)
    assert handed["role"] == "owner"
    members = {m["user_id"]: m["role"] for m in sharing.call(alice, "GET", f"/lists/{groceries['id']}/members")}
    assert members[alice.sub] == "admin" and members[carol.sub] == "owner"
    assert sharing.call(carol, "GET", f"/lists/{groceries['id']}", status=200)["owner_id"] == carol.sub
    sharing.call(alice, "DELETE", f"/lists/{groceries['id']}", status=403)
    sharing.call(alice, "DELETE", f"/lists/{groceries['id']}/members/me", status=204)
    sharing.call(alice, "GET", f"/lists/{groceries['id']}", status=404)


def test_an_inbox_is_never_shared_nor_deleted(sharing, alice, bob):
    inbox = sharing.call(alice, "GET", "/lists", status=200)[0]
    assert "never shared" in sharing.invite(alice, inbox["id"], bob, "viewer", status=409)["message"]
    sharing.call(alice, "DELETE", f"/lists/{inbox['id']}", status=409)
    assert sharing.call(alice, "PATCH", f"/lists/{inbox['id']}", {"name": "Mine"}, status=200)["name"] == "Mine"


def test_an_invitation_revoked_before_it_is_accepted_is_gone(sharing, alice, bob):
    made = sharing.make_list(alice)
    sent = sharing.invite(alice, made["id"], bob, "editor")
    sharing.call(alice, "DELETE", f"/lists/{made['id']}/invitations/{sent['id']}", status=204)
    assert sharing.call(bob, "GET", "/invitations", status=200) == []
    sharing.accept(bob, sent["id"], status=404)
    sharing.call(bob, "GET", f"/lists/{made['id']}", status=404)


def test_only_the_lists_admins_revoke_from_the_list_the_invitee_declines(sharing, groceries, alice, bob, carol):
    dave = new_user("dave")
    sent = sharing.invite(alice, groceries["id"], dave, "viewer")
    # To Dave, who is no member, the list does not exist: nothing there to revoke.
    sharing.call(dave, "DELETE", f"/lists/{groceries['id']}/invitations/{sent['id']}", status=404)
    sharing.call(carol, "DELETE", f"/lists/{groceries['id']}/invitations/{sent['id']}", status=403)  # a viewer
    sharing.call(bob, "DELETE", f"/lists/{groceries['id']}/invitations/{sent['id']}", status=403)  # an editor
    assert [i["id"] for i in sharing.call(dave, "GET", "/invitations", status=200)] == [sent["id"]]
    sharing.call(dave, "DELETE", f"/invitations/{sent['id']}", status=204)


def test_me_names_the_caller_among_the_members_as_their_sub_does(sharing, groceries, alice, bob):
    """Roles are the owner's to change above editor: an admin may not change their own (403 by `me`
    as by their sub, not 404); the owner changing their own is the 409 of a list keeping its owner."""
    sharing.call(alice, "PATCH", f"/lists/{groceries['id']}/members/{bob.sub}", {"role": "admin"}, status=200)
    for member in ("me", bob.sub):
        sharing.call(bob, "PATCH", f"/lists/{groceries['id']}/members/{member}", {"role": "viewer"}, status=403)
    sharing.call(alice, "PATCH", f"/lists/{groceries['id']}/members/me", {"role": "viewer"}, status=409)
    assert sharing.call(bob, "GET", f"/lists/{groceries['id']}", status=200)["role"] == "admin"


def test_an_invitation_expires_seven_days_after_it_is_sent(sharing, alice, bob, admin_sql):
    made = sharing.make_list(alice)
    sent = sharing.invite(alice, made["id"], bob, "editor")
    created, expires = admin_sql.execute("select created_at, expires_at from list_invitations where id = %s",
                                         (sent["id"],)).fetchone()
    assert expires - created == datetime.timedelta(days=7)
    assert datetime.datetime.fromisoformat(sent["expires_at"]) == expires
    # A moment before it is still good; at that moment it is not.
    admin_sql.execute("update list_invitations set expires_at = now() + interval '2 seconds' where id = %s",
                      (sent["id"],))
    assert [i["id"] for i in sharing.call(bob, "GET", "/invitations", status=200)] == [sent["id"]]
    time.sleep(2.1)
    assert sharing.call(bob, "GET", "/invitations", status=200) == []
    assert "expired" in sharing.accept(bob, sent["id"], status=410)["message"]
    # Declining an expired one clears it away; a new one is sent and accepted.
    sharing.call(bob, "DELETE", f"/invitations/{sent['id']}", status=204)
    sharing.call(bob, "DELETE", f"/invitations/{sent['id']}", status=404)
    again = sharing.invite(alice, made["id"], bob, "viewer")
    assert sharing.accept(bob, again["id"], status=200)["role"] == "viewer"


def test_an_expired_invitation_cannot_be_accepted(sharing, alice, bob, admin_sql):
    made = sharing.make_list(alice)
    sent = sharing.invite(alice, made["id"], bob, "editor")
    admin_sql.execute("update list_invitations set expires_at = now() - interval '1 second' where id = %s",
                      (sent["id"],))
    assert sharing.call(bob, "GET", "/invitations", status=200) == []
    assert "expired" in sharing.accept(bob, sent["id"], status=410)["message"]
    sharing.call(bob, "GET", f"/lists/{made['id']}", status=404)


def test_a_declined_invitation_is_gone_and_someone_elses_cannot_be_accepted(sharing, alice, bob, carol):
    made = sharing.make_list(alice)
    sent = sharing.invite(alice, made["id"], bob, "editor")
    sharing.accept(carol, sent["id"], status=404)
    sharing.call(carol, "DELETE", f"/invitations/{sent['id']}", status=404)
    sharing.call(bob, "DELETE", f"/invitations/{sent['id']}", status=204)
    sharing.accept(bob, sent["id"], status=404)


def test_inviting_a_member_again_is_409_and_a_new_invitation_replaces_the_old(sharing, groceries, alice, bob):
    sharing.invite(alice, groceries["id"], bob, "viewer", status=409)
    dave = new_user("dave")
    first = sharing.invite(alice, groceries["id"], dave, "viewer")
    second = sharing.invite(alice, groceries["id"], dave, "editor")
    pending = sharing.call(alice, "GET", f"/lists/{groceries['id']}/invitations", status=200)
    assert [(i["id"], i["role"]) for i in pending] == [(second["id"], "editor")]
    sharing.accept(dave, first["id"], status=404)
    assert sharing.accept(dave, second["id"])["role"] == "editor"


def test_deleting_a_list_deletes_its_tasks_for_every_member(sharing, groceries, alice, bob, carol):
    task = sharing.add_task(bob, groceries["id"], title="gone with the list")
    sharing.call(alice, "DELETE", f"/lists/{groceries['id']}", status=204)
    for member in (alice, bob, carol):
        sharing.call(member, "GET", f"/tasks/{task['id']}", status=404)
        sharing.call(member, "GET", f"/lists/{groceries['id']}", status=404)
        assert "gone with the list" not in sharing.titles(member)


@pytest.mark.parametrize("body", [{"name": ""}, {"name": "x" * 256}, {"name": 3}, {}, {"name": "x", "id": "y"}])
def test_a_list_body_is_checked(sharing, alice, body):
    assert sharing.call(alice, "POST", "/lists", body, status=422)["code"] == 422


@pytest.mark.parametrize("body", [{"user_id": "x", "role": "owner"}, {"user_id": "", "role": "viewer"},
                                  {"user_id": "x"}, {"role": "viewer"}, {"user_id": 5, "role": "viewer"}])
def test_an_invitation_body_is_checked(sharing, alice, body):
    made = sharing.make_list(alice)
    assert sharing.call(alice, "POST", f"/lists/{made['id']}/invitations", body, status=422)["code"] == 422
