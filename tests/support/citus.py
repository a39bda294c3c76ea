"""A Citus cluster for the tests: TEST_CITUS_ADMIN_URL names a superuser of its coordinator.

The coordinator's database named there must have the citus extension with its workers added
(`citus_add_node`); a test database is then made on the coordinator and on every worker, with
the extension in each and the same workers added, as an operator would make one.
"""

import os

import psycopg
from psycopg import sql

from tests.support.users import with_database

CITUS_ADMIN_URL = os.environ.get("TEST_CITUS_ADMIN_URL")
SKIP_REASON = "TEST_CITUS_ADMIN_URL names no Citus coordinator"


def workers(admin_url: str) -> list[tuple[str, int]]:
    """The active workers of the coordinator's cluster."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        return conn.execute("SELECT node_name, node_port FROM citus_get_active_worker_nodes() ORDER BY 1, 2").fetchall()


def every_node(admin_url: str) -> list[tuple[str, int]]:
    """The coordinator (first) and its active workers."""
    coordinator = psycopg.conninfo.conninfo_to_dict(admin_url)
    return [(coordinator.get("host", "localhost"), int(coordinator.get("port", 5432))), *workers(admin_url)]


def node_url(admin_url: str, host: str, port: int, database: str | None = None) -> str:
    """The admin URL of one node: the coordinator's, with the node's host and port."""
    info = psycopg.conninfo.conninfo_to_dict(admin_url)
    info.update(host=host, port=str(port))
    if database is not None:
        info["dbname"] = database
    return psycopg.conninfo.make_conninfo(**info)


# Shards per distributed table in a test database: two per worker of a two-worker cluster, so
# that rows of different lists are on different shards of each node, while a statement that
# reads every shard stays quick enough for the suite (Citus's default is 32).
TEST_SHARDS = 4


def create_citus_database(admin_url: str, name: str, shards: int | None = TEST_SHARDS) -> str:
    """An empty distributed database `name`: made on every node, its workers added; with
    `shards`, db upgrade distributes each table in that many (else Citus's default)."""
    (coordinator, *nodes) = every_node(admin_url)
    for host, port in (coordinator, *nodes):
        with psycopg.connect(node_url(admin_url, host, port), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            if shards and (host, port) == coordinator:
                conn.execute(sql.SQL("ALTER DATABASE {} SET citus.shard_count = {}").format(
                    sql.Identifier(name), sql.Literal(shards)))
        with psycopg.connect(node_url(admin_url, host, port, name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION citus")
    url = with_database(admin_url, name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT citus_set_coordinator_host(%s, %s)", coordinator)
        for host, port in nodes:
            conn.execute("SELECT citus_add_node(%s, %s)", (host, port))
    return url


def drop_citus_database(admin_url: str, name: str) -> None:
    for host, port in every_node(admin_url):
        with psycopg.connect(node_url(admin_url, host, port), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
