"""The policies, table-driven: every command × every identity, as taskapp_app, in SQL."""

import threading
import uuid

import psycopg
import pytest
from psycopg import errors

from tests.support.citus import CITUS_ADMIN_URL
from tests.support.identity import act_as

# "forged": app.user_id set to Alice's id without the proof, as SQL running as taskapp_app could.
IDENTITIES = ["owner", "other", "forged", "unset", "null", "empty"]

# What each command does to Alice's row, by identity: rows touched, or the error raised.
REFUSED = (errors.InsufficientPrivilege, errors.NotNullViolation, errors.CheckViolation)
DENIED = errors.InsufficientPrivilege
MATRIX = {
    "select": {"owner": 1, "other": 0, "forged": 0, "unset": 0, "null": 0, "empty": 0},
    "update": {"owner": 1, "other": 0, "forged": 0, "unset": 0, "null": 0, "empty": 0},
    "update returning": {"owner": 1, "other": 0, "forged": 0, "unset": 0, "null": 0, "empty": 0},
    "delete": {"owner": 1, "other": 0, "forged": 0, "unset": 0, "null": 0, "empty": 0},
    "delete returning": {"owner": 1, "other": 0, "forged": 0, "unset": 0, "null": 0, "empty": 0},
    "insert as alice": {"owner": 1, "other": DENIED, "forged": DENIED, "unset": REFUSED, "null": REFUSED,
                        "empty": REFUSED},
    "insert returning as alice": {"owner": 1, "other": DENIED, "forged": DENIED, "unset": REFUSED,
                                  "null": REFUSED, "empty": REFUSED},
    "insert with default owner": {"owner": 1, "other": 1, "forged": DENIED, "unset": REFUSED, "null": REFUSED,
                                  "empty": REFUSED},
    # The creator never changes (the stamp trigger keeps it): the owner's update touches the row,
    # which stays Alice's (tests/sql/test_rls_sql.py).
    "update owner to bob": {"owner": 1, "other": 0, "forged": 0, "unset": 0, "null": 0, "empty": 0},
}

STATEMENTS = {
    "select": "select * from tasks where id = %(id)s",
    "update": "update tasks set title = 'changed' where id = %(id)s",
    "update returning": "update tasks set title = 'changed' where id = %(id)s returning *",
    "delete": "delete from tasks where id = %(id)s",
    "delete returning": "delete from tasks where id = %(id)s returning *",
    "insert as alice": "insert into tasks (title, user_id) values ('x', %(alice)s)",
    "insert returning as alice": "insert into tasks (title, user_id) values ('x', %(alice)s) returning *",
    "insert with default owner": "insert into tasks (title) values ('x')",
    "update owner to bob": "update tasks set user_id = %(bob)s where id = %(id)s",
}

CASES = [(command, who) for command in MATRIX for who in IDENTITIES]


def set_identity(conn, who, alice, bob):
    value = {"owner": alice, "other": bob, "null": None, "empty": ""}
    if who == "forged":
        conn.execute("select set_config('app.user_id', %s, true)", (alice,))
    elif who != "unset":
        act_as(conn, value[who])


@pytest.fixture()
def alices_row(database, alice):
    with psycopg.connect(database.app_url) as conn:
        act_as(conn, alice.sub)
        return conn.execute("insert into tasks (title) values ('alice''s') returning id").fetchone()[0]


@pytest.mark.parametrize("command, who", CASES, ids=[f"{c} as {w}" for c, w in CASES])
def test_policy_matrix(app_sql, alice, bob, alices_row, command, who):
    expected = MATRIX[command][who]
    set_identity(app_sql, who, alice.sub, bob.sub)
    params = {"id": alices_row, "alice": alice.sub, "bob": bob.sub}
    if isinstance(expected, int):
        cursor = app_sql.execute(STATEMENTS[command], params)
        touched = len(cursor.fetchall()) if cursor.description else cursor.rowcount
        assert touched == expected
    else:
        with pytest.raises(expected) as raised:
            app_sql.execute(STATEMENTS[command], params)
        if expected is errors.InsufficientPrivilege:
            assert raised.value.sqlstate == "42501"
            assert "row-level security" in str(raised.value)


