"""The change feed's and idempotency keys' tables in SQL, as taskapp_app: the database stamps
every write with its transaction itself, remembers deletions, and shows each user only the
rows of their own lists."""

import uuid

import pytest
from psycopg import errors

from tests.support.identity import act_as


@pytest.fixture()
def alices_task(app_sql, alice):
    act_as(app_sql, alice.sub)
    task_id = app_sql.execute("insert into tasks (title) values ('mine') returning id").fetchone()[0]
    app_sql.commit()
    return task_id


def test_every_write_records_its_transaction_whatever_the_writer_sets(app_sql, alice, alices_task):
    act_as(app_sql, alice.sub)
    app_sql.execute("update tasks set title = 'again', written_xid = '1' where id = %s", (alices_task,))
    written, current = app_sql.execute(
        "select written_xid::text, pg_current_xact_id()::text from tasks where id = %s", (alices_task,)).fetchone()
    assert written == current


def test_a_deletion_is_remembered_in_its_list_with_its_transaction(app_sql, alice, alices_task):
    act_as(app_sql, alice.sub)
    (list_id,) = app_sql.execute("select list_id from tasks where id = %s", (alices_task,)).fetchone()
    app_sql.execute("delete from tasks where id = %s", (alices_task,))
    assert app_sql.execute(
        "select list_id, task_id, deleted_xid = pg_current_xact_id() from task_deletions").fetchall() == [
        (list_id, alices_task, True)]


def test_a_users_writes_no_longer_wait_for_each_other(database, alice, alices_task):
    """The feed follows transactions, so writes need no counter held until they commit."""
    import psycopg

    with psycopg.connect(database.app_url) as one, psycopg.connect(database.app_url) as two:
        act_as(one, alice.sub)
        one.execute("update tasks set title = 'one' where id = %s", (alices_task,))
        act_as(two, alice.sub)
        two.execute("set local lock_timeout = '200ms'")
        two.execute("insert into tasks (title) values ('two')")  # no LockNotAvailable
        two.commit()
        one.commit()


@pytest.mark.parametrize("table", ["task_deletions", "idempotency_keys"])
def test_nobody_else_and_no_identity_sees_the_rows(app_sql, admin_sql, alice, bob, alices_task, table):
    act_as(app_sql, alice.sub)
    app_sql.execute("delete from tasks where id = %s", (alices_task,))
    app_sql.execute("insert into idempotency_keys (key, fingerprint, status, body, expires_at)"
                    " values ('k', 'f', 201, '{}', now() + interval '1 day')")
    app_sql.commit()
    act_as(app_sql, alice.sub)
    assert app_sql.execute(f"select count(*) from {table}").fetchone()[0] == 1
    app_sql.rollback()
    for who in (bob.sub, None):
        act_as(app_sql, who)
        assert app_sql.execute(f"select count(*) from {table}").fetchone()[0] == 0
        assert app_sql.execute(f"delete from {table} returning 1").fetchall() == []
        app_sql.rollback()
    mine = "list_id in (select id from lists where personal_of = %s)" if table == "task_deletions" else "user_id = %s"
    assert admin_sql.execute(f"select count(*) from {table} where {mine}", (alice.sub,)).fetchone()[0] == 1


def test_rows_cannot_be_written_for_another_user(app_sql, alice, bob, alices_task):
    act_as(app_sql, alice.sub)
    (alices_list,) = app_sql.execute("select list_id from tasks where id = %s", (alices_task,)).fetchone()
    app_sql.rollback()
    statements = [
        ("insert into task_deletions (list_id, task_id) values (%s, %s)", (alices_list, uuid.uuid4())),
        ("insert into idempotency_keys (user_id, key, fingerprint, status, body, expires_at)"
         " values (%s, 'k', 'f', 201, '{}', now())", (alice.sub,)),
        # Events are the database's to produce: no runtime role writes them or calls what does.
        ("insert into webhook_deliveries (user_id, webhook_id, type, task) values (%s, %s, 'task.created', '{}')",
         (alice.sub, uuid.uuid4())),
        ("select taskapp_private.webhooks_emit(%s, %s, null, 'task.created', '{}', null, null)",
         (alices_list, alice.sub)),
    ]
    for sql, params in statements:
        act_as(app_sql, bob.sub)
        with pytest.raises(errors.InsufficientPrivilege):
            app_sql.execute(sql, params)
        app_sql.rollback()


def test_the_same_key_of_two_users_is_two_rows(app_sql, alice, bob):
    for user in (alice, bob):
        act_as(app_sql, user.sub)
        app_sql.execute("insert into idempotency_keys (key, fingerprint, status, body, expires_at)"
                        " values ('same', %s, 201, '{}', now() + interval '1 day')", (user.sub,))
        app_sql.commit()
    act_as(app_sql, bob.sub)
    assert app_sql.execute("select fingerprint from idempotency_keys where key = 'same'").fetchall() == [(bob.sub,)]
