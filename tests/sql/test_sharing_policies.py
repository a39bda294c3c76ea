"""The membership policies, table-driven: every command on every table of a shared list, for
its owner, an admin, an editor, a viewer, someone invited who has not accepted, a member who
was removed, a stranger, nobody and a forged identity — in SQL as taskapp_app, with no help
from the application."""

import threading
import uuid

import psycopg
import pytest
from psycopg import errors

from tests.sql.test_listing_plans import plan_nodes
from tests.support.citus import CITUS_ADMIN_URL
from tests.support.identity import act_as
from tests.support.locks import until_waiting_on_a_lock

WHO = ["owner", "admin", "editor", "viewer", "invited", "removed", "stranger", "nobody", "forged"]
DENIED = errors.InsufficientPrivilege  # a policy (or a missing grant) refused the row
REFUSED = (errors.InsufficientPrivilege, errors.NotNullViolation, errors.CheckViolation)


def only(expected, *, default=0, **by_who):
    """The expectation for every identity: `by_who`'s, else `default`."""
    return {who: by_who.get(who, default) for who in WHO}


def denied_unless(**by_who):
    return {who: by_who.get(who, REFUSED if who in ("nobody", "forged") else DENIED) for who in WHO}


MEMBERS = ("owner", "admin", "editor", "viewer")
EDITORS = ("owner", "admin", "editor")
# command: (SQL, rows touched or the error, for each identity)
MATRIX = {
    "see the list": ("select * from lists where id = %(list)s", only(1, **dict.fromkeys(MEMBERS, 1))),
    "rename the list": ("update lists set name = 'x' where id = %(list)s", only(1, owner=1, admin=1)),
    "delete the list": ("delete from lists where id = %(list)s", only(1, owner=1)),
    "see its members": ("select * from list_members where list_id = %(list)s",
                        only(1, **dict.fromkeys(MEMBERS, 5))),
    "join without an invitation": (
        "insert into list_members (list_id, user_id, role) values (%(list)s, %(me)s, 'viewer')",
        denied_unless()),
    "join with the invited role": (
        "insert into list_members (list_id, user_id, role) values (%(list)s, %(me)s, 'editor')",
        denied_unless(invited=1)),
    # Only the owner passes the policy (the clause that lets a new list's trigger add its owner),
    # and their row is there already.
    "join as owner": ("insert into list_members (list_id, user_id, role) values (%(list)s, %(me)s, 'owner')",
                      denied_unless(owner=errors.UniqueViolation)),
    "make a viewer an editor": (
        "update list_members set role = 'editor' where list_id = %(list)s and user_id = %(target)s",
        only(1, owner=1, admin=1)),
    "make a viewer an admin": (
        "update list_members set role = 'admin' where list_id = %(list)s and user_id = %(target)s",
        only(1, owner=1, admin=DENIED)),
    "demote the admin": ("update list_members set role = 'viewer' where list_id = %(list)s and user_id = %(admin)s",
                         only(1, owner=1)),
    "remove a viewer": ("delete from list_members where list_id = %(list)s and user_id = %(target)s",
                        only(1, owner=1, admin=1)),
    "remove the owner": ("delete from list_members where list_id = %(list)s and user_id = %(owner)s", only(1)),
    "leave": ("delete from list_members where list_id = %(list)s and user_id = %(me)s",
              only(1, admin=1, editor=1, viewer=1)),
    "see the invitations": ("select * from list_invitations where list_id = %(list)s",
                            only(1, owner=1, admin=1, invited=1)),
    "invite as viewer": ("insert into list_invitations (list_id, list_name, invitee_id, role)"
                         " values (%(list)s, 'L', %(fresh)s, 'viewer')", denied_unless(owner=1, admin=1)),
    "invite as admin": ("insert into list_invitations (list_id, list_name, invitee_id, role)"
                        " values (%(list)s, 'L', %(fresh)s, 'admin')", denied_unless(owner=1)),
    "revoke or decline": ("delete from list_invitations where list_id = %(list)s",
                          only(1, owner=1, admin=1, invited=1)),
    "see departures": ("select * from list_departures where list_id = %(list)s", only(1, removed=1)),
    "record a departure": ("insert into list_departures (user_id, list_id, task_ids) values (%(me)s, %(list)s, '{}')",
                           {who: DENIED for who in WHO}),
    "see the tasks": ("select * from tasks where list_id = %(list)s", only(1, **dict.fromkeys(MEMBERS, 1))),
    "add a task": ("insert into tasks (title, list_id) values ('x', %(list)s)",
                   denied_unless(**dict.fromkeys(EDITORS, 1))),
    "add a task in someone else's name": (
        "insert into tasks (title, list_id, user_id) values ('x', %(list)s, %(owner)s)",
        denied_unless(owner=1)),
    "change a task": ("update tasks set title = 'y' where id = %(task)s", only(1, **dict.fromkeys(EDITORS, 1))),
    "move a task out": ("update tasks set list_id = personal_list_id() where id = %(task)s",
                        only(1, **dict.fromkeys(EDITORS, 1))),
    "delete a task": ("delete from tasks where id = %(task)s", only(1, **dict.fromkeys(EDITORS, 1))),
    "see completions": ("select * from task_completions where list_id = %(list)s",
                        only(1, **dict.fromkeys(MEMBERS, 1))),
    "record a completion": ("insert into task_completions (list_id, task_id) values (%(list)s, %(task)s)",
                            denied_unless(**dict.fromkeys(EDITORS, 1))),
    "forget a completion": ("delete from task_completions where list_id = %(list)s",
                            only(1, **dict.fromkeys(EDITORS, 1))),
    "see deletions": ("select * from task_deletions where list_id = %(list)s", only(1, **dict.fromkeys(MEMBERS, 1))),
    "record a deletion": ("insert into task_deletions (list_id, task_id) values (%(list)s, gen_random_uuid())",
                          denied_unless(**dict.fromkeys(EDITORS, 1))),
    "forget a deletion": ("delete from task_deletions where list_id = %(list)s", only(1, **dict.fromkeys(EDITORS, 1))),
}
if CITUS_ADMIN_URL:
    # A task's list is its distribution column on Citus: moving it is refused before any policy
    # is asked ("modifying the partition value of rows is not allowed"; here the function that
    # names the Inbox is refused first, as a volatile function in a distributed UPDATE).
    MATRIX["move a task out"] = (MATRIX["move a task out"][0], dict.fromkeys(WHO, errors.FeatureNotSupported))
