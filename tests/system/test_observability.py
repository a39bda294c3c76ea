"""What an operator sees: request ids, one JSON log line per request, metrics, server errors."""

import json
import logging
import os
import signal
import time
import urllib.request

import pytest

from taskapp.web.observability import JsonFormatter, hashed


@pytest.fixture()
def access_lines():
    """The access log as the JSON objects written to stderr."""
    lines = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(json.loads(JsonFormatter().format(record)))

    handler = Collect()
    logger = logging.getLogger("taskapp.access")
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


def test_every_answer_carries_a_request_id_and_a_client_id_is_echoed(client, alice):
    generated = client.get("/api/me/tasks", headers=alice.headers).headers["X-Request-ID"]
    again = client.get("/api/me/tasks", headers=alice.headers).headers["X-Request-ID"]
    assert generated and again and generated != again
    echoed = client.get("/api/me/tasks", headers={**alice.headers, "X-Request-ID": "trace-42.a"})
    assert echoed.headers["X-Request-ID"] == "trace-42.a"


@pytest.mark.parametrize("sent", ["x" * 129, "two words", "semi;colon", ""])
def test_a_malformed_request_id_is_replaced(client, alice, sent):
    response = client.get("/api/me/tasks", headers={**alice.headers, "X-Request-ID": sent})
    assert response.headers["X-Request-ID"] not in (sent, "")


def test_one_json_access_line_per_request_with_the_route_never_the_token(client, alice, create_task, access_lines):
    task = create_task(alice)
    access_lines.clear()
    response = client.get(f"/api/me/tasks/{task['id']}", headers={**alice.headers, "X-Request-ID": "req-1"})
    assert response.status_code == 200
    assert len(access_lines) == 1
    line = access_lines[0]
    assert line["method"] == "GET"
    assert line["route"] == "/api/<user_id>/tasks/<task_id>"
    assert line["status"] == 200
    assert line["request_id"] == "req-1"
    assert line["user"] == hashed(alice.sub) != alice.sub
    assert line["duration_ms"] >= 0 and line["level"] == "info" and line["time"]
    text = json.dumps(line)
    assert alice.token not in text and alice.sub not in text and task["id"] not in text


def test_refused_and_unknown_requests_are_logged_too(client, access_lines):
    assert client.get("/api/me/tasks").status_code == 401
    assert client.get("/no/such/page").status_code == 404
    assert [(line["status"], line["route"], line["user"]) for line in access_lines] == [
        (401, "/api/<user_id>/tasks", None), (404, "<unmatched>", None),
    ]


def test_metrics_count_requests_by_route_and_status(client, alice):
    for _ in range(3):
        client.get("/api/me/summary", headers=alice.headers)
    text = client.get("/metrics").get_data(as_text=True)
    count = next(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
        if line.startswith('taskapp_http_requests_total{method="GET",route="/api/<user_id>/summary",status="200"}')
    )
    assert count >= 3
    assert 'taskapp_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/<user_id>/summary"}' \
        in text
    assert "taskapp_db_pool_size" in text and "taskapp_db_pool_in_use" in text


def test_metrics_can_be_turned_off(make_app):
    assert make_app(METRICS=False).test_client().get("/metrics").status_code == 404


def test_a_server_fault_is_a_json_500_that_leaks_nothing_and_is_logged_with_its_traceback(make_app, capfd):
    app = make_app(PROPAGATE_EXCEPTIONS=False)  # as served; tests otherwise re-raise

    def broken():
        raise RuntimeError("secret internals: password=hunter2")

    app.add_url_rule("/broken", "broken", broken)
    response = app.test_client().get("/broken")
    assert response.status_code == 500
    assert response.json["code"] == 500
    assert "hunter2" not in response.get_data(as_text=True)
    assert response.headers["X-Request-ID"]
    logged = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    fault = next(line for line in logged if line["level"] == "error")
    assert "RuntimeError" in fault["traceback"] and "hunter2" in fault["traceback"]


def test_under_serve_every_workers_requests_are_counted_and_logged(database, alice):
    """`taskapp serve` with two workers: one scrape (on METRICS_PORT) sees them all."""
    from tests.support.served import Served, free_port

    metrics_port = free_port()
    server = Served(database.app_url, workers=2, threads=2, METRICS_PORT=str(metrics_port))
    try:
        for number in range(12):
            status, headers, _ = server.request(
                "GET", "/api/me/summary", headers={**alice.headers, "X-Request-ID": f"served-{number}"})
            assert status == 200 and headers["X-Request-ID"] == f"served-{number}"
        assert server.request("GET", "/metrics")[0] == 404
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as response:
            text = response.read().decode()
        counted = sum(
            float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith('taskapp_http_requests_total{method="GET",route="/api/<user_id>/summary",status="200"}')
        )
        assert counted == 12
        logged = {line.get("request_id") for line in server.log_lines() if line.get("event") == "request"}
        assert {f"served-{number}" for number in range(12)} <= logged
        # The server's own lines (its workers stopping included) still format beside taskapp's.
        assert server.stop() == 0
        assert "Stopped worker-2" in server.output()
        assert "Logging error" not in server.output()
    finally:
        server.close()


def worker_pids(server) -> set[int]:
    """The server's worker processes (nothing else runs beside it here: no MCP, no embedded worker)."""
    pid = server.process.pid
    with open(f"/proc/{pid}/task/{pid}/children") as children:
        return {int(child) for child in children.read().split()}


def gauge(metrics_url: str, name: str) -> float:
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + " "))


def test_a_worker_that_dies_is_replaced_and_the_metrics_forget_its_pool(database, alice):
    """kill -9 of one worker: the server starts another, answers throughout, and the pool gauges
    (summed over live workers) count the new one instead of adding it to the dead one."""
    from tests.support.served import Served, free_port

    metrics_port = free_port()
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    server = Served(database.app_url, workers=2, threads=2, METRICS_PORT=str(metrics_port), DATABASE_POOL_SIZE="3")
    try:
        for _ in range(6):
            assert server.request("GET", "/api/me/summary", headers=alice.headers)[0] == 200
        first = worker_pids(server)
        assert len(first) == 2 and gauge(metrics_url, "taskapp_db_pool_size") == 6
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while not (len(worker_pids(server)) == 2 and victim not in worker_pids(server)):
            assert time.monotonic() < deadline, "the dead worker was not replaced"
            time.sleep(0.2)
        for _ in range(6):
            assert server.request("GET", "/api/me/summary", headers=alice.headers)[0] == 200
        assert server.process.poll() is None
        deadline = time.monotonic() + 30
        while gauge(metrics_url, "taskapp_db_pool_size") != 6:  # the new worker counted once its app is built
            assert time.monotonic() < deadline, gauge(metrics_url, "taskapp_db_pool_size")
            time.sleep(0.2)
    finally:
        server.close()
