"""Row-level security proven in SQL, as taskapp_app, with identity set exactly as the app sets it."""

import psycopg
import pytest
from psycopg import errors

from tests.support.citus import CITUS_ADMIN_URL
from tests.support.identity import act_as


def as_user(conn, sub):
    """Begin a transaction carrying `sub` as identity, proven (None leaves both settings NULL)."""
    act_as(conn, sub)


def insert_task(conn, title="t"):
    return conn.execute("insert into tasks (title) values (%s) returning id, user_id", (title,)).fetchone()


@pytest.fixture()
def alices_task(app_sql, alice):
    as_user(app_sql, alice.sub)
    task_id, owner = insert_task(app_sql, "alice's")
    assert owner == alice.sub
    app_sql.commit()
    return task_id


def test_runtime_role_can_never_bypass_rls(admin_sql):
    role = admin_sql.execute(
        "select rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, rolcanlogin "
        "from pg_roles where rolname = 'taskapp_app'"
    ).fetchone()
    assert role == (False, False, False, False, True)


def test_runtime_role_owns_nothing_and_cannot_truncate(admin_sql):
    owner = admin_sql.execute("select tableowner from pg_tables where tablename = 'tasks'").fetchone()[0]
    assert owner != "taskapp_app"
    owned = admin_sql.execute(
        "select count(*) from pg_class c join pg_roles r on r.oid = c.relowner "
        "where r.rolname = 'taskapp_app'"
    ).fetchone()[0]
    assert owned == 0
    privileges = admin_sql.execute(
        "select array_agg(privilege_type::text order by privilege_type) "
        "from information_schema.role_table_grants "
        "where grantee = 'taskapp_app' and table_name = 'tasks'"
    ).fetchone()[0]
    assert privileges == ["DELETE", "INSERT", "SELECT", "UPDATE"]


def test_tasks_has_rls_enabled_and_forced(admin_sql):
    flags = admin_sql.execute(
        "select relrowsecurity, relforcerowsecurity from pg_class where relname = 'tasks'"
    ).fetchone()
    assert flags == (True, True)


def test_every_policy_reads_the_verified_identity(admin_sql):
    policies = admin_sql.execute(
        "select policyname, cmd, qual, with_check from pg_policies where tablename = 'tasks'"
    ).fetchall()
    assert {cmd for _, cmd, _, _ in policies} == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    for name, _cmd, using, check in policies:
        for expression in (using, check):
            if expression is not None:
                if CITUS_ADMIN_URL:  # Citus's form: no subquery (refused), per row on the workers
                    assert "lists_where_i_am(" in expression and "SELECT" not in expression, name
                else:  # the lists the verified identity may see, once per statement
                    assert "( SELECT lists_where_i_am(" in expression, name
                assert "current_setting" not in expression, name
    update = next(p for p in policies if p[1] == "UPDATE")
    assert update[2] is not None and update[3] is not None, "UPDATE needs USING and WITH CHECK"


def test_truncate_is_refused_to_the_runtime_role(app_sql):
    with pytest.raises(errors.InsufficientPrivilege):
        app_sql.execute("truncate tasks")


@pytest.mark.parametrize("identity", ["unset", None, ""], ids=["unset", "null", "empty"])
def test_without_identity_no_row_is_visible_and_none_can_be_inserted(
    app_sql, alices_task, identity
):
    if identity != "unset":
        as_user(app_sql, identity)
    assert app_sql.execute("select count(*) from tasks").fetchone()[0] == 0
    with pytest.raises((errors.InsufficientPrivilege, errors.NotNullViolation, errors.CheckViolation)):
        insert_task(app_sql)


@pytest.mark.parametrize("identity", ["unset", None, ""], ids=["unset", "null", "empty"])
def test_without_identity_nothing_can_be_changed_or_deleted(app_sql, alices_task, identity):
    if identity != "unset":
        as_user(app_sql, identity)
    assert app_sql.execute("update tasks set title = 'x' where id = %s", (alices_task,)).rowcount == 0
    assert app_sql.execute("delete from tasks where id = %s", (alices_task,)).rowcount == 0


