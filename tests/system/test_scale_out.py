"""Two stateless `taskapp serve` nodes behind a real HAProxy, over one PostgreSQL through a real
PgBouncer in transaction mode: whatever one node hands a client, the other honours, and losing a
node loses nothing that was acknowledged."""

import threading
import time
import uuid

import pytest

from tests.support.balancer import Balancer, needs_haproxy
from tests.support.pooler import needs_pgbouncer, pgbouncer
from tests.support.served import Served, http_request
from tests.support.users import APP_PASSWORD, make_token, new_user

pytestmark = [needs_pgbouncer, needs_haproxy]
NODE_SETTINGS = {"DATABASE_PREPARED_STATEMENTS": "off", "DATABASE_POOL_SIZE": "4"}  # Debian's PgBouncer is 1.18


@pytest.fixture(scope="module")
def cluster(database):
    """{"node1": Served, "node2": Served, "balancer": Balancer}: the same settings on both nodes."""
    with pgbouncer(database.app_url, APP_PASSWORD, server_connections=6) as pooled_url:
        nodes = {name: Served(pooled_url, workers=1, threads=4, **NODE_SETTINGS) for name in ("node1", "node2")}
        balancer = Balancer({name: node.port for name, node in nodes.items()})
        try:
            yield {**nodes, "balancer": balancer}
        finally:
            balancer.close()
            for node in nodes.values():
                node.close()


def test_a_page_cursor_made_by_one_node_is_followed_on_the_other(cluster):
    user = new_user("two-nodes-pages")
    for title in ("a", "b", "c"):
        assert cluster["node1"].request("POST", "/api/me/tasks", {"title": title}, user.headers)[0] == 201
    status, headers, first = cluster["node1"].request("GET", "/api/me/tasks?sort=title&limit=2", headers=user.headers)
    assert status == 200 and [task["title"] for task in first] == ["a", "b"]
    next_page = headers["Link"].split(">")[0].lstrip("<")
    status, _, rest = cluster["node2"].request("GET", next_page, headers=user.headers)
    assert status == 200 and [task["title"] for task in rest] == ["c"]


def test_an_etag_from_one_node_is_a_precondition_on_the_other(cluster):
    user = new_user("two-nodes-etags")
    _, _, task = cluster["node1"].request("POST", "/api/me/tasks", {"title": "versioned"}, user.headers)
    status, headers, _ = cluster["node1"].request("GET", f"/api/me/tasks/{task['id']}", headers=user.headers)
    etag = headers["ETag"]
    assert cluster["node2"].request("GET", f"/api/me/tasks/{task['id']}",
                                    headers={**user.headers, "If-None-Match": etag})[0] == 304
    status, _, patched = cluster["node2"].request("PATCH", f"/api/me/tasks/{task['id']}", {"title": "edited"},
                                                  {**user.headers, "If-Match": etag})
    assert status == 200 and patched["title"] == "edited"
    stale = cluster["node1"].request("PATCH", f"/api/me/tasks/{task['id']}", {"title": "lost update"},
                                     {**user.headers, "If-Match": etag})
    assert stale[0] == 412


def test_a_token_verified_on_one_node_is_accepted_on_the_other_and_a_forgery_on_neither(cluster):
    user = new_user("two-nodes-token")
    forged = make_token({"sub": user.sub}, secret="another-secret-" + "0" * 32)
    for name in ("node1", "node2"):
        assert cluster[name].request("GET", "/api/me/tasks", headers=user.headers)[0] == 200
        assert cluster[name].request("GET", "/api/me/tasks", headers={"Authorization": f"Bearer {forged}"})[0] == 401


def served_requests(node) -> int:
    return sum(1 for line in node.log_lines() if line.get("event") == "request" and line["route"].startswith("/api/"))


