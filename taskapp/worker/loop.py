"""The worker's loop: claim due jobs, do them on a few threads, sleep briefly when none is due.

The loop looks for due jobs every half second when idle (and at once while jobs keep coming),
sleeping no longer than until the next job's time, so a new event is picked up and a
reminder fires within about half a second. It polls rather than LISTENs: a NOTIFY in every
writing transaction would take PostgreSQL's one lock on the notification queue at each
commit, serialising the commits of every user with webhooks. Claims are leases
(taskapp_queue.claim, FOR UPDATE SKIP LOCKED): two workers never hold the same job, and the
job of a worker that died is claimed again when its lease ends. SIGTERM (or SIGINT) stops
claiming, lets the jobs in hand finish, and exits.
"""

import logging
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from taskapp.database.sessions import connect_options, in_utc
from taskapp.identity.proof import IdentityKey
from taskapp.worker import deliveries, due_reminders
from taskapp.worker.metrics import JOBS_DUE, OLDEST_DUE
from taskapp.worker.queue import BACKLOG, CLAIM, NEXT_RUN_AT

log = logging.getLogger("taskapp.worker")

POLL_SECONDS = 0.5
BACKLOG_EVERY_SECONDS = 5.0
KINDS = ("delivery", "reminder")


@dataclass(frozen=True)
class WorkerSettings:
    database_url: str  # libpq URL of taskapp_worker
    identity_key: IdentityKey
    concurrency: int = 4
    # The most jobs of one user in hand at once (None: half the threads, at least one): a user
    # whose receiver is slow or hostile holds only this many threads, the others go on.
    per_user: int | None = None
    lease_seconds: int = 60
    retry_delays: tuple = deliveries.RETRY_DELAYS
    allow_private: bool = False
    timeout: float = 5.0
    connect_timeout: int = 5
    prepared_statements: bool = True  # DATABASE_PREPARED_STATEMENTS: off behind PgBouncer < 1.21 (transaction mode)
    stop: threading.Event = field(default_factory=threading.Event)

    @property
    def share(self) -> int:
        return self.per_user or max(1, self.concurrency // 2)


class Holding:
    """The jobs in hand, by user; thread-safe (jobs end on the pool's threads)."""

    def __init__(self):
        self._by_user: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, user_id: str) -> None:
        with self._lock:
            self._by_user[user_id] = self._by_user.get(user_id, 0) + 1

    def release(self, user_id: str) -> None:
        with self._lock:
            left = self._by_user[user_id] - 1
            if left:
                self._by_user[user_id] = left
            else:
                del self._by_user[user_id]

    def at_share(self, share: int) -> list[str]:
        """The users who hold their whole share."""
        with self._lock:
            return [user for user, count in self._by_user.items() if count >= share]


def connect_kwargs(settings: WorkerSettings) -> dict:
    return connect_options("taskapp-worker", settings.connect_timeout, settings.prepared_statements)


def do(job: dict, pool: ConnectionPool, settings: WorkerSettings) -> None:
    """One job on a pooled connection; a failure leaves it to be claimed again after its lease.

    A pooled connection the server closed (a restart, a cut) fails at its first statement: the
    job is tried once more at once, on a new connection, rather than after its lease.
    """
    job_function = deliveries.deliver if job["kind"] == "delivery" else due_reminders.fire
    for last_try in (False, True):
        try:
            with pool.connection() as conn:
                job_function(conn, settings.identity_key, job, settings)
            return
        except Exception as error:
            if isinstance(error, psycopg.OperationalError) and not last_try:
                continue
            log.exception("job failed; it is tried again when its lease ends",
                          extra={"fields": {"job": job["job"], "kind": job["kind"]}})
            return


