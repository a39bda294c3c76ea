"""SQL running as taskapp_app cannot become another user: the database verifies the identity.

An attacker with SQL as the runtime role (an injection, a leaked DATABASE_URL) can set
`app.user_id` to anything; without the identity key it cannot make the proof that
verified_user_id() asks for, and the policies show it nothing.
"""

import hashlib
import hmac
import time

import psycopg
import pytest
from psycopg import errors
from sqlalchemy.engine import make_url

from taskapp.config import sqlalchemy_url
from taskapp.database.migrations import upgrade
from taskapp.identity.proof import IdentityKey
from tests.support.commands import taskapp
from tests.support.identity import IDENTITY_KEY, IDENTITY_KEY_SECRET, SET_IDENTITY, act_as
from tests.support.users import APP_PASSWORD, SECRET, with_database

OTHER_KEY = IdentityKey("another-identity-key-" + "fedcba9876543210" * 2)


@pytest.fixture()
def bobs_task(create_task, bob):
    return create_task(bob, title="bob's secret")["id"]


def visible(conn) -> int:
    return conn.execute("select count(*) from tasks").fetchone()[0]


def test_setting_the_user_id_alone_shows_nothing(app_sql, bob, bobs_task):
    app_sql.execute("select set_config('app.user_id', %s, true)", (bob.sub,))
    assert visible(app_sql) == 0
    assert app_sql.execute("update tasks set title = 'mine' where id = %s", (bobs_task,)).rowcount == 0
    assert app_sql.execute("delete from tasks where id = %s", (bobs_task,)).rowcount == 0
    with pytest.raises(errors.InsufficientPrivilege, match="row-level security"):
        app_sql.execute("insert into tasks (title) values ('planted')")


def test_a_plain_session_setting_shows_nothing_either(database, bob, bobs_task):
    with psycopg.connect(database.app_url, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("set app.user_id = {}").format(psycopg.sql.Literal(bob.sub)))
        assert visible(conn) == 0


def test_the_same_user_id_with_its_proof_shows_the_owners_rows(app_sql, bob, bobs_task):
    act_as(app_sql, bob.sub)
    assert app_sql.execute("select title from tasks where id = %s", (bobs_task,)).fetchone() == ("bob's secret",)


def test_a_proof_copied_from_alices_transaction_does_not_work_for_bob(app_sql, alice, bob, bobs_task):
    act_as(app_sql, alice.sub)
    alices_proof = app_sql.execute("select current_setting('app.identity_proof')").fetchone()[0]
    app_sql.rollback()
    app_sql.execute(SET_IDENTITY, (bob.sub, alices_proof))
    assert visible(app_sql) == 0


def test_an_expired_proof_shows_nothing(app_sql, bob, bobs_task):
    act_as(app_sql, bob.sub, now=time.time() - 61)
    assert visible(app_sql) == 0
    app_sql.rollback()
    act_as(app_sql, bob.sub, now=time.time() - 30)  # still within its minute
    assert visible(app_sql) == 1


def test_a_proof_made_with_another_key_shows_nothing(app_sql, bob, bobs_task):
    act_as(app_sql, bob.sub, key=OTHER_KEY)
    assert visible(app_sql) == 0


