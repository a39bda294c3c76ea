"""Reminders in the database: arming, firing as the worker does, re-arming, the queue's job."""

from datetime import timedelta

import pytest

from tests.support.identity import act_as

# What the worker does when a task's reminders are due: mark them fired.
FIRE_ALL = (
    "update tasks set reminders = (select jsonb_agg(r || '{\"fired\": true}') from jsonb_array_elements(reminders) r)"
    " where id = %s"
)


def reminders(conn, task_id):
    return conn.execute("select reminders, next_reminder_at from tasks where id = %s", (task_id,)).fetchone()


def job_run_at(admin_sql, task_id):
    row = admin_sql.execute("select run_at from taskapp_queue.jobs where kind = 'reminder' and ref = %s",
                            (task_id,)).fetchone()
    return row and row[0]


@pytest.fixture()
def alices_task(app_sql, alice):
    """A task of Alice's due in two hours with a reminder an hour before, committed."""
    act_as(app_sql, alice.sub)
    task_id = app_sql.execute(
        "insert into tasks (title, due_at, reminders) values "
        "('t', now() + interval '2 hours', '[{\"before_due\": 60}]') returning id"
    ).fetchone()[0]
    app_sql.commit()
    act_as(app_sql, alice.sub)
    return task_id


def test_a_reminder_is_armed_and_its_job_queued(app_sql, admin_sql, alices_task):
    (given, next_at) = reminders(app_sql, alices_task)
    assert given[0]["fired"] is False and given[0]["missed"] is False
    assert job_run_at(admin_sql, alices_task) == next_at


def test_firing_as_the_worker_marks_it_and_empties_the_queue(app_sql, worker_sql, admin_sql, alice, alices_task):
    act_as(worker_sql, alice.sub)
    worker_sql.execute(FIRE_ALL, (alices_task,))
    worker_sql.commit()
    (given, next_at) = reminders(app_sql, alices_task)
    assert given[0]["fired"] is True and next_at is None
    assert job_run_at(admin_sql, alices_task) is None


def test_moving_the_due_date_rearms_and_completing_disarms(app_sql, admin_sql, alices_task):
    app_sql.execute("update tasks set reminders = '[{\"before_due\": 60, \"fired\": true, \"missed\": false,"
                    " \"fires_at\": \"2000-01-01T00:00:00Z\"}]' where id = %s", (alices_task,))
    # The new time is sent, as the application does (Citus refuses "due_at + interval" in an
    # UPDATE: a stable operator on a column).
    [due_at] = app_sql.execute("select due_at from tasks where id = %s", (alices_task,)).fetchone()
    app_sql.execute("update tasks set due_at = %s where id = %s", (due_at + timedelta(days=1), alices_task))
    (given, next_at) = reminders(app_sql, alices_task)
    assert given[0]["fired"] is False and next_at is not None
    app_sql.execute("update tasks set completed = true where id = %s", (alices_task,))
    assert reminders(app_sql, alices_task)[1] is None
    app_sql.commit()
    assert job_run_at(admin_sql, alices_task) is None


def test_deleting_the_task_removes_its_job(app_sql, admin_sql, alices_task):
    app_sql.execute("delete from tasks where id = %s", (alices_task,))
    app_sql.commit()
    assert job_run_at(admin_sql, alices_task) is None


def test_a_reminder_firing_is_the_reminder_due_event_not_an_update(app_sql, worker_sql, alice, alices_task):
    app_sql.execute("insert into webhooks (url, events, secret) values ('https://h.example.com', "
                    "'{task.updated,reminder.due}', 'whsec_QUJD')")
    app_sql.commit()
    act_as(worker_sql, alice.sub)
    worker_sql.execute(FIRE_ALL, (alices_task,))
    rows = worker_sql.execute("select type, reminder->>'before_due' from webhook_deliveries").fetchall()
    assert rows == [("reminder.due", "60")]
