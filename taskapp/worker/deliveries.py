"""Delivering one webhook event: read it as its user, POST it signed, record the attempt.

Delivery is at least once: an attempt is recorded, and its job finished or rescheduled, in
one transaction after the receiver answered; a worker that dies in between leaves the job to
another once its lease ends, and the event is sent again with the same webhook-id. (On a Citus
cluster the job is settled in a transaction of its own, just after: queue.settled_apart.) Events of
one subscription are sent independently (a retry does not hold back later events), so a
receiver orders them by `timestamp`, or by the task's `updated_at`, when order matters.
"""

import http.client
import logging
import random
from datetime import datetime, timezone

import psycopg
from psycopg.rows import dict_row

from taskapp.database.tables import TASK_FIELDS
from taskapp.identity.proof import act_as
from taskapp.webhooks import events as webhook_events
from taskapp.webhooks import targets as webhook_targets
from taskapp.worker.metrics import DELIVERIES, DELIVERY_LATENCY
from taskapp.worker.queue import FINISH, RETRY, held, settled_apart

log = logging.getLogger(__name__)

# The first retry about 5 s after the first attempt, the second about 30 s after that, then
# backing off to 8 attempts over about 17 hours; each delay varies by up to a fifth (jitter).
RETRY_DELAYS = (5, 30, 120, 600, 3600, 4 * 3600, 12 * 3600)
JITTER = 0.2
# Delivered and failed events (with their attempts) are kept this long for GET …/deliveries.
RETENTION = "7 days"
FORGET_AT_ONCE = 100
FORGET_EVERY = 0.1  # of deliveries look for old events of their subscription to remove

# The event with its subscription, as its owner sees them (RLS: only the owner's rows exist).
# The task is returned with the columns and types of the tasks table, as GET returns it. An
# event of a list is sent only while the subscriber is still a member (they see the list: the
# policies say so, as the subscriber), or when it is the news of their own departure (a
# parting event made in the transaction that recorded it: their removal, the list's deletion);
# an invitation is theirs whether or not they joined.
EVENT = f"""
select d.type, d.list_id, d.created_at as event_at, d.attempts, d.state, d.reminder, d.data,
       d.task is not null as about_task,
       w.id as webhook_id, w.url, w.secret, w.active,
       d.list_id is null or d.type = 'invitation.received'
           or exists (select from lists l where l.id = d.list_id)
           or (d.parting and exists (select from list_departures p
                                     where p.list_id = d.list_id and p.left_xid = d.made_xid))
           as still_a_member,
       {', '.join(f't.{name}' for name in TASK_FIELDS)}
from webhook_deliveries d
join webhooks w on w.user_id = d.user_id and w.id = d.webhook_id
left join lateral jsonb_populate_record(null::tasks, d.task) t on d.task is not null
where d.id = %(delivery)s
"""
RECORD_ATTEMPT = """
insert into webhook_attempts (webhook_id, delivery_id, list_id, attempt, status, error)
values (%(webhook)s, %(delivery)s, %(list)s, %(attempt)s, %(status)s, %(error)s)
"""
# Only over the state this attempt began from: an event another worker recorded meanwhile (its
# lease ran out here) keeps that worker's outcome.
UPDATE_DELIVERY = """
update webhook_deliveries set attempts = %(attempt)s, state = %(state)s
where {event} and state = 'pending' and attempts = %(attempt)s - 1
"""
# An event of a subscription switched off, or of a list the subscriber has left, is not sent:
# it ends as failed, with no attempt.
DROP = "update webhook_deliveries set state = 'failed' where {event} and state = 'pending'"
SWITCH_OFF = "update webhooks set active = false, updated_at = now() where id = %(webhook)s and active"
# Old events of the subscription, a bounded number at a time, at one delivery in ten (no cron).
FORGET_OLD = f"""
delete from webhook_deliveries where id in (
    select id from webhook_deliveries
    where webhook_id = %(webhook)s and state <> 'pending' and created_at < now() - interval '{RETENTION}'
    order by created_at limit {FORGET_AT_ONCE})
"""


def of_event(statement: str, event: dict) -> str:
    """The statement on the one event, naming its list when it has one (one shard on Citus)."""
    one = "list_id = %(list)s and id = %(delivery)s" if event["list_id"] else "id = %(delivery)s"
    return statement.format(event=one)


