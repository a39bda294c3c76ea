"""Events and background work in SQL: the outbox a write fills, the queue the worker claims
from, and what taskapp_worker can and cannot see."""

import pytest
from psycopg import errors

from tests.support.identity import act_as

SECRET = "whsec_" + "A" * 32


def subscribe(conn, events, url="https://hooks.example.com/in"):
    return conn.execute(
        "insert into webhooks (url, events, secret) values (%s, %s, %s) returning id", (url, events, SECRET)
    ).fetchone()[0]


def events(conn):
    return [row[0] for row in conn.execute("select type from webhook_deliveries order by created_at, type")]


@pytest.fixture()
def alice_subscribed(app_sql, alice):
    act_as(app_sql, alice.sub)
    subscribe(app_sql, ["task.created", "task.updated", "task.completed", "task.deleted", "reminder.due"])
    app_sql.commit()
    act_as(app_sql, alice.sub)
    return app_sql


def test_every_kind_of_write_produces_its_event_in_the_same_transaction(alice_subscribed):
    conn = alice_subscribed
    task_id = conn.execute("insert into tasks (title) values ('t') returning id").fetchone()[0]
    conn.execute("update tasks set title = 'u' where id = %s", (task_id,))
    conn.execute("update tasks set completed = true where id = %s", (task_id,))
    conn.execute("delete from tasks where id = %s", (task_id,))
    assert events(conn) == ["task.created", "task.updated", "task.completed", "task.deleted"]
    [task] = conn.execute("select task from webhook_deliveries where type = 'task.deleted'").fetchone()
    assert task["title"] == "u" and "search" not in task
    conn.rollback()
    act_as(conn, "nobody-else")
    assert events(conn) == []


def test_a_user_without_subscriptions_produces_no_events(app_sql, bob):
    act_as(app_sql, bob.sub)
    app_sql.execute("insert into tasks (title) values ('t')")
    assert events(app_sql) == []


def test_only_the_wanted_types_and_only_active_subscriptions(app_sql, alice):
    act_as(app_sql, alice.sub)
    hook = subscribe(app_sql, ["task.deleted"])
    task_id = app_sql.execute("insert into tasks (title) values ('t') returning id").fetchone()[0]
    assert events(app_sql) == []
    app_sql.execute("update webhooks set active = false where id = %s", (hook,))
    app_sql.execute("delete from tasks where id = %s", (task_id,))
    assert events(app_sql) == []


def test_each_event_is_a_job_in_the_queue(alice_subscribed, admin_sql):
    conn = alice_subscribed
    conn.execute("insert into tasks (title) values ('t')")
    [delivery] = conn.execute("select id from webhook_deliveries").fetchone()
    conn.commit()
    jobs = admin_sql.execute("select kind, ref from taskapp_queue.jobs where ref = %s", (delivery,)).fetchall()
    assert jobs == [("delivery", delivery)]


def test_the_worker_claims_ids_and_times_and_then_acts_as_the_user(alice_subscribed, worker_sql, alice):
    conn = alice_subscribed
    conn.execute("insert into tasks (title) values ('secret title')")
    [delivery] = conn.execute("select id from webhook_deliveries").fetchone()
    conn.commit()
    # Claiming is its own transaction, as in the worker (on Citus the queue's functions, which
    # act as the schema's owner, may not share one with the worker's reads and writes).
    claimed = worker_sql.execute("select * from taskapp_queue.claim(100, 30)").fetchall()
    worker_sql.commit()
    mine = [row for row in claimed if row[4] == delivery]
    assert len(mine) == 1
    job, claim, kind, user_id, ref, run_at, claims = mine[0]
    assert (kind, user_id, claims) == ("delivery", alice.sub, 1)
    # Without acting as Alice it sees nothing of hers.
    assert worker_sql.execute("select count(*) from webhook_deliveries").fetchone()[0] == 0
    assert worker_sql.execute("select count(*) from webhooks").fetchone()[0] == 0
    assert worker_sql.execute("select count(*) from tasks").fetchone()[0] == 0
    act_as(worker_sql, alice.sub)
    assert worker_sql.execute("select task->>'title' from webhook_deliveries where id = %s",
                              (delivery,)).fetchone()[0] == "secret title"
    assert worker_sql.execute("select secret from webhooks").fetchone()[0] == SECRET
    worker_sql.commit()
    # A second claim does not hand out the job it holds; finishing it with its claim removes it.
    again = worker_sql.execute("select ref from taskapp_queue.claim(100, 30)").fetchall()
    assert (delivery,) not in again
    assert worker_sql.execute("select taskapp_queue.finish(%s, %s)", (job, claim)).fetchone()[0] is True
    assert worker_sql.execute("select taskapp_queue.finish(%s, %s)", (job, claim)).fetchone()[0] is False