CASES = [(command, who) for command in MATRIX for who in WHO]


@pytest.fixture()
def shared(admin_sql):
    """A list of `owner` with an admin, an editor, a viewer and a second viewer (the target of
    role changes); a pending invitation; a member who was removed; a completed task and a
    deleted one. Made by the schema's owner: the triggers keep the membership copy."""
    people = {who: f"{who}-{uuid.uuid4().hex[:8]}" for who in (*WHO, "target", "fresh")}
    (list_id,) = admin_sql.execute("insert into lists (name, created_by) values ('L', %s) returning id",
                                   (people["owner"],)).fetchone()
    for who, role in (("admin", "admin"), ("editor", "editor"), ("viewer", "viewer"), ("target", "viewer"),
                      ("removed", "viewer")):
        admin_sql.execute("insert into list_members (list_id, user_id, role) values (%s, %s, %s)",
                          (list_id, people[who], role))
    admin_sql.execute("insert into list_invitations (list_id, list_name, invitee_id, role, invited_by)"
                      " values (%s, 'L', %s, 'editor', %s)", (list_id, people["invited"], people["owner"]))
    (task,) = admin_sql.execute("insert into tasks (title, list_id, user_id, completed) values ('t', %s, %s, true)"
                                " returning id", (list_id, people["owner"])).fetchone()
    (gone,) = admin_sql.execute("insert into tasks (title, list_id, user_id) values ('gone', %s, %s) returning id",
                                (list_id, people["owner"])).fetchone()
    admin_sql.execute("delete from tasks where id = %s", (gone,))
    admin_sql.execute("delete from list_members where list_id = %s and user_id = %s", (list_id, people["removed"]))
    return {"list": list_id, "task": task, "gone": gone, **people}


