"""What every connection is like: UTC sessions, its options, and a liveness check before reuse.

Shared by the web application's engine and the worker's plain psycopg connections.
"""

import select
import time

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

UTC_NAMES = ("UTC", "Etc/UTC")
# A pooled connection is pinged before use only when it sat idle this long, or when its
# socket shows the server hung up; a busy pool skips the round trip (as pgx does).
PING_AFTER_IDLE_SECONDS = 1.0


def connect_options(application_name: str, connect_timeout: int, prepared_statements: bool) -> dict:
    """psycopg's connection options, the same for the web application and the worker."""
    return {
        "connect_timeout": connect_timeout,
        "application_name": application_name,
        # psycopg prepares a statement server-side after 5 runs; PgBouncer before 1.21 in
        # transaction mode cannot follow that (DATABASE_PREPARED_STATEMENTS=off).
        "prepare_threshold": 5 if prepared_statements else None,
    }


def in_utc(connection: psycopg.Connection) -> None:
    """The session's time zone is UTC, so timestamps arrive as UTC datetimes.

    The JSON writers then write them as they come, with a `Z`, instead of converting each one
    in Python. Set once per connection, only when the server's default is another zone, after
    connecting: TimeZone is one of the settings PgBouncer keeps per client (so it survives
    transaction pooling), but PgBouncer refuses a startup `options` parameter.
    """
    if connection.info.parameter_status("TimeZone") not in UTC_NAMES:
        connection.execute("set time zone 'UTC'")
        if not connection.autocommit:
            connection.commit()


def utc_sessions(engine: Engine) -> None:
    """Every connection the engine opens is in UTC (in_utc)."""
    event.listen(engine, "connect", lambda driver_connection, record: in_utc(driver_connection))


def hung_up(driver_connection) -> bool:
    """An idle connection's socket is readable only when the server closed it (or told it why)."""
    try:
        poller = select.poll()
        poller.register(driver_connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))
    except (OSError, ValueError):  # closed already
        return True


def ping_when_stale(engine: Engine) -> None:
    """Check a connection before it is lent only if it sat idle or its server hung up.

    A connection that fails the check is replaced (DisconnectionError makes the pool discard
    it and take another), so a restarted database costs no request an error.
    """

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def idle_from_now(driver_connection, record):
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping_if_stale(driver_connection, record, proxy):
        idle = time.monotonic() - record.info.get("idle_since", 0.0)
        if idle > PING_AFTER_IDLE_SECONDS or hung_up(driver_connection):
            try:
                engine.dialect.do_ping(driver_connection)
            except psycopg.Error:
                raise DisconnectionError("the pooled connection is gone") from None
