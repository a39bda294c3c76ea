"""Behind PgBouncer in transaction mode, as Neon's pooled endpoint and most deployments run it.

Transaction pooling hands each transaction whichever server connection is free, so anything
an identity leaves on a connection would reach the next client. Identity set with
set_config(…, true) lives and dies with its transaction, which is what makes this safe; these
tests run a real pgbouncer in front of the test database and prove it.
"""

import threading

import psycopg
import pytest

from tests.support.identity import act_as
from tests.support.pooler import needs_pgbouncer
from tests.support.pooler import pgbouncer as run_pgbouncer
from tests.support.users import APP_PASSWORD, new_user

pytestmark = needs_pgbouncer
SERVER_CONNECTIONS = 3  # far fewer than the clients below: server connections are shared


@pytest.fixture(scope="module")
def pgbouncer(database):
    """A pgbouncer in pool_mode=transaction in front of the test database; yields its taskapp_app URL."""
    with run_pgbouncer(database.app_url, APP_PASSWORD, SERVER_CONNECTIONS) as url:
        yield url


def run_in_threads(worker, count: int) -> None:
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a worker hung"


def connect(url):
    return psycopg.connect(url, prepare_threshold=None, autocommit=True)


def backend_pids(url, clients: int) -> set[int]:
    """The server connections that `clients` simultaneous client connections land on."""
    conns = [connect(url) for _ in range(clients)]
    try:
        return {conn.execute("select pg_backend_pid()").fetchone()[0] for conn in conns}
    finally:
        for conn in conns:
            conn.close()


def test_the_pooler_really_shares_server_connections_between_clients(pgbouncer):
    """The fixture is meaningful: a session-level SET by one client reaches another client."""
    assert len(backend_pids(pgbouncer, 10)) <= SERVER_CONNECTIONS
    with connect(pgbouncer) as first, connect(pgbouncer) as second:
        first.execute("set app.user_id = 'leaked-identity'")
        seen = {second.execute("select current_setting('app.user_id', true)").fetchone()[0] for _ in range(20)}
        first.execute("reset app.user_id")
    assert "leaked-identity" in seen, "a session-level SET would leak: that is why identity is per transaction"


@pytest.fixture(scope="module")
def pooled_app(make_app, pgbouncer):
    return make_app(DATABASE_URL=pgbouncer, DATABASE_PREPARED_STATEMENTS=False, DATABASE_POOL_SIZE=8,
                    DATABASE_POOL_TIMEOUT=60)


def test_the_api_through_pgbouncer_keeps_every_user_to_their_own_tasks(pooled_app):
    client = pooled_app.test_client()
    alice, bob = new_user("pooled-alice"), new_user("pooled-bob")
    created = client.post("/api/me/tasks", json={"title": "alice's, via the pooler"}, headers=alice.headers)
    assert created.status_code == 201, created.json
    assert client.post("/api/me/tasks", json={"title": "bob's"}, headers=bob.headers).status_code == 201
    url = f"/api/me/tasks/{created.json['id']}"
    for method, suffix, body in (("GET", "", None), ("PATCH", "", {"title": "taken"}), ("PUT", "", {"title": "taken"}),
                                 ("PATCH", "/complete", None), ("DELETE", "", None)):
        assert client.open(url + suffix, method=method, json=body, headers=bob.headers).status_code == 404
    assert client.get(url, headers=alice.headers).json == created.json
    assert [t["title"] for t in client.get("/api/me/tasks", headers=alice.headers).json] == ["alice's, via the pooler"]
    assert [t["title"] for t in client.get("/api/me/tasks", headers=bob.headers).json] == ["bob's"]
    assert client.get("/api/me/summary", headers=bob.headers).json["tasks"]["total"] == 1


def test_32_threads_through_the_api_and_pgbouncer_see_only_their_own_tasks(pooled_app):
    users = [new_user("pooled-race") for _ in range(4)]
    setup = pooled_app.test_client()
    for index, user in enumerate(users):
        for n in range(index + 1):
            assert setup.post("/api/me/tasks", json={"title": f"{n}"}, headers=user.headers).status_code == 201
    failures = []

    def worker(number):
        client = pooled_app.test_client()
        for turn in range(40):
            index = (number + turn) % len(users)
            if turn % 10 == 0:  # writes in between: a created task must land with its creator only
                created = client.post("/api/me/tasks", json={"title": "w"}, headers=users[index].headers)
                client.delete(f"/api/me/tasks/{created.json['id']}", headers=users[index].headers)
            response = client.get("/api/me/tasks?limit=100", headers=users[index].headers)
            mine = [task for task in response.json if task["title"] != "w"] if response.status_code == 200 else None
            if mine is None or {t["user_id"] for t in response.json} != {users[index].sub} or len(mine) != index + 1:
                failures.append((number, turn, response.status_code))

    run_in_threads(worker, 32)
    assert failures == []


def test_thousands_of_transactions_over_pgbouncer_never_carry_an_identity_over(pgbouncer, database, create_task):
    """SQL level: 32 client connections on 3 server connections, identity set per transaction."""
    users = [new_user("pooled-sql") for _ in range(4)]
    with psycopg.connect(database.admin_url, autocommit=True) as admin:
        for index, user in enumerate(users):
            for n in range(index + 1):
                with admin.transaction():  # as the user, so the task goes to their Inbox
                    admin.execute("select taskapp_private.act_as(%s)", (user.sub,))
                    admin.execute("insert into tasks (title) values (%s)", (f"{n}",))
    failures = []

    def worker(number):
        with psycopg.connect(pgbouncer, prepare_threshold=None) as conn:
            for turn in range(100):
                index = (number + turn) % len(users)
                with conn.transaction():
                    before = conn.execute("select current_setting('app.user_id', true)").fetchone()[0]
                    act_as(conn, users[index].sub)
                    owners = [row[0] for row in conn.execute("select user_id from tasks")]
                if before not in (None, "") or set(owners) != {users[index].sub} or len(owners) != index + 1:
                    failures.append((number, turn, before, len(owners)))

    run_in_threads(worker, 32)
    assert failures == []


def test_a_forged_identity_shows_nothing_behind_the_pooler_either(pgbouncer, create_task, bob):
    create_task(bob, title="bob's, pooled")
    with psycopg.connect(pgbouncer, prepare_threshold=None) as conn:
        conn.execute("select set_config('app.user_id', %s, true)", (bob.sub,))
        assert conn.execute("select count(*) from tasks").fetchone()[0] == 0
        conn.rollback()
        act_as(conn, bob.sub)
        assert conn.execute("select count(*) from tasks").fetchone()[0] == 1
