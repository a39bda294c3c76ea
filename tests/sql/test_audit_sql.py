"""sql/audit.sql, run with psql as a DBA would, passes a sound database and fails a weakened one."""

import subprocess

import psycopg
import pytest

from taskapp.config import sqlalchemy_url
from taskapp.database.audit import AUDIT_SQL, sections
from taskapp.database.embedded import binaries
from taskapp.database.migrations import SQL_DIR, upgrade
from tests.support.citus import CITUS_ADMIN_URL
from tests.support.identity import IDENTITY_KEY


def psql_binary() -> str:
    """The embedded server ships psql beside it, so the audit runs wherever the tests run."""
    return str(binaries() / "psql")


def audit(url: str) -> str:
    result = subprocess.run(
        [psql_binary(), url, "-X", "-v", "ON_ERROR_STOP=1", "-f", str(SQL_DIR / "audit.sql")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_audit_passes_the_migrated_database(database):
    report = audit(database.admin_url)
    assert "VERDICT: PASS" in report
    for policy in ("Tasks are visible to the members of their list", "Tasks are deleted by editors of their list"):
        assert policy in report
    assert "verified_user_id()" in report and "lists_where_i_am(list_role)" in report
    server = report.split("== Tables")[0]
    assert "server_version" in server and "PostgreSQL" in server


def test_the_audit_fails_a_weakened_database(fresh_database):
    url = fresh_database()
    upgrade(sqlalchemy_url(url), identity_key=IDENTITY_KEY)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("alter table tasks no force row level security")
        conn.execute("grant truncate on tasks to taskapp_app")
        conn.execute('drop policy "Tasks are deleted by editors of their list" on tasks')
    report = audit(url)
    verdict = next(line for line in report.splitlines() if "VERDICT" in line)
    assert "FAIL" in verdict
    assert "not forced" in verdict
    assert "taskapp_app may TRUNCATE tasks" in verdict
    assert "no DELETE policy" in verdict


def test_taskapp_audit_prints_the_report_and_passes(database):
    from tests.support.commands import taskapp

    result = taskapp("audit", DATABASE_ADMIN_URL=database.admin_url)
    assert result.returncode == 0, result.stderr
    assert "Tasks are changed by editors and stay in a list they edit" in result.stdout
    assert "== Grants on the tables" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "VERDICT: PASS"


def test_taskapp_audit_exits_non_zero_on_a_weakened_database(fresh_database):
    from tests.support.commands import taskapp

    url = fresh_database()
    upgrade(sqlalchemy_url(url), identity_key=IDENTITY_KEY)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("alter role taskapp_app bypassrls")
    try:
        result = taskapp("audit", DATABASE_ADMIN_URL=url)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("alter role taskapp_app nobypassrls")
    assert result.returncode == 1
    assert "taskapp_app can bypass row-level security" in result.stdout.strip().splitlines()[-1]


# Each way of weakening a database, and the words the verdict must say about it. Every
# weakening runs in a transaction that is rolled back; `{db}` is the database's name.
WEAKENINGS = {
    "replication": (["alter role taskapp_app replication"], "taskapp_app has REPLICATION"),
    "member of another role": (["create role audit_strong_role", "grant audit_strong_role to taskapp_app"],
                               "taskapp_app is a member of audit_strong_role"),
    "owns a table": (["create table audit_owned (x int)", "alter table audit_owned owner to taskapp_app"],
                     "taskapp_app owns table audit_owned"),
    "owns a schema": (["create schema audit_owned authorization taskapp_app"],
                      "taskapp_app owns the schema audit_owned"),
    "owns the database": (['alter database "{db}" owner to taskapp_app'], "taskapp_app owns the database"),
    "owns a type": (["create type audit_owned as (x int)", "alter type audit_owned owner to taskapp_app"],
                    "taskapp_app owns type audit_owned"),
    "owns a function": (["create function audit_owned() returns int language sql set search_path = pg_catalog "
                         "as $$ select 1 $$", "alter function audit_owned() owner to taskapp_app"],
                        "taskapp_app owns function audit_owned()"),
    "owns a sequence": (["create sequence audit_owned", "alter sequence audit_owned owner to taskapp_app"],
                        "taskapp_app owns sequence audit_owned"),
    "identity preset for the role": (["alter role taskapp_app set app.user_id = 'bob'"],
                                     "an identity is preset for taskapp_app in every database: app.user_id=bob"),
    "identity preset for the database": (['alter database "{db}" set app.user_id = \'bob\''],
                                         "an identity is preset for every role in this database"),
    "identity preset for the role in the database": (
        ['alter role taskapp_app in database "{db}" set app.identity_proof = \'x\''],
        "an identity is preset for taskapp_app in this database: app.identity_proof=x"),
    "identity preset for all roles": (["alter role all set app.user_id = 'bob'"],
                                      "an identity is preset for every role in every database"),
    "create in a schema": (["grant create on schema public to taskapp_app"], "taskapp_app may CREATE in schema public"),
    "create in the database": (['grant create on database "{db}" to taskapp_app'],
                               "taskapp_app may CREATE in the database"),
    "temporary tables": (['grant temporary on database "{db}" to public'], "taskapp_app may create temporary tables"),
    "truncate": (["grant truncate on tasks to taskapp_app"], "taskapp_app may TRUNCATE tasks"),
    "references": (["grant references on tasks to taskapp_app"], "taskapp_app may REFERENCES tasks"),
    "trigger": (["grant trigger on tasks to taskapp_app"], "taskapp_app may TRIGGER tasks"),
    "rls not forced": (["alter table tasks no force row level security"],
                       "table tasks has row-level security not forced"),
    "rls disabled": (["alter table tasks disable row level security"], "table tasks has row-level security disabled"),
    "history rls not forced": (["alter table task_completions no force row level security"],
                               "table task_completions has row-level security not forced"),
    "history without a delete policy": (['drop policy "Completions are forgotten by editors of the list" '
                                         "on task_completions"], "task_completions has no DELETE policy"),
    "history updatable": (["grant update on task_completions to taskapp_app"],
                          "taskapp_app may UPDATE task_completions, which has no UPDATE policy"),
    "history policy for everyone": (
        ['alter policy "Completions are visible to the members of the task\'s list" on task_completions using (true)'],
        'policy "Completions are visible to the members of the task\'s list" on task_completions is USING'),
    "a foreign key without the owner": (
        ["alter table task_completions drop constraint task_completions_task_fkey",
         "alter table task_completions add constraint audit_fk foreign key (task_id) references tasks (id)"],
        "foreign key audit_fk on task_completions does not lead with the owning column (user_id or list_id)"),
    "a readable table without rls": (["create table audit_plain (x int)", "grant select on audit_plain to taskapp_app"],
                                     "table audit_plain has row-level security disabled"),
    "a writable migrations table": (["grant insert on alembic_version to taskapp_app"],
                                    "table alembic_version has row-level security disabled"),
    "a view that is not security_invoker": (
        ["create view audit_view as select * from tasks", "grant select on audit_view to taskapp_app"],
        "taskapp_app may read the view audit_view, which is not security_invoker"),
    "a materialized view": (
        ["create materialized view audit_matview as select * from tasks",
         "grant select on audit_matview to taskapp_app"],
        "taskapp_app may read the materialized view audit_matview"),
    "a foreign table": (
        ["create foreign data wrapper audit_fdw", "create server audit_server foreign data wrapper audit_fdw",
         "create foreign table audit_foreign (x int) server audit_server",
         "grant select on audit_foreign to taskapp_app"],
        "taskapp_app may read the foreign table audit_foreign"),
    "another security definer function": (
        ["create function audit_definer() returns bigint language sql security definer set search_path = public "
         "as $$ select count(*) from tasks $$"],
        "taskapp_app may call audit_definer(), a SECURITY DEFINER function"),
    "a function without a fixed search_path": (["alter function tasks_stamp() reset search_path"],
                                               "function tasks_stamp() has no fixed search_path"),
    "using (true)": (['alter policy "Tasks are visible to the members of their list" on tasks using (true)'],
                     'policy "Tasks are visible to the members of their list" on tasks is USING (true)'),
    "identity call not wrapped": (
        ['alter policy "Webhooks are visible to their owner" on webhooks using (user_id = verified_user_id())'],
        "calling verified_user_id() without (select …)"),
    "membership call not wrapped": (
        ['alter policy "Tasks are visible to the members of their list" on tasks '
         "using (list_id = any (lists_where_i_am('viewer')))"],
        "calling lists_where_i_am() without (select …)"),
    "a viewer may change tasks": (
        ['alter policy "Tasks are changed by editors and stay in a list they edit" on tasks '
         "using (list_id = any ((select lists_where_i_am('viewer'))::uuid[]))"],
        'policy "Tasks are changed by editors and stay in a list they edit" on tasks is not the canonical one'),
    "an admin may remove the owner": (
        ['alter policy "Members leave, or are removed by those above them" on list_members '
         "using (list_id = any ((select lists_where_i_am('admin'))::uuid[]))"],
        'policy "Members leave, or are removed by those above them" on list_members is not the canonical one'),
    "anyone may join": (
        ['alter policy "Members join by invitation, the owner with the list" on list_members '
         "with check (user_id = (select verified_user_id()))"],
        'policy "Members join by invitation, the owner with the list" on list_members is not the canonical one'),
    "the membership lookup readable": (["grant usage on schema taskapp_private to taskapp_app",
                                        "grant select on taskapp_private.memberships to taskapp_app"],
                                       "table taskapp_private.memberships has row-level security disabled"),
    "a membership table without a policy": (['drop policy "Invitations are revoked by admins, declined by the invitee" '
                                             "on list_invitations"], "list_invitations has no DELETE policy"),
    "unverified identity": (
        ['alter policy "Tasks are deleted by editors of their list" on tasks '
         "using (user_id = (select current_setting('app.user_id', true)))"],
        'policy "Tasks are deleted by editors of their list" on tasks is reading app.user_id unverified'),
    "another expression": (
        ['alter policy "Tasks are created by editors of their list, as themselves" on tasks '
         "with check (user_id = (select verified_user_id()) or title = 'x')"],
        'policy "Tasks are created by editors of their list, as themselves" on tasks is not the canonical one'),
    "an extra permissive policy": (
        ["create policy audit_extra on tasks for select using (priority = 'high')"],
        'policy "audit_extra" on tasks is not the canonical one'),
    "a missing policy": (['drop policy "Tasks are deleted by editors of their list" on tasks'],
                         "tasks has no DELETE policy"),
    # The membership copy the policies read, left behind by its table: a removed member keeps their list.
    "the membership copy's trigger off": (["alter table list_members disable trigger list_members_copy"],
                                          "trigger list_members_copy on list_members is disabled"),
    "every trigger of tasks off": (["alter table tasks disable trigger user"],
                                   "trigger tasks_emit_events on tasks is disabled"),
}
if CITUS_ADMIN_URL:  # a coordinator's shell tables are not where triggers run
    del WEAKENINGS["the membership copy's trigger off"], WEAKENINGS["every trigger of tasks off"]

# Through a Citus coordinator the policies have their Citus form (sql/citus_policies.sql: no
# subqueries, which Citus refuses in a policy), so the weakenings of a policy's text are written
# in that form; the two that unwrap a call are that form itself, and tasks are keyed by list.
if CITUS_ADMIN_URL:
    for unwrapped in ("identity call not wrapped", "membership call not wrapped"):
        del WEAKENINGS[unwrapped]
    WEAKENINGS.update({
        "a foreign key without the owner": (
            ["alter table task_completions drop constraint task_completions_task_fkey",
             "alter table task_completions add constraint audit_fk foreign key (task_id, list_id) "
             "references tasks (id, list_id)"],
            "foreign key audit_fk on task_completions does not lead with the owning column (user_id or list_id)"),
        "a viewer may change tasks": (
            ['alter policy "Tasks are changed by editors and stay in a list they edit" on tasks '
             "using (list_id = any (lists_where_i_am('viewer')))"],
            'policy "Tasks are changed by editors and stay in a list they edit" on tasks is not the canonical one'),
        "an admin may remove the owner": (
            ['alter policy "Members leave, or are removed by those above them" on list_members '
             "using (list_id = any (lists_where_i_am('admin')))"],
            'policy "Members leave, or are removed by those above them" on list_members is not the canonical one'),
        "anyone may join": (
            ['alter policy "Members join by invitation, the owner with the list" on list_members '
             "with check (user_id = verified_user_id())"],
            'policy "Members join by invitation, the owner with the list" on list_members is not the canonical one'),
        "unverified identity": (
            ['alter policy "Tasks are deleted by editors of their list" on tasks '
             "using (user_id = current_setting('app.user_id', true))"],
            'policy "Tasks are deleted by editors of their list" on tasks is reading app.user_id unverified'),
        "another expression": (
            ['alter policy "Tasks are created by editors of their list, as themselves" on tasks '
             "with check (user_id = verified_user_id() or title = 'x')"],
            'policy "Tasks are created by editors of their list, as themselves" on tasks is not the canonical one'),
    })


@pytest.fixture(scope="module")
def throwaway(fresh_database):
    url = fresh_database()
    upgrade(sqlalchemy_url(url), identity_key=IDENTITY_KEY)
    return url


def verdict_in_transaction(url: str, statements: list[str]) -> str:
    """The audit's verdict on the database weakened by `statements`, all rolled back."""
    verdict_sql = sections(AUDIT_SQL.read_text())[-1][1]
    with psycopg.connect(url) as conn:
        name = conn.info.dbname
        for statement in statements:
            conn.execute(statement.replace("{db}", name))
        verdict = conn.execute(verdict_sql).fetchone()[0]
        conn.rollback()
    return verdict


def test_the_verdict_passes_the_throwaway_database_before_each_weakening(throwaway):
    assert verdict_in_transaction(throwaway, []) == "VERDICT: PASS"


@pytest.mark.parametrize("weakening", WEAKENINGS)
def test_each_weakening_fails_the_audit_with_its_reason(throwaway, weakening):
    statements, reason = WEAKENINGS[weakening]
    verdict = verdict_in_transaction(throwaway, statements)
    assert verdict.startswith("VERDICT: FAIL: ")
    assert reason in verdict, verdict


def test_psql_and_taskapp_audit_give_the_same_verdict_on_a_weakened_database(fresh_database):
    from tests.support.commands import taskapp

    url = fresh_database()
    upgrade(sqlalchemy_url(url), identity_key=IDENTITY_KEY)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create view audit_view as select * from tasks")
        conn.execute("grant select on audit_view to taskapp_app")
        conn.execute('alter policy "Tasks are visible to the members of their list" on tasks using (true)')
    by_psql = next(line.strip() for line in audit(url).splitlines() if "VERDICT" in line)
    by_command = taskapp("audit", DATABASE_ADMIN_URL=url)
    assert by_command.returncode == 1
    assert by_command.stdout.strip().splitlines()[-1] == by_psql
    assert "audit_view" in by_psql and "USING (true)" in by_psql