def test_the_matrix_leaves_alices_row_untouched_by_others(database, alice, bob, alices_row):
    with psycopg.connect(database.app_url) as conn:
        for who in ("other", "forged", "unset", "null", "empty"):
            set_identity(conn, who, alice.sub, bob.sub)
            conn.execute("update tasks set title = 'taken' where id = %s", (alices_row,))
            conn.execute("delete from tasks where id = %s", (alices_row,))
            conn.commit()
        set_identity(conn, "owner", alice.sub, bob.sub)
        assert conn.execute("select title from tasks where id = %s", (alices_row,)).fetchone() == ("alice's",)


def test_a_plain_set_local_outside_a_transaction_has_no_effect(database, alice, alices_row):
    with psycopg.connect(database.app_url, autocommit=True) as conn:
        conn.execute("set local app.user_id = %s" % psycopg.sql.Literal(alice.sub).as_string(conn))
        assert conn.execute("select count(*) from tasks").fetchone()[0] == 0


def test_prepared_statements_follow_the_identity_of_each_transaction(database, create_task, alice, bob):
    """psycopg prepares a query after five runs; the plan must never carry the previous identity."""
    create_task(alice, title="a")
    create_task(bob, title="b")
    with psycopg.connect(database.app_url) as conn:
        for run in range(12):
            user = alice if run % 2 == 0 else bob
            act_as(conn, user.sub)
            owners = {row[0] for row in conn.execute("select user_id from tasks where title in ('a', 'b')")}
            assert owners == {user.sub}, f"run {run}"
            conn.commit()
        prepared = conn.execute("select count(*) from pg_prepared_statements").fetchone()[0]
        assert prepared > 0, "the query was prepared server-side"


def test_no_identity_crosses_between_threads_sharing_a_small_pool(make_app, create_task):
    """32 threads, alternating users, four pooled connections, thousands of transactions."""
    from tests.support.users import new_user

    users = [new_user("race") for _ in range(4)]
    for index, user in enumerate(users):
        for n in range(index + 1):
            create_task(user, title=f"{user.sub} {n}")
    app = make_app(DATABASE_POOL_SIZE=4, DATABASE_POOL_TIMEOUT=60)
    failures = []

    def worker(number):
        client = app.test_client()
        for turn in range(100):
            index = (number + turn) % len(users)
            response = client.get("/api/me/tasks", headers=users[index].headers)
            if response.status_code != 200:
                failures.append((number, turn, response.status_code, response.json))
                continue
            owners = {task["user_id"] for task in response.json}
            if owners != {users[index].sub} or len(response.json) != index + 1:
                failures.append((number, turn, response.status_code, owners))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == [], failures[:3]


