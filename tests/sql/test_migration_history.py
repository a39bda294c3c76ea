"""Migrating a database that already holds tasks, as an owner that is not a superuser (Neon, RDS)."""

import uuid

import psycopg
from alembic import command

from taskapp.config import sqlalchemy_url
from taskapp.database.migrations import alembic_config, upgrade
from tests.support.identity import IDENTITY_KEY, act_as
from tests.support.users import APP_PASSWORD, drop_database, managed_owner_database, with_database


def test_tasks_completed_before_the_history_existed_get_their_record(server_admin_url):
    # An owner as a managed service gives one: CREATEROLE, no superuser, subject to FORCE.
    with managed_owner_database(server_admin_url) as (owner_url, app_url):
        upgrade(sqlalchemy_url(owner_url), APP_PASSWORD, IDENTITY_KEY)
        command.downgrade(alembic_config(sqlalchemy_url(owner_url)), "0004")
        with psycopg.connect(app_url) as conn:
            act_as(conn, "alice")
            done, still_open = (conn.execute(
                "insert into tasks (title, due_at, completed) values (%s, '2030-01-01T09:00Z', %s) returning id",
                (title, completed)).fetchone()[0] for title, completed in (("done", True), ("open", False)))
            conn.commit()

        upgrade(sqlalchemy_url(owner_url), APP_PASSWORD, IDENTITY_KEY)

        with psycopg.connect(app_url) as conn:
            act_as(conn, "alice")
            records = conn.execute("select task_id, due_at, completed_by from task_completions").fetchall()
            assert [(task_id, user_id) for task_id, _, user_id in records] == [(done, "alice")]
            # Revision 0009 put every task in its owner's Inbox, which she owns.
            assert conn.execute(
                "select distinct l.name, l.personal_of, m.role from tasks t join lists l on l.id = t.list_id"
                " join list_members m on m.list_id = l.id").fetchall() == [("Inbox", "alice", "owner")]
            assert records[0][1].isoformat() == "2030-01-01T09:00:00+00:00"
            assert still_open not in [task_id for task_id, *_ in records]
        with psycopg.connect(owner_url) as conn:  # FORCE is back on: the owner sees no rows
            assert conn.execute("select count(*) from tasks").fetchone()[0] == 0
            forced = conn.execute("select relforcerowsecurity from pg_class where relname = 'tasks'").fetchone()[0]
            assert forced is True


def test_tasks_from_before_the_feed_followed_transactions_start_at_0_and_new_writes_are_stamped(database):
    """Revisions 0006 and 0009 on a database holding tasks: they carry transaction 0 (a full sync
    returns them) until written again."""
    owner_url = sqlalchemy_url(database.admin_url)
    name = f"taskapp_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = owner_url.set(database=name)
    app_url = with_database(database.admin_url, name, "taskapp_app", APP_PASSWORD)
    try:
        upgrade(url, APP_PASSWORD, IDENTITY_KEY)
        command.downgrade(alembic_config(url), "0005")
        with psycopg.connect(app_url) as conn:
            act_as(conn, "alice")
            old = conn.execute("insert into tasks (title) values ('old') returning id").fetchone()[0]
            conn.commit()
        upgrade(url, APP_PASSWORD, IDENTITY_KEY)
        with psycopg.connect(app_url) as conn:
            act_as(conn, "alice")
            assert conn.execute("select written_xid::text from tasks where id = %s", (old,)).fetchone()[0] == "0"
            conn.execute("update tasks set title = 'changed' where id = %s", (old,))
            assert conn.execute("select written_xid = pg_current_xact_id() from tasks where id = %s",
                                (old,)).fetchone()[0]
            conn.execute("delete from tasks where id = %s", (old,))
            assert conn.execute("select task_id from task_deletions").fetchall() == [(old,)]
    finally:
        drop_database(database.admin_url, name)
