"""Two nodes of the service counting one budget in a shared Redis."""

import socket
import uuid

import pytest

from tests.support.served import Served
from tests.support.users import make_token

REDIS = ("127.0.0.1", 6379)


def redis_answers() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


needs_redis = pytest.mark.skipif(
    not redis_answers(), reason="no Redis on 127.0.0.1:6379 (Debian: apt-get install redis-server; .ci/run starts it)")


@needs_redis
def test_two_nodes_sharing_redis_count_one_budget(database):
    budget = {"TASKAPP_RATE_LIMIT": "10/minute", "TASKAPP_ANONYMOUS_RATE_LIMIT": "1000/minute",
              "TASKAPP_RATE_LIMIT_STORAGE_URL": "redis://127.0.0.1:6379/0"}
    first, second = Served(database.app_url, workers=2, **budget), Served(database.app_url, workers=2, **budget)
    try:
        headers = {"Authorization": f"Bearer {make_token({'sub': f'shared-{uuid.uuid4().hex[:8]}'})}"}
        statuses = [node.request("GET", "/api/me/summary", headers=headers)[0]
                    for node in [first, second] * 5]
        assert statuses == [200] * 10
        status, answer_headers, body = second.request("GET", "/api/me/summary", headers=headers)
        assert status == 429 and body["code"] == 429
        assert answer_headers["RateLimit-Remaining"] == "0" and int(answer_headers["Retry-After"]) > 0
        assert first.request("GET", "/api/me/summary", headers=headers)[0] == 429
    finally:
        first.close()
        second.close()


def test_each_node_counts_alone_without_shared_storage(database):
    """The default: each process's own memory (so a node with two workers allows up to twice)."""
    budget = {"TASKAPP_RATE_LIMIT": "3/minute"}
    node = Served(database.app_url, workers=1, **budget)
    try:
        headers = {"Authorization": f"Bearer {make_token({'sub': f'alone-{uuid.uuid4().hex[:8]}'})}"}
        statuses = [node.request("GET", "/api/me/summary", headers=headers)[0] for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
    finally:
        node.close()