def test_no_unique_constraint_or_foreign_key_is_an_existence_oracle(admin_sql):
    # Keys are checked without the policies: each must lead with the owning column (the user,
    # or the list), so that naming another user's or another list's row fails exactly as
    # naming none does. The exceptions (specs/security-model.md): the server-made random ids
    # of tasks and lists, and the one Inbox per user, whose key the policy checks first
    # (test_an_inbox_for_another_user_is_refused_before_its_key_is_checked).
    unique = admin_sql.execute(
        "select indexrelid::regclass::text, (select attname from pg_attribute"
        "  where attrelid = indrelid and attnum = indkey[0]) from pg_index"
        " where indrelid in (select oid from pg_class where relnamespace = 'public'::regnamespace)"
        " and indrelid <> 'alembic_version'::regclass and indisunique order by 1"
    ).fetchall()
    if CITUS_ADMIN_URL:
        # sql/citus.sql: every key of a distributed table leads with its list; the Inbox's id
        # is made from its user's id (inbox_id()) instead of a unique key on personal_of.
        assert unique == [
            ("idempotency_keys_pkey", "user_id"), ("list_departures_pkey", "list_id"),
            ("list_invitations_list_id_invitee_id_key", "list_id"), ("list_invitations_pkey", "list_id"),
            ("list_members_pkey", "list_id"), ("lists_pkey", "id"),
            ("task_completions_pkey", "list_id"), ("task_deletions_pkey", "list_id"), ("tasks_pkey", "list_id"),
            ("webhook_attempts_pkey", "list_id"), ("webhook_deliveries_pkey", "list_id"), ("webhooks_pkey", "user_id"),
        ]
    else:
        assert unique == [
            ("idempotency_keys_pkey", "user_id"), ("list_departures_pkey", "user_id"),
            ("list_invitations_list_id_invitee_id_key", "list_id"), ("list_invitations_pkey", "list_id"),
            ("list_members_pkey", "list_id"), ("lists_personal_of_key", "personal_of"), ("lists_pkey", "id"),
            ("task_completions_pkey", "list_id"), ("task_deletions_pkey", "list_id"),
            ("tasks_list_id_id_key", "list_id"), ("tasks_pkey", "id"),
            ("webhook_attempts_pkey", "user_id"), ("webhook_deliveries_pkey", "user_id"),
            ("webhooks_pkey", "user_id"),
        ]
    exclusions = admin_sql.execute(
        "select conname, pg_get_constraintdef(oid) from pg_constraint where contype = 'x'"
        " and connamespace = 'public'::regnamespace"
    ).fetchall()
    assert exclusions == [("list_members_one_owner",
                           "EXCLUDE USING btree (list_id WITH =) WHERE ((role = 'owner'::list_role)) DEFERRABLE")]
    foreign = admin_sql.execute(
        "select conname, array(select a.attname::text from unnest(conkey) with ordinality as k(attnum, place)"
        "  join pg_attribute a on a.attrelid = conrelid and a.attnum = k.attnum order by k.place)"
        " from pg_constraint where contype = 'f' and connamespace = 'public'::regnamespace order by conname"
    ).fetchall()
    assert foreign == [
        ("list_invitations_list_fkey", ["list_id"]),
        ("list_members_list_fkey", ["list_id"]),
        ("task_completions_task_fkey", ["list_id", "task_id"]),
        ("task_deletions_list_fkey", ["list_id"]),
        ("tasks_assignee_fkey", ["list_id", "assignee_id"]),
        ("tasks_list_fkey", ["list_id"]),
        ("webhook_attempts_delivery_fkey", ["list_id", "user_id", "delivery_id"] if CITUS_ADMIN_URL
         else ["user_id", "delivery_id"]),
        ("webhook_deliveries_webhook_fkey", ["user_id", "webhook_id"]),
    ]


def test_an_inbox_for_another_user_is_refused_before_its_key_is_checked(app_sql, alice, bob, alices_row):
    # Alice's Inbox exists (her task is in it): Bob making one in her name meets the policy,
    # not the unique key, so he learns nothing about whether she has one.
    act_as(app_sql, bob.sub)
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        app_sql.execute("insert into lists (name, personal_of, created_by) values ('x', %s, %s)",
                        (alice.sub, bob.sub))


def test_clients_cannot_choose_a_task_id(client, alice):
    response = client.post("/api/me/tasks", json={"title": "t", "id": str(uuid.uuid4())}, headers=alice.headers)
    assert response.status_code == 422


def test_views_over_tasks_are_security_invoker_and_no_function_is_leakproof(admin_sql):
    views = admin_sql.execute(
        """
        select v.oid::regclass::text, coalesce(v.reloptions::text, '') from pg_class v
        join pg_depend d on d.refobjid = 'tasks'::regclass
        join pg_rewrite r on r.oid = d.objid and r.ev_class = v.oid
        where v.relkind = 'v'
        """
    ).fetchall()
    assert all("security_invoker=true" in options for _, options in views), views
    leakproof = admin_sql.execute(
        "select proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
        "where n.nspname = 'public' and p.proleakproof"
    ).fetchall()
    assert leakproof == []


@pytest.mark.parametrize("enabled, threshold", [(True, 5), (False, None)])
def test_database_prepared_statements_switches_psycopg_preparation(make_app, alice, enabled, threshold):
    app = make_app(DATABASE_PREPARED_STATEMENTS=enabled, DATABASE_POOL_SIZE=1)
    client = app.test_client()
    # Writes: they commit, and psycopg forgets its prepared statements on every rollback.
    for n in range(8):
        assert client.post("/api/me/tasks", json={"title": f"t{n}"}, headers=alice.headers).status_code == 201
    engine = app.extensions["taskapp.db"]["engine"]
    connection = engine.raw_connection()
    try:
        assert connection.driver_connection.prepare_threshold == threshold
        prepared = connection.driver_connection.execute("select count(*) from pg_prepared_statements").fetchone()[0]
        assert (prepared > 0) is enabled
    finally:
        connection.close()
