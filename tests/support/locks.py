"""Waiting, in a test, until the runtime role's statement waits on a lock another transaction holds."""

import time
from collections.abc import Callable

import psycopg

WAITING = ("select exists (select from pg_stat_activity where usename = 'taskapp_app' "
           "and wait_event_type = 'Lock' and (%(event)s::text is null or wait_event = %(event)s))")


def until_waiting_on_a_lock(admin_url: str, *, advisory: bool = False, still: Callable[[], bool] = lambda: True,
                            seconds: float = 30, why: object = "") -> None:
    """Return once a taskapp_app session waits on a lock (an advisory one, with `advisory`);
    AssertionError (`why`) after `seconds`, or as soon as `still()` is false (the request ended)."""
    deadline = time.monotonic() + seconds
    with psycopg.connect(admin_url, autocommit=True) as watcher:
        while not watcher.execute(WAITING, {"event": "advisory" if advisory else None}).fetchone()[0]:
            assert still() and time.monotonic() < deadline, why
            time.sleep(0.01)
