"""Faults, with real processes: `taskapp serve` (Granian) on a PostgreSQL of the test's own,
which the tests stop, kill -9 and restart while clients are writing."""

import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field

import psycopg
import pytest

from tests.support.own_postgres import OwnPostgres
from tests.support.served import Served
from tests.support.users import APP_PASSWORD, new_user

SOAK_SECONDS = int(os.environ.get("TASKAPP_SOAK_SECONDS", "120"))


@pytest.fixture(scope="module")
def own_postgres():
    server = OwnPostgres(APP_PASSWORD)
    yield server
    server.close()


@pytest.fixture()
def serve(own_postgres):
    started = []

    def start(**env) -> Served:
        started.append(Served(own_postgres.app_url, **env))
        return started[-1]

    yield start
    for server in started:
        server.close()


def in_threads(count: int, target, *args) -> list[threading.Thread]:
    threads = [threading.Thread(target=target, args=(number, *args), daemon=True) for number in range(count)]
    for thread in threads:
        thread.start()
    return threads


def join(threads, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    for thread in threads:
        thread.join(max(0.1, deadline - time.monotonic()))
    assert not any(thread.is_alive() for thread in threads), "a client hung"


def all_tasks(server: Served, user) -> list[dict]:
    """Every task of the user, following the Link header page by page."""
    tasks, path = [], "/api/me/tasks?limit=500"
    while path:
        status, headers, page = server.request("GET", path, headers=user.headers)
        assert status == 200, page
        tasks += page
        link = headers.get("Link")
        path = link[link.index("/api/"):link.index(">")] if link else None
    return tasks


def test_a_database_outage_is_a_fast_503_and_the_same_process_recovers_by_itself(own_postgres, serve):
    server = serve()
    user = new_user("outage")
    assert server.request("POST", "/api/me/tasks", {"title": "before"}, user.headers)[0] == 201
    results, stop = [], threading.Event()

    def client(number):
        while not stop.is_set():
            started = time.monotonic()
            try:
                status, headers, body = server.request("GET", "/api/me/tasks", headers=user.headers, timeout=20)
            except OSError as error:
                status, headers, body = None, {}, repr(error)
            results.append((started, time.monotonic() - started, status, headers.get("Retry-After"), body))

    clients = in_threads(4, client)
    time.sleep(1)
    own_postgres.stop()
    down = time.monotonic()
    time.sleep(4)
    readiness_down = server.request("GET", "/readyz")
    restarting = time.monotonic()
    own_postgres.start()
    up = time.monotonic()
    time.sleep(6)
    stop.set()
    join(clients)
    readiness_up = server.request("GET", "/readyz")

    during = [r for r in results if r[0] > down + 0.5 and r[0] + r[1] < restarting]
    assert during, "requests were made while the database was down"
    assert {r[2] for r in during} == {503}
    assert all(r[3] and isinstance(r[4], dict) and r[4]["code"] == 503 for r in during)
    assert max(r[1] for r in during) < 5, "a request waited 5 s or more"
    assert {r[2] for r in results} <= {200, 503}, "only answers, never a 500 or a hang"
    recovered = [r for r in results if r[0] > up + 3]
    assert recovered and {r[2] for r in recovered} == {200}
    assert readiness_down[0] == 503 and readiness_down[1]["Retry-After"]
    assert readiness_up[0] == 200
    assert server.process.poll() is None, "the same server process is still serving"
    assert [task["title"] for task in all_tasks(server, user)] == ["before"]


def test_after_a_database_restart_pooled_connections_are_replaced_before_any_request_fails(own_postgres, serve):
    """Pooled connections are pinged only when idle or hung up; a restart must still cost nothing."""
    server = serve(DATABASE_POOL_SIZE="4")
    user = new_user("restart")
    assert server.request("POST", "/api/me/tasks", {"title": "kept"}, user.headers)[0] == 201
    warm = in_threads(4, lambda n: [server.request("GET", "/api/me/tasks", headers=user.headers) for _ in range(5)])
    join(warm)  # every pooled connection has been used
    own_postgres.stop()
    own_postgres.start()
    answers = [server.request("GET", "/api/me/tasks", headers=user.headers)[0] for _ in range(20)]
    assert answers == [200] * 20
    assert server.request("POST", "/api/me/tasks", {"title": "after"}, user.headers)[0] == 201


@dataclass
class Writer:
    """One client writing one user's tasks in turn, remembering what was acknowledged."""

    user: object = field(default_factory=lambda: new_user("writer"))
    acknowledged: dict = field(default_factory=dict)  # task id -> last acknowledged version
    attempted: dict = field(default_factory=dict)  # task id -> versions sent since (answer unknown)
    errors: list = field(default_factory=list)

    def run(self, server: Served, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                if not self.acknowledged or random.random() < 0.3:
                    self.create(server)
                else:
                    self.update(server, random.choice(list(self.acknowledged)))
            except OSError:  # the server is gone or restarting: the answer is unknown
                time.sleep(0.05)

    def create(self, server: Served) -> None:
        status, _, body = server.request("POST", "/api/me/tasks", {"title": "v0"}, self.user.headers)
        if status == 201:
            self.acknowledged[body["id"]] = 0
            self.attempted[body["id"]] = set()
        elif status != 503:
            self.errors.append((status, body))

    def update(self, server: Served, task_id: str) -> None:
        version = max({self.acknowledged[task_id], *self.attempted[task_id]}) + 1
        self.attempted[task_id].add(version)
        status, _, body = server.request(
            "PATCH", f"/api/me/tasks/{task_id}", {"title": f"v{version}"}, self.user.headers
        )
        if status == 200:
            self.acknowledged[task_id] = version
            self.attempted[task_id] = set()
        elif status != 503:
            self.errors.append((status, body))

    def check(self, server: Served) -> None:
        """Every acknowledged task is there, at its acknowledged version or a later one sent."""
        assert self.errors == []
        stored = {task["id"]: int(task["title"][1:]) for task in all_tasks(server, self.user)}
        for task_id, version in self.acknowledged.items():
            assert task_id in stored, "an acknowledged task was lost"
            assert stored[task_id] in {version} | self.attempted[task_id], "an acknowledged update was lost"


def write_while(server: Served, fault, writers: int = 8, before: float = 2.0, after: float = 0.0) -> list[Writer]:
    clients = [Writer() for _ in range(writers)]
    stop = threading.Event()
    threads = in_threads(writers, lambda number: clients[number].run(server, stop))
    time.sleep(before)
    fault()
    time.sleep(after)
    stop.set()
    join(threads)
    assert sum(len(client.acknowledged) for client in clients) > writers, "the clients got writes acknowledged"
    return clients


def test_acknowledged_writes_survive_kill_9_of_the_server(serve):
    server = serve()
    clients = write_while(server, server.kill)
    restarted = serve()
    for client in clients:
        client.check(restarted)


def test_acknowledged_writes_survive_kill_9_of_postgresql(own_postgres, serve):
    server = serve()

    def crash_and_recover():
        own_postgres.kill()
        time.sleep(1)
        own_postgres.start()

    clients = write_while(server, crash_and_recover, after=3.0)
    assert server.process.poll() is None
    for client in clients:
        client.check(server)


def test_sigterm_lets_in_flight_requests_finish_and_refuses_new_ones(own_postgres, serve):
    server = serve()
    user = new_user("shutdown")
    _, _, task = server.request("POST", "/api/me/tasks", {"title": "before"}, user.headers)
    answer = {}
    with psycopg.connect(own_postgres.admin_url) as admin:
        # Hold the row, so the PATCH below is in flight (waiting for the lock) when SIGTERM comes.
        admin.execute("select 1 from tasks where id = %s for update", (task["id"],))
        patch = threading.Thread(target=lambda: answer.update(
            result=server.request("PATCH", f"/api/me/tasks/{task['id']}", {"title": "finished"}, user.headers,
                                  timeout=30)))
        patch.start()
        deadline = time.monotonic() + 10
        while not admin.execute(
            "select count(*) from pg_stat_activity where usename = 'taskapp_app' and wait_event_type = 'Lock'"
        ).fetchone()[0]:
            assert time.monotonic() < deadline, "the PATCH never reached the database"
            time.sleep(0.05)
        server.process.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        with pytest.raises(OSError):
            server.request("GET", "/healthz", timeout=1)  # (the row stays locked well within lock_timeout)
        admin.commit()
    patch.join(30)
    status, _, body = answer["result"]
    assert status == 200 and body["title"] == "finished"
    assert server.process.wait(timeout=30) == 0
    with psycopg.connect(own_postgres.admin_url) as admin:
        assert admin.execute("select title from tasks where id = %s", (task["id"],)).fetchone()[0] == "finished"


def test_a_soak_of_32_clients_ends_with_every_user_holding_exactly_what_was_acknowledged(serve):
    server = serve(workers=2, threads=8)
    deadline = time.monotonic() + SOAK_SECONDS
    failures, counts = [], []

    def client(number):
        user, model, done = new_user(f"soak{number}"), {}, 0
        while time.monotonic() < deadline:
            choice = random.random()
            if choice < 0.25 or not model:
                status, _, body = server.request(
                    "POST", "/api/me/tasks", {"title": f"t{done}", "tags": [random.choice("abc")]}, user.headers)
                if status == 201:
                    model[body["id"]] = (body["title"], body["priority"], body["completed"])
            elif choice < 0.45:
                task_id = random.choice(list(model))
                priority = random.choice(["low", "medium", "high"])
                status, _, body = server.request("PATCH", f"/api/me/tasks/{task_id}", {"priority": priority},
                                                 user.headers)
                if status == 200:
                    model[task_id] = (body["title"], body["priority"], body["completed"])
            elif choice < 0.6:
                task_id = random.choice(list(model))
                status, _, body = server.request("PATCH", f"/api/me/tasks/{task_id}/complete", None, user.headers)
                if status == 200:
                    model[task_id] = (body["title"], body["priority"], body["completed"])
            elif choice < 0.7:
                task_id = random.choice(list(model))
                status, _, body = server.request("DELETE", f"/api/me/tasks/{task_id}", None, user.headers)
                if status == 204:
                    del model[task_id]
            else:
                status, _, body = server.request("GET", "/api/me/tasks?limit=100&sort=title", headers=user.headers)
                if status == 200 and {task["user_id"] for task in body} - {user.sub}:
                    failures.append(("saw another user's task", number))
            if status >= 300:
                failures.append((status, body))
            done += 1
        stored = {task["id"]: (task["title"], task["priority"], task["completed"]) for task in all_tasks(server, user)}
        if stored != model:
            failures.append(("final state differs from the acknowledged requests", number))
        counts.append(done)

    join(in_threads(32, client), SOAK_SECONDS + 120)
    assert failures == []
    assert len(counts) == 32 and sum(counts) > 32 * 10
