"""The worker's side of `taskapp_queue` (sql/01_schema.sql): the only way it learns of work.

Each function returns ids and times, never content. A job is held by its claim: finishing or
rescheduling it with a claim that is no longer its own (the lease ran out and another worker
took it) does nothing and answers false.
"""

# (how many, lease seconds, at most this many of one user, users whose share is taken)
CLAIM = "select job, claim, kind, user_id, ref, run_at, claims from taskapp_queue.claim(%s, %s, %s, %s)"
FINISH = "select taskapp_queue.finish(%(job)s, %(claim)s)"
RETRY = "select taskapp_queue.retry(%(job)s, %(claim)s, %(delay)s)"
NEXT_RUN_AT = "select taskapp_queue.next_run_at()"
BACKLOG = "select kind, due, oldest from taskapp_queue.backlog()"


def held(job: dict) -> dict:
    """The parameters naming a claimed job and the claim that holds it."""
    return {"job": job["job"], "claim": job["claim"]}
