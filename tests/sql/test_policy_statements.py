"""The statements people forget, for every identity: MERGE, upserts, COPY, CTEs, subqueries,
EXISTS, prepared plans alternating identities (the shape of CVE-2024-10976), statistics and
row locks. All in SQL as taskapp_app, against Alice's one row."""

import psycopg
import pytest
from psycopg import errors

from tests.support.citus import CITUS_ADMIN_URL, node_url, workers
from tests.support.identity import act_as

IDENTITIES = ["owner", "other", "none", "forged"]
REFUSED = (errors.InsufficientPrivilege, errors.NotNullViolation, errors.CheckViolation)


def become(conn, who, alice, bob):
    """owner: Alice, proven; other: Bob, proven; none: nothing set; forged: Alice's id without proof."""
    if who == "owner":
        act_as(conn, alice)
    elif who == "other":
        act_as(conn, bob)
    elif who == "forged":
        conn.execute("select set_config('app.user_id', %s, true)", (alice,))


@pytest.fixture()
def alices_row(database, alice):
    with psycopg.connect(database.app_url) as conn:
        act_as(conn, alice.sub)
        return conn.execute("insert into tasks (title) values ('alice''s') returning id").fetchone()[0]


def admin_row_list(database, row) -> tuple:
    """The task's list, read by the schema's owner."""
    with psycopg.connect(database.admin_url) as conn:
        return conn.execute("select list_id from tasks where id = %s", (row,)).fetchone()


def alices_title(database, alice, alices_row) -> str:
    with psycopg.connect(database.app_url) as conn:
        act_as(conn, alice.sub)
        return conn.execute("select title from tasks where id = %s", (alices_row,)).fetchone()[0]


# Each statement's result as a number: rows returned or touched (EXISTS as 0 or 1).
COUNTED = {
    "merge": "merge into tasks t using (select %(id)s::uuid as id) s on t.id = s.id "
             "when matched then update set title = 'merged'",
    "merge that deletes": "merge into tasks t using (select %(id)s::uuid as id) s on t.id = s.id "
                          "when matched then delete",
    "cte": "with mine as (select * from tasks where id = %(id)s) select * from mine",
    "writable cte": "with changed as (update tasks set title = 'cte' where id = %(id)s returning id) "
                    "select * from changed",
    "subquery": "select * from (select id, title from tasks where id = %(id)s) s",
    "scalar subquery": "select (select title from tasks where id = %(id)s) where "
                       "(select title from tasks where id = %(id)s) is not null",
    "exists": "select 1 where exists (select 1 from tasks where id = %(id)s)",
    "in": "select 1 where %(id)s::uuid in (select id from tasks)",
}
SEEN_ONLY_BY_THE_OWNER = {"owner": 1, "other": 0, "none": 0, "forged": 0}
COUNTED_CASES = [(name, who) for name in COUNTED for who in IDENTITIES]


def run_counted(conn, sql, row):
    cursor = conn.execute(sql, {"id": row})
    return len(cursor.fetchall()) if cursor.description else cursor.rowcount


# What a Citus coordinator refuses, for every identity, verbatim: refused, it reaches nothing
# (specs/citus.md lists these limits of SQL written by hand on a cluster).
MERGE_ON_CITUS = (errors.InternalError_, "non-IMMUTABLE functions are not yet supported in MERGE")
GENERIC_PLAN_ON_CITUS = (errors.FeatureNotSupported, "could not create distributed plan")
FAN_OUT_LOCK_ON_CITUS = (errors.FeatureNotSupported, "could not run distributed query with FOR UPDATE/SHARE")


def refused_on_citus(name: str, mode: str | None = None) -> tuple | None:
    if not CITUS_ADMIN_URL:
        return None
    if mode == "force_generic_plan" and name in ("cte", "subquery", "exists", "merge"):
        return GENERIC_PLAN_ON_CITUS
    if name.startswith("merge"):
        return MERGE_ON_CITUS
    return None


