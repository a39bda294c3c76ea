"""Firing a task's due reminders: marked fired as its user, in one statement.

The database does the rest in the same transaction: the stamp trigger produces the
`reminder.due` events (and the change feed's upsert), and the task's job moves on to its
next reminder, or goes when none is left (sql/01_schema.sql).
"""

from datetime import datetime, timezone

import psycopg

from taskapp.identity.proof import act_as
from taskapp.worker.metrics import REMINDER_LAG
from taskapp.worker.queue import FINISH, held, settled_apart

# Every reminder of the task whose time has come, not fired yet and not missed, is marked
# fired; only while the task is open. (A reminder moved later meanwhile is not yet due.)
FIRE_DUE = """
update tasks set reminders = (
    select jsonb_agg(case when not (r ->> 'fired')::boolean and not (r ->> 'missed')::boolean
                               and (r ->> 'fires_at')::timestamptz <= now()
                          then r || '{"fired": true}' else r end order by position)
    from jsonb_array_elements(reminders) with ordinality as given(r, position))
where id = %(task)s and not completed and next_reminder_at <= now()
"""


def fire(conn: psycopg.Connection, key, job: dict, settings) -> None:
    """Do one reminder job (conn: the thread's own connection, outside any transaction)."""
    with conn.transaction():
        act_as(conn, key, job["user_id"])
        fired = conn.execute(FIRE_DUE, {"task": job["ref"]}).rowcount
        # Firing rescheduled the job (or removed it) already; otherwise it is done.
        apart = settled_apart(conn)
        if not apart:
            conn.execute(FINISH, held(job))
    if apart:  # a worker that dies before this leaves the job to be claimed again: it fires nothing twice
        with conn.transaction():
            conn.execute(FINISH, held(job))
    if fired:
        REMINDER_LAG.observe(max((datetime.now(timezone.utc) - job["run_at"]).total_seconds(), 0.0))
