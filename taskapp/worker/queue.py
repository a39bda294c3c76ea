"""The worker's side of `taskapp_queue` (sql/01_schema.sql): the only way it learns of work.

Each function returns ids and times, never content. A job is held by its claim: finishing or
rescheduling it with a claim that is no longer its own (the lease ran out and another worker
took it) does nothing and answers false.
"""

from taskapp.identity.proof import on_citus

# (how many, lease seconds, at most this many of one user, users whose share is taken)
CLAIM = "select job, claim, kind, user_id, ref, run_at, claims from taskapp_queue.claim(%s, %s, %s, %s)"
FINISH = "select taskapp_queue.finish(%(job)s, %(claim)s)"
RETRY = "select taskapp_queue.retry(%(job)s, %(claim)s, %(delay)s)"
NEXT_RUN_AT = "select taskapp_queue.next_run_at()"
BACKLOG = "select kind, due, oldest from taskapp_queue.backlog()"


def held(job: dict) -> dict:
    """The parameters naming a claimed job and the claim that holds it."""
    return {"job": job["job"], "claim": job["claim"]}


def settled_apart(conn) -> bool:
    """Whether a job is finished or rescheduled in a transaction of its own, after its work.

    On one PostgreSQL the work and the job's end commit together. On a Citus cluster the
    queue's functions act as the schema's owner, and Citus refuses them in a transaction where
    the worker's role changed the same list's shards ("cannot perform query on placements that
    were modified in this transaction by a different user"), so the job ends just after: a
    worker that dies in between leaves the job to be claimed again, which repeats no reminder
    and sends a webhook event again, as delivery at least once allows. Ask inside a
    transaction (the first ask queries the database).
    """
    return on_citus(conn)
