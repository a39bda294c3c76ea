"""The completion history in SQL, as taskapp_app: owner, other user, no identity, forged identity."""

import uuid

import pytest
from psycopg import errors

from tests.support.identity import SET_IDENTITY, act_as


def history(conn, task_id):
    return conn.execute("select due_at from task_completions where task_id = %s", (task_id,)).fetchall()


@pytest.fixture()
def alices_completed_task(app_sql, alice):
    """A task of Alice's, completed once (the database records it)."""
    act_as(app_sql, alice.sub)
    task_id = app_sql.execute(
        "insert into tasks (title, due_at, completed) values ('done', '2099-01-01T09:00Z', true) returning id"
    ).fetchone()[0]
    app_sql.commit()
    return task_id


def test_completing_records_and_reopening_forgets_in_the_database_itself(app_sql, alice, alices_completed_task):
    act_as(app_sql, alice.sub)
    assert len(history(app_sql, alices_completed_task)) == 1
    app_sql.execute("update tasks set completed = false where id = %s", (alices_completed_task,))
    assert history(app_sql, alices_completed_task) == []
    app_sql.execute("update tasks set completed = true where id = %s", (alices_completed_task,))
    assert len(history(app_sql, alices_completed_task)) == 1


def test_the_owner_sees_the_history_and_nobody_else_does(app_sql, alice, bob, alices_completed_task):
    act_as(app_sql, alice.sub)
    assert app_sql.execute("select count(*) from task_completions").fetchone()[0] == 1
    app_sql.rollback()
    act_as(app_sql, bob.sub)
    assert app_sql.execute("select count(*) from task_completions").fetchone()[0] == 0
    assert app_sql.execute("delete from task_completions returning id").fetchall() == []
    app_sql.rollback()
    act_as(app_sql, None)
    assert app_sql.execute("select count(*) from task_completions").fetchone()[0] == 0


def test_a_forged_identity_sees_no_history(app_sql, alice, alices_completed_task):
    app_sql.execute(SET_IDENTITY, (alice.sub, "v1.0000000000000000.99999999999." + "0" * 64))
    assert app_sql.execute("select count(*) from task_completions").fetchone()[0] == 0
    app_sql.rollback()
    app_sql.execute("select set_config('app.user_id', %s, true)", (alice.sub,))
    assert app_sql.execute("select count(*) from task_completions").fetchone()[0] == 0


def test_a_record_cannot_be_written_for_another_user(app_sql, alice, bob, alices_completed_task):
    act_as(app_sql, alice.sub)
    (alices_list,) = app_sql.execute("select list_id from tasks where id = %s", (alices_completed_task,)).fetchone()
    app_sql.rollback()
    for completed_by in (alice.sub, bob.sub):
        act_as(app_sql, bob.sub)
        with pytest.raises(errors.InsufficientPrivilege):
            app_sql.execute("insert into task_completions (list_id, task_id, completed_by) values (%s, %s, %s)",
                            (alices_list, alices_completed_task, completed_by))
        app_sql.rollback()


def test_the_foreign_key_is_no_oracle_for_another_users_task(app_sql, bob, alices_completed_task):
    # Bob names Alice's real task, then a task id that exists nowhere: the database answers
    # both the same way, so he learns nothing about whether Alice's id exists.
    answers = []
    for task_id in (alices_completed_task, uuid.uuid4()):
        act_as(app_sql, bob.sub)
        with pytest.raises(errors.ForeignKeyViolation) as refused:
            app_sql.execute("insert into task_completions (list_id, task_id) values (personal_list_id(), %s)",
                            (task_id,))
        answers.append(refused.value.diag.message_primary)
        app_sql.rollback()
    assert answers[0] == answers[1]


def test_records_are_never_updated(app_sql, alice, alices_completed_task):
    act_as(app_sql, alice.sub)
    with pytest.raises(errors.InsufficientPrivilege):
        app_sql.execute("update task_completions set due_at = now()")


def test_deleting_the_task_deletes_its_history(app_sql, alice, alices_completed_task):
    act_as(app_sql, alice.sub)
    app_sql.execute("delete from tasks where id = %s", (alices_completed_task,))
    assert history(app_sql, alices_completed_task) == []


def test_a_dba_acting_as_the_user_completes_through_the_same_trigger(admin_sql, alice, alices_completed_task):
    with admin_sql.transaction():
        admin_sql.execute("select taskapp_private.act_as(%s)", (alice.sub,))
        admin_sql.execute("update tasks set completed = false where id = %s", (alices_completed_task,))
        assert history(admin_sql, alices_completed_task) == []
