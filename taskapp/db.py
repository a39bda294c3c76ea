"""The database layer: engine, per-request connection, and the per-transaction identity hook.

Views never build connections or set identity themselves: they run statements with `rows()`
and `first()` on the request's connection (`get_connection()`), whose every transaction
begins with `set_request_identity`.

Statements are SQLAlchemy Core, built once (taskapp/tasks/queries.py, listing.py). Each is
compiled once for psycopg (`compiled()`), and its text runs on the pooled driver connection
inside the transaction SQLAlchemy opened; rows come back as dicts. No ORM session sits in
between (nothing is mapped), and SQLAlchemy's per-execution machinery (cache lookup,
execution context, result objects) is skipped: it was a tenth of a request's instructions.
Only statements whose parameters and columns need no conversion by SQLAlchemy qualify, which
`compiled()` checks.
"""

import logging
import select
import time
from dataclasses import dataclass
from functools import cache

import psycopg
from flask import Flask, current_app, g, request
from psycopg.rows import dict_row
from sqlalchemy import ARRAY, JSON, Boolean, Connection, Enum, create_engine, event, text
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, SQLAlchemyError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.types import TypeEngine

from taskapp.identity import IdentityKey
from taskapp.schema import head_revision

log = logging.getLogger(__name__)
READ_METHODS = ("GET", "HEAD")
# The execution option that carries a connection's caller; set on the request's own
# Connection object only, never on the pooled DBAPI connection it borrows.
IDENTITY = "taskapp_user_id"

# Bound, never interpolated. The proof is what makes the database believe the user id
# (taskapp/identity.py; verified_user_id() in sql/01_schema.sql).
SET_IDENTITY = "select set_config('app.user_id', %s, true), set_config('app.identity_proof', %s, true)"
# A pooled connection is pinged before use only when it sat idle this long, or when its
# socket shows the server hung up; a busy pool skips the round trip (as pgx does).
PING_AFTER_IDLE_SECONDS = 1.0


def set_request_identity(connection: Connection, key: IdentityKey) -> None:
    """First statement of every transaction: the caller's identity and its proof, transaction-local.

    The third argument of set_config (`is_local = true`) ends the settings with the
    transaction, so a pooled connection never carries one user's identity into the
    next request. A connection without identity sets nothing and RLS shows it no rows.
    """
    user_id = connection.get_execution_options().get(IDENTITY)
    if user_id is not None:
        on_driver(connection, SET_IDENTITY, (user_id, key.proof(user_id)))


def begin_as(driver_connection: psycopg.Connection, key: IdentityKey, user_id: str) -> None:
    """The same first statement on a plain psycopg connection (the worker's), in its open transaction."""
    driver_connection.execute(SET_IDENTITY, (user_id, key.proof(user_id)))


def on_driver(connection: Connection, sql: str, parameters, row_factory=None) -> psycopg.Cursor:
    """Run SQL on the connection's psycopg connection, failing as SQLAlchemy's own statements do.

    A connection the server dropped is invalidated (never rolled back or pooled again), and
    the error is SQLAlchemy's: a lost server is an OperationalError (503), a refused row an
    IntegrityError, and so on.
    """
    driver = connection.connection.driver_connection
    try:
        cursor = driver.cursor(row_factory=row_factory) if row_factory else driver.cursor()
        return cursor.execute(sql, parameters)
    except psycopg.Error as error:
        lost = connection.dialect.is_disconnect(error, connection.connection.dbapi_connection, None)
        if lost:
            connection.invalidate(error)
        raise DBAPIError.instance(sql, parameters, error, psycopg.Error, connection_invalidated=lost) from None


@dataclass(frozen=True)
class Compiled:
    """A statement's text for psycopg, and the values of the literals SQLAlchemy bound in it."""

    sql: str
    literals: dict


DIALECT = psycopg_dialect()


def passes_through(type_: TypeEngine) -> bool:
    """SQLAlchemy would hand values of this type to and from psycopg unchanged.

    True of types without processors, of booleans and enums of plain strings (their
    processors only check or look up the value) and of arrays of such types (theirs only
    rebuild the list).
    """
    if isinstance(type_, ARRAY):
        return passes_through(type_.item_type)
    if isinstance(type_, Enum):
        return type_.enum_class is None
    if isinstance(type_, Boolean):
        return True
    return type_._cached_bind_processor(DIALECT) is None and type_._cached_result_processor(DIALECT, None) is None


