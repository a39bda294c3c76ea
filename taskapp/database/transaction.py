"""The request's transaction: its one connection, running statements on it, and committing.

A request borrows one connection on its first statement; each transaction on it acts as the
caller (taskapp.database.engine). Writes commit with `commit()`, the one way to commit;
whatever a request leaves uncommitted (an error) is rolled back when its connection goes
back to the pool.
"""

import logging
from contextlib import contextmanager

import psycopg
from flask import Flask, g, request
from psycopg.rows import dict_row
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql import ClauseElement

from taskapp.database.engine import CALLER, Database
from taskapp.database.statements import on_driver
from taskapp.identity.proof import on_citus

log = logging.getLogger(__name__)
READ_METHODS = ("GET", "HEAD")


def get_connection() -> Connection:
    """The request's connection; its transactions carry the authenticated user's identity."""
    if "db_connection" not in g:
        connection = Database.engine().connect()
        g.db_connection = connection.execution_options(**{CALLER: g.get("user_id")})
        g.db_reads_only = bool(request) and request.method in READ_METHODS
    return g.db_connection


def in_transaction() -> Connection:
    """The request's connection inside a transaction (begun, as the caller, if none is open)."""
    connection = get_connection()
    if not connection.in_transaction():
        connection.begin()
    return connection


def execute(statement: ClauseElement, parameters: dict) -> psycopg.Cursor:
    """Run a statement in the request's transaction."""
    return on_driver(in_transaction(), statement, parameters, dict_row)


def rows(statement: ClauseElement, parameters: dict) -> list[dict]:
    """Every row the statement returns, as dicts."""
    return execute(statement, parameters).fetchall()


def first(statement: ClauseElement, parameters: dict) -> dict | None:
    """The statement's first row as a dict, or None."""
    return execute(statement, parameters).fetchone()


def distributed() -> bool:
    """Whether the request's database is a Citus coordinator's: some statements must then name
    the list they are about (specs/citus.md)."""
    # Acting as the caller, as every transaction begins, asks once per connection.
    return bool(on_citus(in_transaction().connection.driver_connection))


def hold_commit() -> None:
    """Commit nothing before the answer is made: it is stored with the write (taskapp.web.idempotency)."""
    g.db_commit_held = True


def release_commit() -> None:
    """Let `commit()` commit again (the held answer is stored)."""
    g.db_commit_held = False


def commit() -> None:
    """Commit the request's transaction: the one way to commit.

    While the commit is held (hold_commit), it does nothing: the write then commits with its
    stored answer, when the idempotency layer releases it and commits.
    """
    if g.get("db_commit_held"):
        return
    connection = g.get("db_connection")
    if connection is not None and connection.in_transaction():
        connection.commit()


def roll_back() -> None:
    """Undo the request's transaction after the database refused a statement in it (the next
    statement begins a new one, as the caller): to find out why, or to answer without it.

    Inside a savepoint (one operation of a batch, `in_savepoint`) only that savepoint is undone:
    what the batch's earlier operations wrote stays, so the answer is the one the operation's
    single route would give after them."""
    g.db_rollbacks = rolled_back() + 1
    savepoint = g.get("db_savepoint")
    if savepoint is not None:
        if savepoint.is_active:
            savepoint.rollback()
        g.db_savepoint = savepoint.connection.begin_nested()
        return
    connection = g.get("db_connection")
    if connection is not None and connection.in_transaction():
        connection.rollback()


def rolled_back() -> int:
    """How many times `roll_back()` undid statements of the request so far."""
    return g.get("db_rollbacks", 0)


@contextmanager
def in_savepoint():
    """The block's statements in a savepoint of the request's transaction, which `roll_back()`
    undoes alone; released when the block ends without an error (an error leaves it to the
    transaction's own end)."""
    g.db_savepoint = in_transaction().begin_nested()
    try:
        yield
        g.db_savepoint.commit()
    finally:
        g.pop("db_savepoint", None)


def end_request(exc: BaseException | None = None) -> None:
    """End the request's transaction: COMMIT after a read, ROLLBACK of anything else uncommitted.

    A read's transaction changed nothing, so COMMIT and ROLLBACK end it alike; but psycopg
    forgets (and deallocates) every prepared statement on ROLLBACK, so ending reads with
    ROLLBACK would keep the most frequent queries from ever being prepared.
    """
    if "db_connection" not in g:
        return
    try:
        if exc is None and g.get("db_reads_only"):
            commit()
    except Exception as error:  # the answer is already made; the transaction is rolled back below
        log.warning("ending a read transaction failed: %s", error.__class__.__name__)
    connection = g.pop("db_connection")
    g.pop("db_reads_only", None)
    g.pop("db_commit_held", None)
    try:
        connection.close()
    except SQLAlchemyError as error:  # e.g. the server went away: the answer stands, the pool copes
        log.warning("closing the connection failed: %s", error.__class__.__name__)


def init_app(app: Flask) -> None:
    app.teardown_appcontext(end_request)
