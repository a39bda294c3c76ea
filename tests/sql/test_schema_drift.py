"""sql/ (what a DBA reads) and the migrations (what runs) declare the same database."""

from pathlib import Path

import psycopg
import pytest

from taskapp.database import citus
from taskapp.database.migrations import SQL_DIR
from tests.support.citus import CITUS_ADMIN_URL

SETUP_FILES = ["00_roles.sql", "01_schema.sql", "02_policies.sql", "03_privileges.sql"]
TABLES = ("lists", "list_members", "list_invitations", "list_departures", "tasks", "task_completions",
          "task_deletions", "idempotency_keys", "webhooks", "webhook_deliveries", "webhook_attempts")
NAMES = ", ".join(f"'{name}'" for name in TABLES)
REGCLASSES = ", ".join(f"'public.{name}'::regclass" for name in TABLES)

CATALOG = {
    "columns": """
        select table_name, column_name, data_type, udt_name, is_nullable, column_default
        from information_schema.columns
        where table_schema = 'public' and table_name in ({NAMES})
        order by table_name, column_name""",
    "constraints": """
        select conrelid::regclass::text, conname, pg_get_constraintdef(oid) from pg_constraint
        where conrelid in ({REGCLASSES})
        order by 1, conname""",
    "indexes": """
        select indexname, indexdef from pg_indexes
        where schemaname = 'public' and tablename in ({NAMES}) order by indexname""",
    "rls": """
        select relname, relrowsecurity, relforcerowsecurity from pg_class
        where oid in ({REGCLASSES}) order by relname""",
    "policies": """
        select tablename, policyname, permissive, roles::text, cmd, qual, with_check from pg_policies
        where schemaname = 'public' order by tablename, policyname""",
    "table grants": """
        select table_name, grantee, privilege_type from information_schema.role_table_grants
        where table_schema = 'public' and table_name in ({NAMES})
        order by table_name, grantee, privilege_type""",
    "acl": """
        select c.relname, c.relacl::text from pg_class c
        join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relname <> 'alembic_version' and c.relkind in ('r', 'v', 'm')
        order by c.relname""",
    "types": """
        select t.typname, t.typacl::text, array_agg(e.enumlabel order by e.enumsortorder)::text
        from pg_type t join pg_enum e on e.enumtypid = t.oid group by t.typname, t.typacl::text""",
    "functions": """
        select n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), p.prosrc, p.proacl::text,
               p.prosecdef, p.proleakproof, p.provolatile, p.proconfig::text from pg_proc p
        join pg_namespace n on n.oid = p.pronamespace where n.nspname in ('public', 'taskapp_private', 'taskapp_queue')
        order by n.nspname, p.proname""",
    "identity keys": """
        select column_name, data_type, is_nullable, column_default from information_schema.columns
        where table_schema = 'taskapp_private' and table_name = 'identity_keys' order by column_name""",
    "identity keys constraints": """
        select conname, pg_get_constraintdef(oid) from pg_constraint
        where conrelid = 'taskapp_private.identity_keys'::regclass order by conname""",
    "memberships": """
        select column_name, data_type, is_nullable, column_default from information_schema.columns
        where table_schema = 'taskapp_private' and table_name in ('memberships', 'subscriptions')
        union all
        select conname, pg_get_constraintdef(oid), null, null from pg_constraint
        where conrelid in ('taskapp_private.memberships'::regclass, 'taskapp_private.subscriptions'::regclass)
        union all
        select indexname, indexdef, null, null from pg_indexes
        where schemaname = 'taskapp_private' and tablename in ('memberships', 'subscriptions')
        order by 1, 2""",
    "private acl": """
        select n.nspacl::text, c.relacl::text from pg_namespace n
        join pg_class c on c.relnamespace = n.oid and c.relname = 'identity_keys'
        where n.nspname = 'taskapp_private'""",
    "public schema and database acl": """
        select has_schema_privilege('public', 'public', 'CREATE'),
               has_database_privilege('public', current_database(), 'TEMPORARY')""",
    "triggers": """
        select tgname, pg_get_triggerdef(oid) from pg_trigger
        where tgrelid in ({REGCLASSES})
          and not tgisinternal order by tgname""",
    "schema usage": """
        select has_schema_privilege('taskapp_app', 'public', 'USAGE'),
               has_schema_privilege('taskapp_worker', 'public', 'USAGE')""",
    "queue": """
        select column_name, data_type, is_nullable, column_default from information_schema.columns
        where table_schema = 'taskapp_queue' and table_name = 'jobs' order by column_name""",
    "queue constraints and indexes": """
        select conname, pg_get_constraintdef(oid) from pg_constraint
        where conrelid = 'taskapp_queue.jobs'::regclass
        union all
        select indexname, indexdef from pg_indexes where schemaname = 'taskapp_queue'
        order by 1, 2""",
    "queue acl": """
        select n.nspacl::text, c.relacl::text from pg_namespace n
        join pg_class c on c.relnamespace = n.oid and c.relname = 'jobs'
        where n.nspname = 'taskapp_queue'""",
    "column grants": """
        select table_name, column_name, grantee, privilege_type from information_schema.column_privileges
        where table_schema = 'public' and grantee in ('taskapp_app', 'taskapp_worker')
          and table_name in ({NAMES}) order by 1, 2, 3, 4""",
}
CATALOG = {name: query.replace("{NAMES}", NAMES).replace("{REGCLASSES}", REGCLASSES) for name, query in CATALOG.items()}


def snapshot(url: str) -> dict:
    with psycopg.connect(url) as conn:
        return {name: conn.execute(query).fetchall() for name, query in CATALOG.items()}


@pytest.fixture(scope="module")
def from_sql_files(fresh_database):
    url = fresh_database()
    with psycopg.connect(url, autocommit=True) as conn:
        for name in SETUP_FILES:
            conn.execute(Path(SQL_DIR / name).read_text())
        if CITUS_ADMIN_URL:  # and the files db upgrade adds on a coordinator, as it runs them
            for together in ((citus.POLICIES_SQL, citus.DISTRIBUTE_SQL), (citus.NODES_SQL,)):
                with conn.transaction():
                    for script in together:
                        for statement in citus.statements(script.read_text()):
                            conn.execute(statement)
    return snapshot(url)


@pytest.fixture(scope="module")
def from_migrations(database):
    return snapshot(database.admin_url)


@pytest.mark.parametrize("aspect", CATALOG)
def test_sql_files_and_migrations_declare_the_same(from_sql_files, from_migrations, aspect):
    assert from_sql_files[aspect] == from_migrations[aspect]
    assert from_migrations[aspect], f"{aspect}: nothing to compare"


def test_the_runtime_role_may_read_the_migration_revision(database):
    with psycopg.connect(database.app_url) as conn:
        assert conn.execute("select version_num from alembic_version").fetchone()[0]