@cache
def compiled(statement: ClauseElement) -> Compiled:
    """The statement compiled once for psycopg.

    Refused (TypeError) if SQLAlchemy would convert a parameter or a column value, or render
    a parameter into the text per execution: such a statement cannot run as plain text. The
    statements given here are built once (module constants, or cached per shape), so this
    cache stays as small as they are few.
    """
    result = statement.compile(dialect=DIALECT)
    types = [bind.type for bind in result.binds.values()] + [
        column.type for column in result._result_columns if not isinstance(column.type, JSON)
    ]  # JSON columns come back as psycopg parses them (SQLAlchemy converts only what it binds)
    if result.literal_execute_params or result.post_compile_params or not all(map(passes_through, types)):
        raise TypeError(f"not a plain statement: {result.string}")
    literals = {name: value for name, value in result.construct_params(_check=False).items() if value is not None}
    return Compiled(result.string, literals)


def run(statement: ClauseElement, parameters: dict) -> psycopg.Cursor:
    """Run a statement in the request's transaction (begun, with identity, if none is open)."""
    connection = get_connection()
    if not connection.in_transaction():
        connection.begin()
    query = compiled(statement)
    return on_driver(connection, query.sql, {**query.literals, **parameters}, dict_row)


def rows(statement: ClauseElement, parameters: dict) -> list[dict]:
    """Every row the statement returns, as dicts."""
    return run(statement, parameters).fetchall()


def first(statement: ClauseElement, parameters: dict) -> dict | None:
    """The statement's first row as a dict, or None."""
    return run(statement, parameters).fetchone()


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


UTC_NAMES = ("UTC", "Etc/UTC")


def utc_sessions(engine: Engine) -> None:
    """Every connection's session time zone is UTC, so timestamps arrive as UTC datetimes.

    The JSON writer (taskapp/jsonio.py) then writes them as they come, with a `Z`, instead of
    converting each one in Python. Set once per connection, only when the server's default is
    another zone; TimeZone is one of the settings PgBouncer keeps per client, so it survives
    transaction pooling.
    """

    @event.listens_for(engine, "connect")
    def in_utc(driver_connection, record):
        if driver_connection.info.parameter_status("TimeZone") not in UTC_NAMES:
            driver_connection.execute("set time zone 'UTC'")
            driver_connection.commit()


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
        utc_sessions(engine)
        key = IdentityKey(app.config["TASKAPP_IDENTITY_KEY"])

        # Every transaction, begun explicitly or by the first statement after a commit.
        @event.listens_for(engine, "begin")
        def identify(connection):
            set_request_identity(connection, key)

        app.extensions["taskapp.db"] = {"engine": engine, "identity_key": key}
        app.teardown_appcontext(close_connection)

    @staticmethod
    def engine(app: Flask | None = None) -> Engine:
        return (app or current_app).extensions["taskapp.db"]["engine"]


db = Database()


def get_connection() -> Connection:
    """The request's connection; its transactions carry the authenticated user's identity."""
    if "db_connection" not in g:
        connection = Database.engine().connect()
        g.db_connection = connection.execution_options(**{IDENTITY: g.get("user_id")})
        g.db_reads_only = bool(request) and request.method in READ_METHODS
    return g.db_connection


def close_connection(exc: BaseException | None = None) -> None:
    """End the request's transaction: COMMIT after a read, ROLLBACK of anything else uncommitted.

    A read's transaction changed nothing, so COMMIT and ROLLBACK end it alike; but psycopg
    forgets (and deallocates) every prepared statement on ROLLBACK, so ending reads with
    ROLLBACK would keep the most frequent queries from ever being prepared. Writes commit
    explicitly in their views; whatever they leave uncommitted (an error) is rolled back
    when the connection goes back to the pool.
    """
    connection = g.pop("db_connection", None)
    reads_only = g.pop("db_reads_only", False)
    if connection is None:
        return
    try:
        if exc is None and reads_only and connection.in_transaction():
            connection.commit()
    except Exception as error:  # the answer is already made; the transaction is rolled back below
        log.warning("ending a read transaction failed: %s", error.__class__.__name__)
    try:
        connection.close()
    except SQLAlchemyError as error:  # e.g. the server went away: the answer stands, the pool copes
        log.warning("closing the connection failed: %s", error.__class__.__name__)


MIGRATED_REVISION = text("select version_num from alembic_version")


def is_ready() -> bool:
    """The database answers, its schema is at the code's head, and it accepts our identity key.

    Asked as the runtime role, on one connection.
    """
    from taskapp.safety import identity_problem

    with Database.engine().connect() as connection:
        if connection.execute(MIGRATED_REVISION).scalar() != head_revision():
            return False
        return identity_problem(connection, current_app.extensions["taskapp.db"]["identity_key"]) is None
