"""What SQL as a runtime role may do to availability: bounded in time, and blind to the
statistics that count every user's rows."""

import psycopg
import pytest
from psycopg import errors

from taskapp.database.audit import report

ROLES = ("taskapp_app", "taskapp_worker")
LIMITS = ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")


@pytest.mark.parametrize("role", ROLES)
def test_every_runtime_role_has_time_limits(admin_sql, role):
    settings = admin_sql.execute("select rolconfig from pg_roles where rolname = %s", (role,)).fetchone()[0]
    given = dict(setting.split("=", 1) for setting in settings)
    for name in LIMITS:
        assert given.get(name) not in (None, "0"), (role, name)


@pytest.mark.parametrize("statement", [
    "select n_live_tup from pg_stat_user_tables where relname = 'tasks'",
    "select n_tup_ins from pg_stat_all_tables where relname = 'tasks'",
    "select heap_blks_read from pg_statio_user_tables where relname = 'tasks'",
    "select idx_scan from pg_stat_user_indexes limit 1",
    "select tup_inserted from pg_stat_database where datname = current_database()",
    "select pg_stat_get_live_tuples('tasks'::regclass)",
    "select pg_stat_get_tuples_inserted('tasks'::regclass)",
    "select pg_stat_get_last_autovacuum_time('tasks'::regclass)",
    "select pg_stat_get_db_xact_commit((select oid from pg_database where datname = current_database()))",
])
@pytest.mark.parametrize("role_url", ["app_url", "worker_url"])
def test_a_runtime_role_cannot_read_whole_table_statistics(database, role_url, statement):
    with psycopg.connect(getattr(database, role_url)) as conn:
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(statement)


def test_monitoring_keeps_the_statistics(admin_sql):
    granted = admin_sql.execute(
        "select has_table_privilege('pg_read_all_stats', 'pg_catalog.pg_stat_user_tables', 'SELECT'), "
        "has_function_privilege('pg_read_all_stats', 'pg_catalog.pg_stat_get_live_tuples(oid)', 'EXECUTE')"
    ).fetchone()
    assert granted == (True, True)


def test_the_audit_reports_the_limits_and_that_the_statistics_are_closed(database):
    printed, passed = report(database.admin_url)
    section = printed.split("== Availability", 1)[1].split("==", 1)[0]
    assert passed
    assert "WARN" not in section
    for role in ROLES:
        assert role in section
    assert "4s" in section and "5s" in section


def test_the_audit_warns_when_a_runtime_role_can_read_them_and_fails_without_limits(database, admin_sql):
    admin_sql.execute("grant select on pg_catalog.pg_stat_user_tables to taskapp_app")
    admin_sql.execute("alter role taskapp_worker reset lock_timeout")
    try:
        printed, passed = report(database.admin_url)
        assert "WARN: can count every user's rows" in printed
        assert not passed and "taskapp_worker has no lock_timeout" in printed
    finally:
        admin_sql.execute("revoke select on pg_catalog.pg_stat_user_tables from taskapp_app")
        admin_sql.execute("alter role taskapp_worker set lock_timeout = '4s'")
