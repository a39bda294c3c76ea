"""The database layer: engine, per-request session, and the per-transaction identity hook.

Views never build connections or set identity themselves: they ask for `get_session()`,
whose every transaction begins with `set_request_identity`.
"""

import logging
import select
import time

import psycopg
from flask import Flask, current_app, g, request
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from taskapp.schema import head_revision

log = logging.getLogger(__name__)
READ_METHODS = ("GET", "HEAD")

# Bound, never interpolated; run on the driver connection (its result is not read, so
# SQLAlchemy's result machinery has nothing to do for it).
SET_IDENTITY = "select set_config('app.user_id', %s, true)"
# A pooled connection is pinged before use only when it sat idle this long, or when its
# socket shows the server hung up; a busy pool skips the round trip (as pgx does).
PING_AFTER_IDLE_SECONDS = 1.0


def set_request_identity(session: Session, transaction, connection) -> None:
    """First statement of every transaction: the caller's identity, transaction-local.

    The third argument of set_config (`is_local = true`) ends the setting with the
    transaction, so a pooled connection never carries one user's identity into the
    next request. A session without identity sets nothing and RLS shows it no rows.
    """
    user_id = session.info.get("user_id")
    if user_id is None:
        return
    try:
        connection.connection.driver_connection.execute(SET_IDENTITY, (user_id,))
    except psycopg.Error as error:
        # Handled as SQLAlchemy handles its own statements' failures: a connection the
        # server dropped is invalidated (never rolled back or pooled again), and the error
        # is SQLAlchemy's (a lost server is an OperationalError, a 503).
        lost = connection.dialect.is_disconnect(error, connection.connection.dbapi_connection, None)
        if lost:
            connection.invalidate(error)
        raise DBAPIError.instance(SET_IDENTITY, (user_id,), error, psycopg.Error, connection_invalidated=lost) from None


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


class Database:
    """Flask extension owning the engine and the sessions built on it."""

    def init_app(self, app: Flask) -> None:
        engine = create_engine(
            app.config["DATABASE_URL"],
            pool_size=app.config["DATABASE_POOL_SIZE"],
            max_overflow=0,
            pool_timeout=app.config["DATABASE_POOL_TIMEOUT"],
            # A connection that died with the server is replaced, not handed to a request:
            # see ping_when_stale.
            pool_pre_ping=False,
            connect_args={
                "connect_timeout": app.config["DATABASE_CONNECT_TIMEOUT"],
                "application_name": "taskapp",
                # psycopg prepares a statement server-side after 5 runs; PgBouncer before
                # 1.21 in transaction mode cannot follow that (DATABASE_PREPARED_STATEMENTS=off).
                "prepare_threshold": 5 if app.config["DATABASE_PREPARED_STATEMENTS"] else None,
            },
        )
        ping_when_stale(engine)
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        event.listen(factory, "after_begin", set_request_identity)
        app.extensions["taskapp.db"] = {"engine": engine, "sessionmaker": factory}
        app.teardown_appcontext(close_session)

    @staticmethod
    def engine(app: Flask | None = None) -> Engine:
        return (app or current_app).extensions["taskapp.db"]["engine"]


db = Database()


def get_session() -> Session:
    """The request's session; its transactions carry the authenticated user's identity."""
    if "db_session" not in g:
        factory = current_app.extensions["taskapp.db"]["sessionmaker"]
        reads_only = bool(request) and request.method in READ_METHODS
        g.db_session = factory(info={"user_id": g.get("user_id"), "reads_only": reads_only})
    return g.db_session


def close_session(exc: BaseException | None = None) -> None:
    """End the request's transaction: COMMIT after a read, ROLLBACK of anything else uncommitted.

    A read's transaction changed nothing, so COMMIT and ROLLBACK end it alike; but psycopg
    forgets (and deallocates) every prepared statement on ROLLBACK, so ending reads with
    ROLLBACK would keep the most frequent queries from ever being prepared. Writes commit
    explicitly in their views; whatever they leave uncommitted (an error) is rolled back.
    """
    session = g.pop("db_session", None)
    if session is None:
        return
    try:
        if exc is None and session.info["reads_only"] and session.in_transaction():
            session.commit()
    except Exception as error:  # the answer is already made; the transaction is rolled back below
        log.warning("ending a read transaction failed: %s", error.__class__.__name__)
    try:
        session.close()
    except SQLAlchemyError as error:  # e.g. the server went away: the answer stands, the pool copes
        log.warning("closing the session failed: %s", error.__class__.__name__)


def migrated_revision() -> str | None:
    """The revision the database is at, read as the runtime role."""
    with Database.engine().connect() as connection:
        return connection.execute(text("select version_num from alembic_version")).scalar()


def is_ready() -> bool:
    """The database answers and its schema is at the code's head."""
    return migrated_revision() == head_revision()
