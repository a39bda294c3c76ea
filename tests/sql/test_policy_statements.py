"""The statements people forget, for every identity: MERGE, upserts, COPY, CTEs, subqueries,
EXISTS, prepared plans alternating identities (the shape of CVE-2024-10976), statistics and
row locks. All in SQL as taskapp_app, against Alice's one row."""

import psycopg
import pytest
from psycopg import errors

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


@pytest.mark.parametrize("name, who", COUNTED_CASES, ids=[f"{n} as {w}" for n, w in COUNTED_CASES])
def test_only_the_owner_reaches_the_row(app_sql, alice, bob, alices_row, name, who):
    become(app_sql, who, alice.sub, bob.sub)
    assert run_counted(app_sql, COUNTED[name], alices_row) == SEEN_ONLY_BY_THE_OWNER[who]


@pytest.mark.parametrize("who", IDENTITIES)
def test_an_upsert_on_alices_id_updates_only_for_alice(database, app_sql, alice, bob, alices_row, who):
    become(app_sql, who, alice.sub, bob.sub)
    upsert = ("insert into tasks (id, title) values (%s, 'upserted') "
              "on conflict (id) do update set title = excluded.title returning title")
    if who == "owner":
        assert app_sql.execute(upsert, (alices_row,)).fetchall() == [("upserted",)]
        return
    with pytest.raises(REFUSED):
        app_sql.execute(upsert, (alices_row,))
    app_sql.rollback()
    assert alices_title(database, alice, alices_row) == "alice's"


@pytest.mark.parametrize("who", IDENTITIES)
def test_copy_to_writes_only_the_callers_rows(app_sql, alice, bob, alices_row, who):
    become(app_sql, who, alice.sub, bob.sub)
    with app_sql.cursor().copy("copy tasks (id, title) to stdout") as copy:
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
    with psycopg.connect(database.app_url, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("set plan_cache_mode = {}").format(psycopg.sql.Literal(mode)))
        conn.execute("prepare probe (uuid) as " + PREPARED[name].replace("%(id)s", "$1"))
        execute = psycopg.sql.SQL("execute probe ({})").format(psycopg.sql.Literal(str(alices_row)))
        for run in range(12):
            who = IDENTITIES[run % len(IDENTITIES)]
            with conn.transaction(force_rollback=True):
                become(conn, who, alice.sub, bob.sub)
                if who in expected:
                    cursor = conn.execute(execute)
                    touched = len(cursor.fetchall()) if cursor.description else cursor.rowcount
                    assert touched == expected[who], f"run {run} as {who}"
                else:
                    with pytest.raises(REFUSED):
                        conn.execute(execute)
        plans = conn.execute("select generic_plans, custom_plans from pg_prepared_statements "
                             "where name = 'probe'").fetchone()
        assert plans[0 if mode == "force_generic_plan" else 1] >= 9, plans


def test_statistics_show_the_runtime_role_nothing_of_tasks(database, admin_sql, app_sql, alices_row):
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
        holder.execute("select id from tasks where id = %s for update", (alices_row,))
        other.execute("set lock_timeout = '100ms'")
        become(other, who, alice.sub, bob.sub)
        cursor = other.execute(statement, (alices_row,))
        touched = len(cursor.fetchall()) if cursor.description else cursor.rowcount
        assert touched == 0