@pytest.mark.parametrize("name, who", COUNTED_CASES, ids=[f"{n} as {w}" for n, w in COUNTED_CASES])
def test_only_the_owner_reaches_the_row(app_sql, alice, bob, alices_row, name, who):
    become(app_sql, who, alice.sub, bob.sub)
    if refused := refused_on_citus(name):
        with pytest.raises(refused[0], match=refused[1]):
            run_counted(app_sql, COUNTED[name], alices_row)
        return
    assert run_counted(app_sql, COUNTED[name], alices_row) == SEEN_ONLY_BY_THE_OWNER[who]


@pytest.mark.parametrize("who", IDENTITIES)
def test_an_upsert_on_alices_id_updates_only_for_alice(database, app_sql, alice, bob, alices_row, who):
    [alices_list] = admin_row_list(database, alices_row)
    become(app_sql, who, alice.sub, bob.sub)
    # On Citus tasks are keyed by (list_id, id): the conflict names both.
    upsert = ("insert into tasks (id, list_id, title) values (%s, %s, 'upserted') "
              f"on conflict ({'list_id, id' if CITUS_ADMIN_URL else 'id'}) "
              "do update set title = excluded.title returning title")
    if who == "owner":
        assert app_sql.execute(upsert, (alices_row, alices_list)).fetchall() == [("upserted",)]
        return
    with pytest.raises(REFUSED):
        app_sql.execute(upsert, (alices_row, alices_list))
    app_sql.rollback()
    assert alices_title(database, alice, alices_row) == "alice's"


@pytest.mark.parametrize("who", IDENTITIES)
def test_copy_to_writes_only_the_callers_rows(app_sql, alice, bob, alices_row, who):
    become(app_sql, who, alice.sub, bob.sub)
    with app_sql.cursor().copy("copy tasks (id, title) to stdout") as copy:
        rows = list(copy.rows())
    if CITUS_ADMIN_URL:
        # Citus copies a table from its shards over connections the identity does not reach:
        # nobody's rows (it fails closed). A query's rows are copied as the query sees them.
        assert rows == []
        with app_sql.cursor().copy("copy (select id, title from tasks) to stdout") as copy:
            rows = list(copy.rows())
    assert len(rows) == SEEN_ONLY_BY_THE_OWNER[who]


@pytest.mark.parametrize("who", IDENTITIES)
def test_copy_from_is_refused_under_row_level_security(app_sql, alice, bob, who):
    become(app_sql, who, alice.sub, bob.sub)
    with pytest.raises(errors.FeatureNotSupported, match="row-level security"):
        with app_sql.cursor().copy("copy tasks (title) from stdin") as copy:
            copy.write_row(("copied",))


PREPARED = {
    "cte": COUNTED["cte"],
    "subquery": COUNTED["subquery"],
    "exists": COUNTED["exists"],
    "merge": COUNTED["merge"],
    "upsert": "insert into tasks (id, title) values (%(id)s, 'x') on conflict (id) do nothing",
}
PLAN_MODES = ["force_generic_plan", "force_custom_plan"]
PREPARED_CASES = [(name, mode) for name in PREPARED for mode in PLAN_MODES]


