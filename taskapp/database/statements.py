"""Executing statements: SQLAlchemy Core statements compiled once, run as text on psycopg.

Statements are SQLAlchemy Core, built once (the resources' queries.py). Each is compiled once
for psycopg (`compiled()`), and its text runs on the pooled driver connection inside the
transaction SQLAlchemy opened; rows come back as dicts. No ORM session sits in between
(nothing is mapped), and SQLAlchemy's per-execution machinery (cache lookup, execution
context, result objects) is skipped: it was a tenth of a request's instructions. Only
statements whose parameters and columns need no conversion by SQLAlchemy qualify, which
`compiled()` checks.
"""

from dataclasses import dataclass
from functools import cache

import psycopg
from sqlalchemy import ARRAY, JSON, Boolean, Connection, Enum
from sqlalchemy.dialects.postgresql.psycopg import dialect as psycopg_dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.types import TypeEngine


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


def as_sqlalchemy_error(connection: Connection, error: psycopg.Error, sql: str, parameters=None) -> DBAPIError:
    """A driver error as SQLAlchemy's own statements would raise it (to be raised by the caller).

    A connection the server dropped is invalidated (never rolled back or pooled again), and
    the error is SQLAlchemy's: a lost server is an OperationalError (503), a refused row an
    IntegrityError, and so on.
    """
    lost = connection.dialect.is_disconnect(error, connection.connection.dbapi_connection, None)
    if lost:
        connection.invalidate(error)
    return DBAPIError.instance(sql, parameters, error, psycopg.Error, connection_invalidated=lost)


def on_driver(connection: Connection, statement: ClauseElement, parameters: dict, row_factory) -> psycopg.Cursor:
    """Run a built statement on the connection's psycopg connection, in its open transaction."""
    query = compiled(statement)
    values = {**query.literals, **parameters}
    try:
        return connection.connection.driver_connection.cursor(row_factory=row_factory).execute(query.sql, values)
    except psycopg.Error as error:
        raise as_sqlalchemy_error(connection, error, query.sql, values) from None
