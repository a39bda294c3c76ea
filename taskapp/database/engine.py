"""The engine: the Flask extension that owns the pool, and the identity every transaction begins with.

Views never build connections or set identity themselves: they run statements through
taskapp.database.transaction, whose connection carries the caller, and every transaction
SQLAlchemy begins on it starts by acting as that caller (taskapp.identity.proof.act_as).
"""

import psycopg
from flask import Flask, current_app
from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine

from taskapp.database.sessions import connect_options, ping_when_stale, utc_sessions
from taskapp.database.statements import as_sqlalchemy_error
from taskapp.identity.proof import SET_IDENTITY, IdentityKey, act_as

# The execution option that carries a connection's caller; set on the request's own
# Connection object only, never on the pooled DBAPI connection it borrows.
CALLER = "taskapp_user_id"


def act_as_caller(connection: Connection, key: IdentityKey) -> None:
    """First statement of every transaction: the caller's identity and its proof, transaction-local.

    A connection without a caller sets nothing, and row-level security shows it no rows.
    """
    user_id = connection.get_execution_options().get(CALLER)
    if user_id is not None:
        try:
            act_as(connection.connection.driver_connection, key, user_id)
        except psycopg.Error as error:
            raise as_sqlalchemy_error(connection, error, SET_IDENTITY) from None


class Database:
    """Flask extension owning the engine; its transactions act as the request's caller."""

    def init_app(self, app: Flask) -> None:
        config = app.config
        engine = create_engine(
            config["DATABASE_URL"],
            pool_size=config["DATABASE_POOL_SIZE"],
            max_overflow=0,
            pool_timeout=config["DATABASE_POOL_TIMEOUT"],
            # A connection that died with the server is replaced, not handed to a request:
            # see ping_when_stale.
            pool_pre_ping=False,
            connect_args=connect_options("taskapp", config["DATABASE_CONNECT_TIMEOUT"],
                                         config["DATABASE_PREPARED_STATEMENTS"]),
        )
        ping_when_stale(engine)
        utc_sessions(engine)
        key = IdentityKey(config["TASKAPP_IDENTITY_KEY"])
        # Every transaction, begun explicitly or by the first statement after a commit.
        event.listen(engine, "begin", lambda connection: act_as_caller(connection, key))
        app.extensions["taskapp.db"] = {"engine": engine, "identity_key": key}

    @staticmethod
    def engine(app: Flask | None = None) -> Engine:
        return (app or current_app).extensions["taskapp.db"]["engine"]

    @staticmethod
    def identity_key(app: Flask | None = None) -> IdentityKey:
        return (app or current_app).extensions["taskapp.db"]["identity_key"]


db = Database()