@pytest.mark.parametrize("name, mode", PREPARED_CASES, ids=[f"{n} {m}" for n, m in PREPARED_CASES])
def test_a_prepared_statement_follows_each_transactions_identity(database, alice, bob, alices_row, name, mode):
    """One connection, one server-side prepared statement (PREPARE outlives every transaction),
    the identity changing from one transaction to the next."""
    expected = dict(SEEN_ONLY_BY_THE_OWNER)
    if name == "upsert":  # DO NOTHING: the conflict touches nothing; without a proven identity, refused
        expected = {"owner": 0, "other": 0}
    refused = refused_on_citus(name, mode)
    statement = PREPARED[name].replace("%(id)s", "$1")
    if CITUS_ADMIN_URL and name == "upsert":  # Citus keys tasks by (list_id, id): the row's list is named,
        expected = {"owner": 0}  # into which nobody else may insert
        statement = ("insert into tasks (id, list_id, title) values ($1, $2, 'x') "
                     "on conflict (list_id, id) do nothing")
    with psycopg.connect(database.app_url, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("set plan_cache_mode = {}").format(psycopg.sql.Literal(mode)))
        arguments = [alices_row]
        if "$2" in statement:
            arguments += admin_row_list(database, alices_row)
        conn.execute(f"prepare probe ({', '.join('uuid' for _ in arguments)}) as {statement}")
        execute = psycopg.sql.SQL("execute probe ({})").format(
            psycopg.sql.SQL(", ").join(psycopg.sql.Literal(str(value)) for value in arguments))
        for run in range(12):
            who = IDENTITIES[run % len(IDENTITIES)]
            with conn.transaction(force_rollback=True):
                become(conn, who, alice.sub, bob.sub)
                if refused:
                    with pytest.raises(refused[0], match=refused[1]):
                        conn.execute(execute)
                elif who in expected:
                    cursor = conn.execute(execute)
                    touched = len(cursor.fetchall()) if cursor.description else cursor.rowcount
                    assert touched == expected[who], f"run {run} as {who}"
                else:
                    with pytest.raises(REFUSED):
                        conn.execute(execute)
        plans = conn.execute("select generic_plans, custom_plans from pg_prepared_statements "
                             "where name = 'probe'").fetchone()
        assert refused or plans[0 if mode == "force_generic_plan" else 1] >= 9, plans


def test_statistics_show_the_runtime_role_nothing_of_tasks(database, admin_sql, app_sql, alices_row):
    if CITUS_ADMIN_URL:  # the rows, and so their statistics, are in the shards on the workers
        for host, port in workers(database.admin_url):
            with psycopg.connect(node_url(database.admin_url, host, port), autocommit=True) as admin, \
                    psycopg.connect(node_url(database.app_url, host, port)) as app:
                for conn in (admin, app):  # Citus leaves its shards out of the catalog unless asked
                    conn.execute("set citus.show_shards_for_app_name_prefixes = '*'")
                admin.execute("analyze")
                shards = "select count(*) from {} where tablename like 'tasks\\_%%'"
                assert admin.execute(shards.format("pg_stats")).fetchone()[0] > 0
                for view in ("pg_stats", "pg_stats_ext"):
                    assert app.execute(shards.format(view)).fetchone()[0] == 0
        return
    admin_sql.execute("analyze tasks")
    assert admin_sql.execute("select count(*) from pg_stats where tablename = 'tasks'").fetchone()[0] > 0
    for view in ("pg_stats", "pg_stats_ext"):
        assert app_sql.execute(f"select count(*) from {view} where tablename = 'tasks'").fetchone()[0] == 0


@pytest.mark.parametrize("who", ["other", "forged", "none"])
@pytest.mark.parametrize("statement", [
    "update tasks set title = 'waited' where id = %s",
    "select id from tasks where id = %s for update",
    "select id from tasks where id = %s for share nowait",
    "delete from tasks where id = %s",
], ids=["update", "select for update", "select for share nowait", "delete"])
def test_a_row_alice_locked_does_not_make_others_wait(database, alice, bob, alices_row, who, statement):
    """A lock must not become an existence oracle: others never reach the row, so never wait for it."""
    with psycopg.connect(database.app_url) as holder, psycopg.connect(database.app_url) as other:
        act_as(holder, alice.sub)
        # Naming the list as the application does (on Citus: one shard, where a lock is allowed).
        holder.execute("select id from tasks where list_id = %s and id = %s for update",
                       (*admin_row_list(database, alices_row), alices_row))
        other.execute("set lock_timeout = '100ms'")
        become(other, who, alice.sub, bob.sub)
        if CITUS_ADMIN_URL and " for " in statement:  # a lock across every shard: refused, at once
            with pytest.raises(FAN_OUT_LOCK_ON_CITUS[0], match=FAN_OUT_LOCK_ON_CITUS[1]):
                other.execute(statement, (alices_row,))
            return
        cursor = other.execute(statement, (alices_row,))
        touched = len(cursor.fetchall()) if cursor.description else cursor.rowcount
        assert touched == 0