def act(conn, who, shared):
    if who == "forged":  # the owner's id without its proof, as SQL as taskapp_app could set it
        conn.execute("select set_config('app.user_id', %s, true)", (shared["owner"],))
    elif who != "nobody":
        act_as(conn, shared[who])


@pytest.mark.parametrize("command, who", CASES, ids=[f"{c} as {w}" for c, w in CASES])
def test_sharing_policy_matrix(database, shared, command, who):
    sql, expected = MATRIX[command]
    expected = expected[who]
    parameters = {**shared, "me": shared.get(who, shared["owner"])}
    with psycopg.connect(database.app_url) as conn:
        act(conn, who, shared)
        if isinstance(expected, int):
            cursor = conn.execute(sql, parameters)
            touched = len(cursor.fetchall()) if cursor.description else cursor.rowcount
            assert touched == expected
        else:
            with pytest.raises(expected):
                conn.execute(sql, parameters)
        conn.rollback()


def test_a_member_who_was_removed_is_remembered_with_the_lists_tasks_and_its_deletions(database, shared):
    """The deleted task too: its deletion may not have reached their feed before they left."""
    with psycopg.connect(database.app_url) as conn:
        act_as(conn, shared["removed"])
        (held,) = conn.execute("select task_ids from list_departures").fetchone()
        assert sorted(held) == sorted([shared["task"], shared["gone"]])


@pytest.mark.skipif(bool(CITUS_ADMIN_URL), reason="a single server's plan: Citus refuses the scalar subquery that "
                    "makes the lookup once per statement, and its workers run it per row (specs/citus.md)")
def test_the_membership_lookup_runs_once_per_statement_not_once_per_row(database, admin_sql, shared):
    for n in range(20):  # rows enough that a per-row call would show
        admin_sql.execute("insert into tasks (title, list_id, user_id) values (%s, %s, %s)",
                          (f"t{n}", shared["list"], shared["owner"]))
    with psycopg.connect(database.app_url) as conn:
        act_as(conn, shared["viewer"])
        (result,) = conn.execute("explain (analyze, verbose, format json) select * from tasks").fetchone()
        nodes = list(plan_nodes(result[0]["Plan"]))
        lookups = [node for node in nodes if node.get("Parent Relationship") == "InitPlan"]
        assert len(lookups) == 1  # one InitPlan ...
        assert "lists_where_i_am" in str(lookups[0]["Output"])
        assert lookups[0]["Actual Loops"] == 1  # ... run once
        scans = [node for node in nodes if node.get("Relation Name") == "tasks"]
        assert scans and all(node["Actual Rows"] >= 21 for node in scans)


@pytest.mark.skipif(bool(CITUS_ADMIN_URL), reason="one server's locks; on a cluster the list's shards hold them")
def test_a_departure_waits_for_a_task_entering_the_list_and_remembers_it(database, shared):
    """A task added while a member is being removed: the member may see it before the removal
    commits, so their departure must hold it (their feed then deletes it). The removal waits
    for the task's transaction (the list's lock, shared by tasks entering it), then lists it."""
    with psycopg.connect(database.app_url) as adding, psycopg.connect(database.app_url) as removing:
        act_as(adding, shared["owner"])
        (task,) = adding.execute("insert into tasks (title, list_id) values ('in flight', %s) returning id",
                                 (shared["list"],)).fetchone()
        act_as(removing, shared["owner"])
        removal = threading.Thread(target=removing.execute, args=(
            "delete from list_members where list_id = %s and user_id = %s", (shared["list"], shared["editor"])))
        removal.start()
        until_waiting_on_a_lock(database.admin_url, advisory=True,
                                why="the removal did not wait for the task entering the list")
        adding.commit()
        removal.join(30)
        removing.commit()
    with psycopg.connect(database.app_url) as conn:
        act_as(conn, shared["editor"])
        (held,) = conn.execute("select task_ids from list_departures where list_id = %s", (shared["list"],)).fetchone()
        assert task in held