def test_a_job_whose_lease_ran_out_is_claimed_again(alice_subscribed, worker_sql, admin_sql):
    conn = alice_subscribed
    conn.execute("insert into tasks (title) values ('t')")
    [delivery] = conn.execute("select id from webhook_deliveries").fetchone()
    conn.commit()
    claimed = worker_sql.execute("select job, claim, ref from taskapp_queue.claim(100, 30)").fetchall()
    first = [r for r in claimed if r[2] == delivery]
    worker_sql.commit()
    admin_sql.execute("update taskapp_queue.jobs set leased_until = now() - interval '1 second' where ref = %s",
                      (delivery,))
    second = [r for r in worker_sql.execute("select job, claim, ref, claims from taskapp_queue.claim(100, 30)")
              if r[2] == delivery]
    assert len(first) == len(second) == 1 and first[0][1] != second[0][1] and second[0][3] == 2
    # The first holder's claim is void: it can neither finish nor retry the job.
    assert worker_sql.execute("select taskapp_queue.finish(%s, %s)", first[0][:2]).fetchone()[0] is False
    assert worker_sql.execute("select taskapp_queue.retry(%s, %s, 5)", second[0][:2]).fetchone()[0] is True


def test_the_worker_cannot_read_the_queue_or_act_without_a_proof(worker_sql, alice):
    with pytest.raises(errors.InsufficientPrivilege):
        worker_sql.execute("select * from taskapp_queue.jobs")
    worker_sql.rollback()
    worker_sql.execute("select set_config('app.user_id', %s, true)", (alice.sub,))
    assert worker_sql.execute("select count(*) from tasks").fetchone()[0] == 0
    assert worker_sql.execute("select count(*) from webhooks").fetchone()[0] == 0
    with pytest.raises(errors.InsufficientPrivilege):
        worker_sql.execute("select taskapp_private.act_as(%s)", (alice.sub,))


@pytest.mark.parametrize("statement", [
    "select * from taskapp_queue.claim(1, 1)",
    "select taskapp_queue.next_run_at()",
    "select * from taskapp_queue.jobs",
])
def test_the_request_role_has_no_part_in_the_queue(app_sql, statement):
    with pytest.raises(errors.InsufficientPrivilege):
        app_sql.execute(statement)


@pytest.mark.parametrize("statement", [
    "insert into tasks (title) values ('t')",
    "update tasks set title = 'x'",
    "delete from tasks",
    "update webhooks set url = 'https://elsewhere.example.com'",
    "update webhook_deliveries set type = 'task.created'",
])
def test_the_worker_writes_only_what_its_jobs_need(worker_sql, alice, statement):
    act_as(worker_sql, alice.sub)
    with pytest.raises(errors.InsufficientPrivilege):
        worker_sql.execute(statement)


def test_bobs_subscription_never_gets_alices_events(app_sql, alice, bob):
    act_as(app_sql, bob.sub)
    subscribe(app_sql, ["task.created"])
    app_sql.commit()
    act_as(app_sql, alice.sub)
    app_sql.execute("insert into tasks (title) values ('alice only')")
    app_sql.commit()
    act_as(app_sql, bob.sub)
    assert events(app_sql) == []


def test_an_event_for_another_users_subscription_is_refused(app_sql, alice, bob):
    act_as(app_sql, bob.sub)
    hook = subscribe(app_sql, ["task.created"])
    app_sql.commit()
    act_as(app_sql, alice.sub)
    with pytest.raises(errors.InsufficientPrivilege):
        app_sql.execute("insert into webhook_deliveries (user_id, webhook_id, type, task) values (%s, %s, 'x', '{}')",
                        (bob.sub, hook))