def test_an_insert_naming_another_owner_is_refused(app_sql, alice, bob):
    as_user(app_sql, alice.sub)
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        app_sql.execute("insert into tasks (title, user_id) values ('x', %s)", (bob.sub,))


def test_the_creator_of_a_task_never_changes(app_sql, alice, bob, alices_task):
    as_user(app_sql, alice.sub)
    app_sql.execute("update tasks set user_id = %s where id = %s", (bob.sub, alices_task))
    assert app_sql.execute("select user_id from tasks where id = %s", (alices_task,)).fetchone()[0] == alice.sub


def test_another_user_can_neither_see_change_nor_delete(app_sql, bob, alices_task):
    as_user(app_sql, bob.sub)
    assert app_sql.execute("select count(*) from tasks where id = %s", (alices_task,)).fetchone()[0] == 0
    assert app_sql.execute("update tasks set title = 'mine' where id = %s", (alices_task,)).rowcount == 0
    assert app_sql.execute("delete from tasks where id = %s", (alices_task,)).rowcount == 0
    app_sql.commit()


def test_alices_task_survives_bobs_attempts_unchanged(app_sql, alice, bob, alices_task):
    test_another_user_can_neither_see_change_nor_delete(app_sql, bob, alices_task)
    as_user(app_sql, alice.sub)
    assert app_sql.execute("select title from tasks where id = %s", (alices_task,)).fetchone()[0] == "alice's"


def test_identity_ends_with_the_transaction(app_sql, alice, alices_task):
    as_user(app_sql, alice.sub)
    assert app_sql.execute("select count(*) from tasks").fetchone()[0] == 1
    app_sql.commit()
    assert app_sql.execute("select current_setting('app.user_id', true)").fetchone()[0] in (None, "")
    assert app_sql.execute("select count(*) from tasks").fetchone()[0] == 0
    app_sql.rollback()
    as_user(app_sql, alice.sub)
    app_sql.rollback()
    assert app_sql.execute("select count(*) from tasks").fetchone()[0] == 0


def test_the_owner_column_defaults_to_the_identity(app_sql, alice):
    as_user(app_sql, alice.sub)
    _, owner = insert_task(app_sql)
    assert owner == alice.sub


def test_a_too_long_identity_cannot_own_rows(app_sql):
    as_user(app_sql, "x" * 256)
    with pytest.raises(errors.CheckViolation):
        insert_task(app_sql)


def test_the_policies_hold_for_the_table_owner_too(database, alices_task):
    """FORCE: a non-superuser owner is subject to the policies; without FORCE it would not be."""
    # Each change commits before the stand-in reads (Citus refuses a role's query on shards
    # another role changed in the same transaction), and everything is put back after.
    grants = "execute on function verified_user_id(), lists_where_i_am(list_role)"
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        [owner] = conn.execute("select tableowner from pg_tables where schemaname = 'public' "
                               "and tablename = 'tasks'").fetchone()
        conn.execute("create role taskapp_owner_probe nologin")
        try:
            conn.execute("alter table tasks owner to taskapp_owner_probe")
            conn.execute(f"grant {grants} to taskapp_owner_probe")
            with conn.transaction():
                conn.execute("set local role taskapp_owner_probe")
                assert conn.execute("select count(*) from tasks").fetchone()[0] == 0
            conn.execute("alter table tasks no force row level security")
            with conn.transaction():
                conn.execute("set local role taskapp_owner_probe")
                assert conn.execute("select count(*) from tasks").fetchone()[0] > 0
        finally:
            conn.execute("alter table tasks force row level security")
            conn.execute(psycopg.sql.SQL("alter table tasks owner to {}").format(psycopg.sql.Identifier(owner)))
            conn.execute(f"revoke {grants} from taskapp_owner_probe")
            conn.execute("drop role taskapp_owner_probe")