@pytest.mark.parametrize("proof", [
    "", "v1", "garbage", "v1.0000000000000000.99999999999.00",
    f"v1.{IDENTITY_KEY.key_id}.99999999999.{'0' * 64}",
    f"v2.{IDENTITY_KEY.key_id}.99999999999.{'0' * 64}",
    f"v1.{IDENTITY_KEY.key_id}.99999999999.{'0' * 63}",
    f"v1.{IDENTITY_KEY.key_id}.99999999999.{'0' * 65}",
    f"v1.{IDENTITY_KEY.key_id}.{'9' * 16}.{'0' * 64}",
    f"v1.{IDENTITY_KEY.key_id}.{'9' * 40}.{'0' * 64}",
    f"v1.{IDENTITY_KEY.key_id[:15]}.99999999999.{'0' * 64}",
    f"v1.{IDENTITY_KEY.key_id}0.99999999999.{'0' * 64}",
    f"v1.{IDENTITY_KEY.key_id}.99999999999.{'0' * 64}.00",
    f"v1.{IDENTITY_KEY.key_id}.-9.{'0' * 64}",
    f"v1.{IDENTITY_KEY.key_id}.99999999999.{'A' * 64}",
], ids=["empty", "version only", "garbage", "short signature", "zero signature", "unknown version",
        "odd-length signature", "long signature", "16-digit expiry", "expiry beyond bigint",
        "short key id", "long key id", "a fifth part", "negative expiry", "upper-case signature"])
def test_a_made_up_proof_shows_nothing_and_raises_nothing(app_sql, bob, bobs_task, proof):
    app_sql.execute(SET_IDENTITY, (bob.sub, proof))
    assert visible(app_sql) == 0
    assert app_sql.execute("select verified_user_id()").fetchone()[0] is None


def test_a_transaction_without_either_setting_shows_nothing(app_sql, bobs_task):
    assert visible(app_sql) == 0
    assert app_sql.execute("select verified_user_id()").fetchone()[0] is None


def test_the_database_computes_the_same_hmac_as_python(admin_sql, alice):
    """act_as (SQL, from the stored padded keys) and IdentityKey.proof (Python's hmac) agree."""
    with admin_sql.transaction():
        admin_sql.execute("select taskapp_private.act_as(%s)", (alice.sub,))
        proof = admin_sql.execute("select current_setting('app.identity_proof')").fetchone()[0]
    version, key_id, expires, signature = proof.split(".")
    expected = hmac.new(IDENTITY_KEY_SECRET.encode(), f"{expires}.{alice.sub}".encode(), hashlib.sha256).hexdigest()
    assert (version, key_id, signature) == ("v1", IDENTITY_KEY.key_id, expected)


def test_a_dba_acts_as_a_user_with_act_as(admin_sql, bob, bobs_task):
    with admin_sql.transaction():
        admin_sql.execute("select taskapp_private.act_as(%s)", (bob.sub,))
        assert admin_sql.execute("select count(*) from tasks where id = %s", (bobs_task,)).fetchone()[0] == 1
        assert admin_sql.execute("select verified_user_id()").fetchone()[0] == bob.sub


@pytest.mark.parametrize("statement", [
    "select * from taskapp_private.identity_keys",
    "select taskapp_private.act_as('bob')",
    "create or replace function public.verified_user_id() returns text language sql as $$ select 'bob' $$",
    "alter function public.verified_user_id() set search_path = public",
    "alter function public.verified_user_id() owner to taskapp_app",
    "alter function public.verified_user_id() security invoker",
    "create function public.verified_user_id(x int) returns text language sql as $$ select 'bob' $$",
    "create temporary table tasks (like public.tasks)",
], ids=["read the keys", "call act_as", "replace the verifier", "change its search_path", "take it over",
        "make it invoker", "add an overload", "shadow tasks with a temporary table"])
def test_the_runtime_role_cannot_reach_the_key_or_the_verifier(app_sql, statement):
    with pytest.raises(errors.InsufficientPrivilege):
        app_sql.execute(statement)


def test_the_key_is_stored_only_where_the_owner_reads_it(admin_sql):
    privileges = admin_sql.execute(
        "select has_schema_privilege('taskapp_app', 'taskapp_private', 'USAGE'),"
        "       has_table_privilege('taskapp_app', 'taskapp_private.identity_keys', 'SELECT'),"
        "       has_function_privilege('taskapp_app', 'taskapp_private.act_as(text)', 'EXECUTE'),"
        "       has_function_privilege('taskapp_app', 'public.verified_user_id()', 'EXECUTE')"
    ).fetchone()
    assert privileges == (False, False, False, True)
    verifier = admin_sql.execute(
        "select prosecdef, provolatile, proconfig, pg_get_userbyid(proowner) <> 'taskapp_app' "
        "from pg_proc where oid = 'public.verified_user_id()'::regprocedure"
    ).fetchone()
    assert verifier == (True, "s", ["search_path=pg_catalog, pg_temp"], True)


