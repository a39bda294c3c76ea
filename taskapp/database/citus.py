"""A Citus cluster: what `taskapp db upgrade` does besides the migrations when it finds one.

The migrations make the single-node schema on the coordinator. On a database with the citus
extension, db upgrade then distributes it once (sql/citus.sql), writes the policies in the
form Citus accepts after every upgrade (sql/citus_policies.sql: a migration writes the
single-node form), and copies the identity keys to every worker, whose policies verify the
identity with them (specs/citus.md).
"""

import re
from importlib.resources import files

from psycopg import sql
from sqlalchemy import text
from sqlalchemy.engine import Connection

from taskapp.identity.proof import IS_CITUS

SQL_DIR = files("taskapp.sql")
DISTRIBUTE_SQL = SQL_DIR / "citus.sql"
POLICIES_SQL = SQL_DIR / "citus_policies.sql"
NODES_SQL = SQL_DIR / "citus_nodes.sql"

IS_DISTRIBUTED = text("select exists (select from pg_dist_partition where logicalrelid = 'public.tasks'::regclass)")
KEYS = text("select key_id, inner_pad, outer_pad, added_at from taskapp_private.identity_keys order by key_id")


# What a statement may hold that a semicolon does not end: a comment, a quoted string or
# identifier, a dollar-quoted body.
_UNSPLIT = re.compile(r"--[^\n]*|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|(\$[A-Za-z_0-9]*\$)(?s:.*?)\1|;")


def statements(script: str) -> list[str]:
    """The statements of an SQL file, one by one: Citus sends a DDL statement to the workers as
    the text it came in, and a worker refuses a text of several (as a prepared statement)."""
    found, start = [], 0
    for match in _UNSPLIT.finditer(script):
        if match.group(0) == ";":
            found.append(script[start:match.end()])
            start = match.end()
    found.append(script[start:])
    return [statement for statement in found if _UNSPLIT.sub("", statement).strip()]


def run(connection: Connection, script: str) -> None:
    """Each statement of `script`, without parameters (no placeholders are looked for)."""
    raw = connection.connection.driver_connection
    for statement in statements(script):
        raw.execute(statement)


def is_citus(connection: Connection) -> bool:
    """Whether the database is a Citus coordinator's (the extension is installed)."""
    return connection.execute(text(IS_CITUS)).scalar()


def distribute(connection: Connection) -> None:
    """Distribute the schema (once) and write the Citus forms of the policies (every time).

    Then nodes() after the transaction commits: the workers see the distributed schema only then.
    """
    # First the policies: Citus refuses to distribute a table whose policy has a subquery.
    run(connection, POLICIES_SQL.read_text())
    if not connection.execute(IS_DISTRIBUTED).scalar():
        run(connection, DISTRIBUTE_SQL.read_text())


def nodes(connection: Connection) -> None:
    """Give every worker the private tables its shards' policies and triggers read (idempotent)."""
    run(connection, NODES_SQL.read_text())


def copy_identity_keys(connection: Connection) -> None:
    """Make every worker's identity keys the coordinator's: the same keys, no others."""
    raw = connection.connection.driver_connection
    rows = [sql.SQL("({}, {}::bytea, {}::bytea, {}::timestamptz)").format(
                sql.Literal(key_id), sql.Literal(bytes(inner)), sql.Literal(bytes(outer)), sql.Literal(added))
            for key_id, inner, outer, added in connection.execute(KEYS)]
    # One statement: run_command_on_workers sends it as one.
    statement = sql.SQL(
        "WITH keys (key_id, inner_pad, outer_pad, added_at) AS (VALUES {}), "
        "gone AS (DELETE FROM taskapp_private.identity_keys k WHERE k.key_id NOT IN (SELECT key_id FROM keys)) "
        "INSERT INTO taskapp_private.identity_keys (key_id, inner_pad, outer_pad, added_at) "
        "SELECT * FROM keys ON CONFLICT (key_id) DO NOTHING"
    ).format(sql.SQL(", ").join(rows)) if rows else sql.SQL("DELETE FROM taskapp_private.identity_keys")
    failed = connection.execute(
        text("select nodename, nodeport, result from run_command_on_workers(:command) where not success"),
        {"command": statement.as_string(raw)},
    ).all()
    if failed:
        raise RuntimeError("could not copy the identity keys to "
                           + ", ".join(f"{host}:{port} ({result})" for host, port, result in failed))
