"""Sharing on a database whose schema owner is not a superuser (as Neon and RDS give one): every
trigger that writes for someone else — owner rows, departures, other members' events — runs as
that owner under FORCE, so the policies apply to it too. The rest of the suite migrates as a
superuser, which no policy binds."""

import uuid

import psycopg
import pytest

from taskapp.config import sqlalchemy_url
from taskapp.database.migrations import upgrade
from tests.support.identity import IDENTITY_KEY, act_as
from tests.support.users import APP_PASSWORD, managed_owner_database


@pytest.fixture(scope="module")
def managed(server_admin_url):
    """(owner URL, app URL) of a database migrated by a CREATEROLE-only owner."""
    with managed_owner_database(server_admin_url) as (owner_url, app_url):
        upgrade(sqlalchemy_url(owner_url), APP_PASSWORD, IDENTITY_KEY)
        yield owner_url, app_url


def as_user(url, user):
    conn = psycopg.connect(url)
    act_as(conn, user)
    return conn


def test_a_list_is_shared_used_left_and_deleted_with_a_non_superuser_owner(managed):
    _, app_url = managed
    alice, bob, carol = (f"{name}-{uuid.uuid4().hex[:6]}" for name in ("alice", "bob", "carol"))
    list_id = uuid.uuid4()
    with as_user(app_url, alice) as conn:
        conn.execute("insert into lists (id, name) values (%s, 'Shared')", (list_id,))
        conn.execute("insert into webhooks (url, events, secret) values ('https://example.com/h',"
                     " array['task.created', 'member.removed'], 'whsec_c2VjcmV0')")
        for invitee in (bob, carol):
            conn.execute("insert into list_invitations (list_id, list_name, invitee_id, role)"
                         " values (%s, 'Shared', %s, 'editor')", (list_id, invitee))
    for joining in (bob, carol):
        with as_user(app_url, joining) as conn:
            joined = conn.execute("insert into list_members (list_id, user_id, role)"
                                  " select list_id, invitee_id, role from list_invitations where invitee_id = %s",
                                  (joining,)).rowcount
            assert joined == 1
            # The invitation is used up: it cannot bring them back later.
            assert conn.execute("select count(*) from list_invitations").fetchone()[0] == 0
    with as_user(app_url, bob) as conn:
        (task,) = conn.execute("insert into tasks (title, list_id) values ('bob''s', %s) returning id",
                               (list_id,)).fetchone()
    with as_user(app_url, alice) as conn:  # the owner removes Bob
        assert conn.execute("delete from list_members where list_id = %s and user_id = %s",
                            (list_id, bob)).rowcount == 1
    with as_user(app_url, carol) as conn:  # Carol leaves
        assert conn.execute("delete from list_members where list_id = %s and user_id = %s",
                            (list_id, carol)).rowcount == 1
    with as_user(app_url, bob) as conn:
        assert conn.execute("select task_ids from list_departures").fetchall() == [([task],)]
        assert conn.execute("select count(*) from tasks").fetchone()[0] == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # no invitation left to come back with
            conn.execute("insert into list_members (list_id, user_id, role) values (%s, %s, 'editor')",
                         (list_id, bob))
    with as_user(app_url, alice) as conn:
        types = sorted(row[0] for row in conn.execute("select type from webhook_deliveries"))
        assert types == ["member.removed", "member.removed", "task.created"]
        assert conn.execute("delete from lists where id = %s", (list_id,)).rowcount == 1
        assert conn.execute("select count(*) from list_departures where list_id = %s", (list_id,)).fetchone()[0] == 1