@pytest.fixture()
def migrated_elsewhere(fresh_database):
    """A database of its own (its keys change in these tests): (owner URL, taskapp_app URL)."""
    admin_url = fresh_database()
    upgrade(sqlalchemy_url(admin_url), APP_PASSWORD, IDENTITY_KEY)
    name = make_url(sqlalchemy_url(admin_url)).database
    return admin_url, with_database(admin_url, name, "taskapp_app", APP_PASSWORD)


def test_serve_stops_with_one_line_when_the_database_does_not_accept_its_key(migrated_elsewhere):
    _, app_url = migrated_elsewhere
    result = taskapp("serve", "--port", "1", DATABASE_URL=app_url, JWT_SECRET_KEY=SECRET,
                     TASKAPP_IDENTITY_KEY="another-identity-key-" + "fedcba9876543210" * 2)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not accept TASKAPP_IDENTITY_KEY" in lines[0], result.stderr


def test_serve_refuses_a_connection_that_starts_with_an_identity(migrated_elsewhere):
    _, app_url = migrated_elsewhere
    preset = f"{app_url}{'&' if '?' in app_url else '?'}options=-c%20app.user_id%3Dbob"
    result = taskapp("serve", "--port", "1", DATABASE_URL=preset, JWT_SECRET_KEY=SECRET,
                     TASKAPP_IDENTITY_KEY=IDENTITY_KEY_SECRET)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "starts with app.user_id already set" in lines[0], result.stderr


def test_the_key_rotates_without_downtime(migrated_elsewhere, make_app, alice):
    """Store the new key beside the old, move the servers, then retire the old one."""
    admin_url, app_url = migrated_elsewhere
    new_secret = "the-next-identity-key-" + "0123456789abcdef" * 2
    old_app = make_app(DATABASE_URL=app_url)
    new_app = make_app(DATABASE_URL=app_url, TASKAPP_IDENTITY_KEY=new_secret)
    headers = alice.headers
    assert old_app.test_client().post("/api/me/tasks", json={"title": "before"}, headers=headers).status_code == 201
    assert new_app.test_client().get("/readyz").status_code == 503  # not stored yet

    stored = taskapp("db", "upgrade", DATABASE_ADMIN_URL=admin_url, TASKAPP_IDENTITY_KEY=new_secret)
    assert stored.returncode == 0, stored.stderr
    for app in (old_app, new_app):  # both keys work while the servers move
        assert app.test_client().get("/readyz").status_code == 200
        listed = app.test_client().get("/api/me/tasks", headers=headers).get_json()
        assert [task["title"] for task in listed] == ["before"]

    retired = taskapp("db", "retire-identity-keys", DATABASE_ADMIN_URL=admin_url, TASKAPP_IDENTITY_KEY=new_secret)
    assert retired.returncode == 0, retired.stderr
    assert "Retired 1 identity key" in retired.stdout
    assert new_app.test_client().get("/api/me/tasks", headers=headers).get_json()[0]["title"] == "before"
    assert old_app.test_client().get("/readyz").status_code == 503
    assert old_app.test_client().get("/api/me/tasks", headers=headers).get_json() == []  # fails closed


def test_retiring_refuses_to_forget_every_key(migrated_elsewhere):
    admin_url, _ = migrated_elsewhere
    result = taskapp("db", "retire-identity-keys", DATABASE_ADMIN_URL=admin_url,
                     TASKAPP_IDENTITY_KEY="never-stored-identity-key-" + "0123456789abcdef" * 2)
    assert result.returncode == 2
    assert "is not stored in the database" in result.stderr
