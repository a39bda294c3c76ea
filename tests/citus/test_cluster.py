"""taskapp distributed on a Citus cluster: the design sql/citus.sql lays out, seen on a real one.

Run when TEST_CITUS_ADMIN_URL names a coordinator (tests/support/citus.py); the rest of the
suite then runs through the same coordinator.
"""

import json
import uuid

import psycopg
import pytest
from psycopg import sql

from taskapp.database import audit
from tests.support.citus import CITUS_ADMIN_URL, SKIP_REASON, node_url, workers
from tests.support.identity import IDENTITY_KEY, act_as

pytestmark = pytest.mark.skipif(not CITUS_ADMIN_URL, reason=SKIP_REASON)

BY_LIST = {"lists", "list_members", "list_invitations", "list_departures", "tasks", "task_completions",
           "task_deletions", "webhook_deliveries", "webhook_attempts", "taskapp_queue.jobs"}


def worker_urls(database) -> list[str]:
    name = psycopg.conninfo.conninfo_to_dict(database.admin_url)["dbname"]
    return [node_url(CITUS_ADMIN_URL, host, port, name) for host, port in workers(CITUS_ADMIN_URL)]


def test_every_list_table_lives_with_its_list_webhooks_everywhere_idempotency_keys_by_user(admin_sql):
    placed = {str(table): (method, column, group) for table, method, column, group in admin_sql.execute(
        "select logicalrelid::regclass, partmethod, column_to_column_name(logicalrelid, partkey), colocationid"
        " from pg_dist_partition")}
    lists_group = placed["lists"][2]
    assert placed["lists"][:2] == ("h", "id")
    for table in BY_LIST - {"lists"}:
        assert placed[table] == ("h", "list_id", lists_group), table
    assert placed["webhooks"][0] == "n"  # a reference table: a copy on every node
    assert placed["idempotency_keys"][:2] == ("h", "user_id")
    assert set(placed) == BY_LIST | {"webhooks", "idempotency_keys"}


def test_every_key_of_a_distributed_table_holds_its_distribution_column_and_leads_with_its_owner(admin_sql):
    keys = admin_sql.execute("""
        select c.conrelid::regclass::text, c.conname, c.contype, column_to_column_name(p.logicalrelid, p.partkey),
               array(select a.attname::text from unnest(c.conkey) with ordinality k (attnum, place)
                     join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum order by k.place)
        from pg_constraint c join pg_dist_partition p on p.logicalrelid = c.conrelid
        where c.contype in ('p', 'u', 'x', 'f') and p.partmethod = 'h'""").fetchall()
    assert keys
    for table, name, kind, column, columns in keys:
        # (A foreign key to the reference table of webhooks needs no distribution column.)
        assert column in columns or (kind == "f" and name == "webhook_deliveries_webhook_fkey"), (table, name)
        assert columns[0] in ("list_id", "user_id") or (table, columns[0]) == ("lists", "id"), (table, name)


def test_every_worker_keeps_the_identity_keys_and_the_runtime_roles_read_none_of_its_private_tables(database):
    for url in worker_urls(database):
        with psycopg.connect(url) as conn:
            assert conn.execute("select key_id from taskapp_private.identity_keys").fetchall() == [
                (IDENTITY_KEY.key_id,)]
            for table in ("identity_keys", "memberships", "subscriptions"):
                for role in ("taskapp_app", "taskapp_worker"):
                    assert not conn.execute("select has_table_privilege(%s, %s, 'SELECT')",
                                            (role, f"taskapp_private.{table}")).fetchone()[0]


def test_a_task_written_through_the_coordinator_is_verified_on_its_worker(database, create_task, alice, bob):
    task = create_task(alice, title="on a worker")
    with psycopg.connect(database.app_url) as conn:
        with conn.transaction():
            act_as(conn, alice.sub)
            assert conn.execute("select title from tasks where id = %s", (task["id"],)).fetchall() == [
                ("on a worker",)]
        with conn.transaction():
            act_as(conn, bob.sub)
            assert conn.execute("select count(*) from tasks where id = %s", (task["id"],)).fetchone()[0] == 0


@pytest.mark.parametrize("proof", ["forged", "another key", "none"])
def test_an_identity_set_local_without_a_valid_proof_sees_nothing_on_the_workers(database, create_task, alice, proof):
    """SET LOCAL reaches the workers (unlike set_config): what they believe is still only a proof."""
    task = create_task(alice)
    made = {"forged": "v1." + IDENTITY_KEY.key_id + ".9999999999." + "0" * 64,
            "another key": IDENTITY_KEY.proof(alice.sub).replace(IDENTITY_KEY.key_id, "0123456789abcdef"),
            "none": ""}[proof]
    with psycopg.connect(database.app_url) as conn, conn.transaction():
        conn.execute(sql.SQL("SET LOCAL citus.propagate_set_commands = 'local'; SET LOCAL app.user_id = {};"
                             " SET LOCAL app.identity_proof = {}").format(sql.Literal(alice.sub), sql.Literal(made)))
        assert conn.execute("select count(*) from tasks").fetchone()[0] == 0
        assert conn.execute("update tasks set title = 'taken' where id = %s", (task["id"],)).rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("insert into tasks (list_id, title) values (%s, 'slipped in')", (task["list_id"],))


def explain(conn, statement, params) -> str:
    return json.dumps(conn.execute("explain (format json) " + statement, params).fetchone()[0])


def test_a_request_about_one_list_touches_one_shard(database, create_task, alice):
    task = create_task(alice)
    with psycopg.connect(database.app_url) as conn, conn.transaction():
        act_as(conn, alice.sub)
        one = explain(conn, "select * from tasks where list_id = %s and id = %s", (task["list_id"], task["id"]))
        every = explain(conn, "select * from tasks where id = %s", (task["id"],))
    assert '"Task Count": 1' in one
    assert '"Task Count": 1,' not in every and '"Task Count": ' in every


def test_the_inbox_is_one_per_user_by_its_id(database, create_task, alice):
    first, second = create_task(alice), create_task(alice)
    assert first["list_id"] == second["list_id"]
    with psycopg.connect(database.app_url) as conn, conn.transaction():
        act_as(conn, alice.sub)
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("insert into lists (id, name, personal_of) values (%s, 'Inbox', %s)",
                         (first["list_id"], alice.sub))
    with psycopg.connect(database.app_url) as conn, conn.transaction():
        act_as(conn, alice.sub)
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("insert into lists (id, name, personal_of) values (%s, 'Inbox', %s)",
                         (uuid.uuid4(), alice.sub))


def test_the_audit_passes_the_distributed_database(database):
    report, passed = audit.report(database.admin_url)
    assert passed, report.splitlines()[-1]