def test_isolation_holds_with_users_spread_over_both_nodes(cluster):
    users = [new_user("two-nodes-isolation") for _ in range(8)]
    before = {name: served_requests(cluster[name]) for name in ("node1", "node2")}
    created = {user.sub: [] for user in users}
    errors = []

    def client(user):
        for n in range(6):
            status, _, task = http_request(cluster["balancer"].url, "POST", "/api/me/tasks", {"title": f"{n}"},
                                           user.headers)
            if status != 201:
                errors.append((user.sub, status, task))
            else:
                created[user.sub].append(task["id"])

    threads = [threading.Thread(target=client, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    for name in ("node1", "node2"):
        assert served_requests(cluster[name]) - before[name] >= 10, f"{name} served too little of the load"
    for index, user in enumerate(users):
        other = users[(index + 1) % len(users)]
        for base in (cluster["balancer"].url, cluster["node1"].url, cluster["node2"].url):
            status, _, tasks = http_request(base, "GET", "/api/me/tasks", headers=user.headers)
            assert status == 200 and sorted(task["id"] for task in tasks) == sorted(created[user.sub])
            assert {task["user_id"] for task in tasks} == {user.sub}
            assert http_request(base, "GET", f"/api/me/tasks/{created[other.sub][0]}", headers=user.headers)[0] == 404


def test_a_node_killed_under_load_loses_only_its_requests_in_flight_and_no_acknowledged_write(cluster):
    """Runs last: it leaves node2 dead."""
    balancer, victim = cluster["balancer"], cluster["node2"]
    users = [new_user("two-nodes-kill") for _ in range(8)]
    outcomes = []  # (user, title, started, finished, status or the error)
    stop = threading.Event()

    def client(user):
        while not stop.is_set():
            title = uuid.uuid4().hex
            started = time.monotonic()
            try:
                status = http_request(balancer.url, "POST", "/api/me/tasks", {"title": title}, user.headers)[0]
            except OSError as error:
                status = repr(error)
            outcomes.append((user, title, started, time.monotonic(), status))

    threads = [threading.Thread(target=client, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    time.sleep(2)
    kill_sent = time.monotonic()
    victim.kill()  # kill -9 of master and workers; returns once they are gone
    killed_at = time.monotonic()
    balancer.wait_until(lambda states: states["node2"] == "DOWN", "node2 DOWN")
    down_at = time.monotonic()
    time.sleep(2)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)

    # The survivor was never taken for dead while it carried every client.
    assert balancer.states()["node1"] == "UP"
    failed = [outcome for outcome in outcomes if outcome[4] != 201]
    acknowledged = [outcome for outcome in outcomes if outcome[4] == 201]
    seen = [(who.sub, status, round(started - killed_at, 3), round(finished - killed_at, 3))
            for who, _, started, finished, status in failed]
    # Only requests sent to it while it died fail. Dying is not instant: until its last process
    # is gone its socket may still take a connection (seen: a client's next request, 6 ms after
    # its first failed, also failed), so a client can lose more than one. Any request sent once
    # it is gone reaches the survivor (a refused connection is redispatched).
    assert all(kill_sent <= finished and started < killed_at for _, _, started, finished, _ in failed), seen
    # Each either answered 502 or cut off mid-answer (the node died between headers and body);
    # never a 503 (no node left) or any other answer.
    assert all(status == 502 or isinstance(status, str) for _, _, _, _, status in failed), seen
    # The balancer stopped sending to it, and the survivor took all the load.
    assert sum(1 for outcome in acknowledged if outcome[2] > down_at) >= 20
    assert len(acknowledged) > 100
    # Every acknowledged write is in the database.
    for user in users:
        titles = set()
        url = "/api/me/tasks?limit=500"
        while url:
            status, headers, page = http_request(balancer.url, "GET", url, headers=user.headers)
            assert status == 200
            titles |= {task["title"] for task in page}
            url = headers["Link"].split(">")[0].lstrip("<") if headers.get("Link") else None
        mine = {title for who, title, _, _, status in acknowledged if who is user}
        assert mine <= titles, f"acknowledged but lost: {mine - titles}"