# What the worker does in a shared list, as the user a job concerns (taskapp.worker): read the
# list, its tasks and the user's departures, and mark a task's reminders fired. As
# taskapp_worker, under the same policies: within that user's membership and nowhere else.
WORKER_READS = {
    "lists": "select id from lists where id = %(list)s",
    "tasks": "select id from tasks where list_id = %(list)s",
}
WORKER_SEES = {"owner": 1, "admin": 1, "editor": 1, "viewer": 1}  # tasks: the one live task; lists: the list
WORKER_FIRES = {"owner": 1, "admin": 1, "editor": 1}  # UPDATE (reminders): a role that may change tasks
WORKER_WHO = [*WHO, "another's proof"]


def act_for_worker(conn, who, shared):
    if who == "another's proof":  # the owner's id with a proof made for the stranger
        act_as(conn, shared["stranger"])
        proof = conn.execute("select current_setting('app.identity_proof')").fetchone()[0]
        conn.execute("select set_config('app.user_id', %s, true), set_config('app.identity_proof', %s, true)",
                      (shared["owner"], proof))
    else:
        act(conn, who, shared)


@pytest.mark.parametrize("who", WORKER_WHO)
def test_the_worker_acts_only_within_the_users_membership(database, shared, who):
    with psycopg.connect(database.worker_url) as conn:
        act_for_worker(conn, who, shared)
        for name, sql in WORKER_READS.items():
            found = len(conn.execute(sql, shared).fetchall())
            assert found == WORKER_SEES.get(who, 0), (name, who, found)
        fired = conn.execute("update tasks set reminders = reminders where list_id = %(list)s", shared).rowcount
        assert fired == WORKER_FIRES.get(who, 0), (who, fired)
        departures = conn.execute("select task_ids from list_departures where list_id = %(list)s", shared).fetchall()
        assert len(departures) == (1 if who == "removed" else 0), who
        for refused in ("update tasks set title = 'x' where list_id = %(list)s",
                        "delete from tasks where list_id = %(list)s",
                        "select user_id from list_members where list_id = %(list)s",
                        "insert into list_members (list_id, user_id, role) values (%(list)s, %(fresh)s, 'admin')"):
            with pytest.raises(DENIED):  # no grant: the worker changes nothing else, whoever it acts as
                with conn.transaction():
                    conn.execute(refused, shared)
        conn.rollback()


# Writes naming a list: a stranger (and a removed member) is answered alike whether the list
# exists or never did, so no key or constraint tells them it exists.
ORACLE_WRITES = {
    "join it": "insert into list_members (list_id, user_id, role) values (%(target)s, %(me)s, 'editor')",
    "invite to it": "insert into list_invitations (list_id, list_name, invitee_id, role) "
                    "values (%(target)s, 'x', %(fresh)s, 'viewer')",
    "add a task to it": "insert into tasks (title, list_id) values ('x', %(target)s)",
    "record a departure from it": "insert into list_departures (user_id, list_id, task_ids) "
                                  "values (%(me)s, %(target)s, '{}')",
    "rename it": "update lists set name = 'x' where id = %(target)s",
    "delete it": "delete from lists where id = %(target)s",
    "revoke its invitations": "delete from list_invitations where list_id = %(target)s",
    "remove its members": "delete from list_members where list_id = %(target)s",
}


# (The invitee is told the list's id by their invitation, and may join or decline it.)
@pytest.mark.parametrize("who", ["stranger", "removed", "forged", "nobody"])
@pytest.mark.parametrize("write", ORACLE_WRITES)
def test_no_write_tells_whether_a_list_exists(database, shared, who, write):
    answers = []
    with psycopg.connect(database.app_url) as conn:
        for target in (shared["list"], uuid.uuid4()):
            act(conn, who, shared)
            try:
                with conn.transaction():
                    cursor = conn.execute(ORACLE_WRITES[write], {**shared, "me": shared[who] if who in shared
                                                                 else shared["fresh"], "target": target})
                    answers.append(("done", cursor.rowcount))
            except psycopg.Error as error:
                answers.append((type(error).__name__, error.diag.message_primary))
            conn.rollback()
    assert answers[0] == answers[1], answers