def report_backlog(control: psycopg.Connection) -> None:
    found = {row[0]: row for row in control.execute(BACKLOG)}
    now = datetime.now(timezone.utc)
    for kind in KINDS:
        _, due, oldest = found.get(kind, (kind, 0, None))
        JOBS_DUE.labels(kind).set(due)
        OLDEST_DUE.labels(kind).set((now - oldest).total_seconds() if oldest else 0)


def sleep_seconds(control: psycopg.Connection) -> float:
    """Until the next job may be claimed, at most POLL_SECONDS."""
    next_run = control.execute(NEXT_RUN_AT).fetchone()[0]
    if next_run is None:
        return POLL_SECONDS
    return min(max((next_run - datetime.now(timezone.utc)).total_seconds(), 0.0), POLL_SECONDS)


def connect_control(settings: WorkerSettings) -> psycopg.Connection:
    """The connection that claims jobs (autocommit: each claim is its own transaction)."""
    control = psycopg.connect(settings.database_url, autocommit=True, **connect_kwargs(settings))
    in_utc(control)
    return control


def reconnect(settings: WorkerSettings, lost: psycopg.Connection, error: Exception) -> psycopg.Connection | None:
    """After the database went away: a new control connection once it is back (None if stopped)."""
    log.warning("database unavailable; trying again every second",
                extra={"fields": {"error": (str(error).strip().splitlines() or [error.__class__.__name__])[0]}})
    lost.close()
    while not settings.stop.wait(1.0):
        try:
            return connect_control(settings)
        except psycopg.OperationalError:
            continue
    return None


def work(settings: WorkerSettings) -> None:
    """Work until settings.stop is set (by SIGTERM in `taskapp worker`); a lost database is waited for."""
    kwargs = connect_kwargs(settings)
    control = connect_control(settings)
    pool = ConnectionPool(settings.database_url, min_size=1, max_size=settings.concurrency,
                          kwargs=kwargs, configure=in_utc, open=True, name="taskapp-worker")
    threads = ThreadPoolExecutor(settings.concurrency, thread_name_prefix="taskapp-worker")
    in_hand: set = set()
    holding = Holding()
    reported = 0.0
    log.info("worker started", extra={"fields": {"concurrency": settings.concurrency}})
    try:
        while control is not None and not settings.stop.is_set():
            try:
                if time.monotonic() - reported > BACKLOG_EVERY_SECONDS:
                    report_backlog(control)
                    reported = time.monotonic()
                free = settings.concurrency - len(in_hand)
                busy = holding.at_share(settings.share)
                claimed = []
                if free > 0:
                    # One job of a user per claim, and none of a user whose share is taken: a
                    # user's jobs in hand never pass their share (a second claim follows at once).
                    claimed = control.cursor(row_factory=dict_row).execute(
                        CLAIM, (free, settings.lease_seconds, 1, busy)).fetchall()
                for job in claimed:
                    holding.take(job["user_id"])
                    future = threads.submit(do, job, pool, settings)
                    in_hand.add(future)
                    future.add_done_callback(in_hand.discard)
                    future.add_done_callback(lambda done, user_id=job["user_id"]: holding.release(user_id))
                if claimed and len(claimed) == free:
                    if len(in_hand) >= settings.concurrency:  # every thread busy: wait for one
                        wait(list(in_hand), timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                    continue
                if not claimed and busy and in_hand:
                    # What is due may all be of users whose share is taken: wait for a job to end
                    # (or POLL_SECONDS) rather than ask again at once.
                    wait(list(in_hand), timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                    continue
                # Nothing more due now: sleep until the next job's time, at most POLL_SECONDS.
                settings.stop.wait(sleep_seconds(control))
            except psycopg.OperationalError as error:
                control = reconnect(settings, control, error)
    finally:
        threads.shutdown(wait=True)  # the jobs in hand finish (each delivery within its timeout)
        pool.close()
        if control is not None:
            control.close()
        log.info("worker stopped")


def stop_on_signals(settings: WorkerSettings) -> None:
    def stop(signum, frame):
        settings.stop.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