def delay(attempt: int, delays=RETRY_DELAYS) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based), with jitter."""
    base = delays[min(attempt, len(delays)) - 1]
    return base * random.uniform(1 - JITTER, 1 + JITTER)


def send(event: dict, event_id: str, allow_private: bool, timeout: float) -> tuple[int | None, str | None]:
    """(status, None) when the receiver answered, (None, why) when it did not or may not be called."""
    try:
        task = {name: event[name] for name in TASK_FIELDS} if event["about_task"] else None
        text = webhook_events.body(event["type"], event["event_at"], task, event["reminder"], event["data"])
        target = webhook_targets.check(event["url"], allow_private)
        headers = webhook_events.headers(event["secret"], event_id, text)
        return webhook_targets.post(target, text.encode(), headers, timeout), None
    except webhook_targets.RefusedTarget as refused:
        return None, str(refused)
    except TimeoutError:
        return None, f"No complete answer within {timeout:g} s."
    except (OSError, http.client.HTTPException) as error:
        return None, f"{error.__class__.__name__}: {error}"[:500]
    except Exception as error:  # whatever else failed, it is this attempt's failure: recorded, retried
        log.warning("delivery failed", exc_info=error, extra={"fields": {"event": event_id}})
        return None, f"{error.__class__.__name__}: {error}"[:500]


def deliver(conn: psycopg.Connection, key, job: dict, settings) -> None:
    """Do one delivery job (conn: the thread's own connection, outside any transaction)."""
    user_id, delivery = job["user_id"], job["ref"]
    holding = held(job)
    with conn.transaction():
        act_as(conn, key, user_id)
        apart = settled_apart(conn)
        event = conn.cursor(row_factory=dict_row).execute(EVENT, {"delivery": delivery}).fetchone()
        # gone with its subscription, done already, switched off, or of a list they left
        unsent = event is None or event["state"] != "pending" or not event["active"] or not event["still_a_member"]
        if unsent:
            if event is not None and event["state"] == "pending":
                conn.execute(of_event(DROP, event), {"delivery": delivery, "list": event["list_id"]})
            if not apart:
                conn.execute(FINISH, holding)
    if unsent:
        if apart:
            with conn.transaction():
                conn.execute(FINISH, holding)
        return
    status, error = send(event, str(delivery), settings.allow_private, settings.timeout)
    attempt = event["attempts"] + 1
    delivered = status is not None and 200 <= status < 300
    last = not delivered and attempt > len(settings.retry_delays)
    settle = (FINISH, holding) if delivered or last else (
        RETRY, {**holding, "delay": delay(attempt, settings.retry_delays)})
    still_held = True
    with conn.transaction() as transaction:
        act_as(conn, key, user_id)
        if not apart:
            still_held = conn.execute(*settle).fetchone()[0]
            if not still_held:  # the lease ran out and another worker has the job: it records the outcome
                raise psycopg.Rollback(transaction)
        ids = {"webhook": event["webhook_id"], "delivery": delivery, "list": event["list_id"]}
        state = "delivered" if delivered else "failed" if last else "pending"
        if not conn.execute(of_event(UPDATE_DELIVERY, event), {**ids, "attempt": attempt, "state": state}).rowcount:
            still_held = False  # another worker took the job and recorded its own attempt
            raise psycopg.Rollback(transaction)
        conn.execute(RECORD_ATTEMPT, {**ids, "attempt": attempt, "status": status, "error": error})
        if last:
            conn.execute(SWITCH_OFF, ids)
        if random.random() < FORGET_EVERY:
            conn.execute(FORGET_OLD, ids)
    if apart and still_held:
        with conn.transaction():
            still_held = conn.execute(*settle).fetchone()[0]
    if not still_held:
        log.warning("delivery lease lost; another worker has the event", extra={"fields": {"event": str(delivery)}})
        return
    outcome = "delivered" if delivered else "failed" if last else "retry"
    DELIVERIES.labels(outcome).inc()
    if delivered:
        DELIVERY_LATENCY.observe((datetime.now(timezone.utc) - event["event_at"]).total_seconds())
    log.info("webhook %s", outcome, extra={"fields": {
        "event": str(delivery), "type": event["type"], "attempt": attempt, "status": status, "error": error}})
