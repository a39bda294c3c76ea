"""Rate limits: each user's budget, each address's without a token, 429 with the headers."""

import pytest

from tests.support.users import new_user


@pytest.fixture(scope="module")
def limited(make_app):
    return make_app(TASKAPP_RATE_LIMIT="5/minute", TASKAPP_ANONYMOUS_RATE_LIMIT="3/minute").test_client()


def test_a_user_over_budget_gets_429_with_retry_after_and_the_budget(limited):
    user = new_user("busy")
    answers = [limited.get("/api/me/tasks", headers=user.headers) for _ in range(6)]
    assert [answer.status_code for answer in answers] == [200] * 5 + [429]
    assert [answer.headers["RateLimit-Remaining"] for answer in answers[:5]] == ["4", "3", "2", "1", "0"]
    assert answers[0].headers["RateLimit-Limit"] == "5" and answers[0].headers["RateLimit-Policy"] == "5;w=60"
    refused = answers[-1]
    assert refused.get_json()["code"] == 429 and "try again in" in refused.get_json()["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.headers["RateLimit-Remaining"] == "0"


def test_a_batch_spends_one_request_per_operation_and_over_budget_does_nothing(limited, client):
    user = new_user("batcher")
    three = {"operations": [{"op": "create_task", "task": {"title": f"t{n}"}} for n in range(3)]}
    answer = limited.post("/api/me/batch", json=three, headers=user.headers)
    assert answer.status_code == 200 and answer.headers["RateLimit-Remaining"] == "2"
    refused = limited.post("/api/me/batch", json=three, headers=user.headers)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    listed = client.get("/api/me/tasks", headers=user.headers).get_json()
    assert sorted(task["title"] for task in listed) == ["t0", "t1", "t2"]


def test_one_users_budget_is_not_anothers(limited):
    busy, other = new_user("busy"), new_user("other")
    for _ in range(6):
        limited.get("/api/me/summary", headers=busy.headers)
    assert limited.get("/api/me/summary", headers=other.headers).status_code == 200


def test_the_budget_counts_every_route_and_method_together(limited, alice):
    limited.post("/api/me/tasks", json={"title": "one"}, headers=alice.headers)
    limited.get("/api/me/tasks", headers=alice.headers)
    limited.get("/api/me/summary", headers=alice.headers)
    limited.get("/api/me/changes", headers=alice.headers)
    assert limited.get("/api/me/completions", headers=alice.headers).status_code == 200
    assert limited.post("/api/me/tasks", json={"title": "six"}, headers=alice.headers).status_code == 429


def test_requests_without_a_valid_token_spend_their_addresses_budget(make_app):
    client = make_app(TASKAPP_ANONYMOUS_RATE_LIMIT="3/minute").test_client()
    statuses = [client.get("/api/me/tasks", environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code
                for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    # Another address, and a valid token from the same one, are not held back.
    assert client.get("/api/me/tasks", environ_base={"REMOTE_ADDR": "192.0.2.8"}).status_code == 401
    user = new_user()
    assert client.get("/api/me/tasks", headers=user.headers,
                      environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 200


def test_probes_are_never_limited(make_app):
    client = make_app(TASKAPP_ANONYMOUS_RATE_LIMIT="1/minute").test_client()
    assert {client.get("/healthz").status_code for _ in range(5)} == {200}
    assert "RateLimit-Limit" not in client.get("/healthz").headers


def test_limits_can_be_switched_off(make_app, alice):
    client = make_app(TASKAPP_RATE_LIMIT="off").test_client()
    answer = client.get("/api/me/tasks", headers=alice.headers)
    assert answer.status_code == 200 and "RateLimit-Limit" not in answer.headers


def test_a_storage_that_cannot_be_reached_lets_requests_through(make_app, alice):
    """Counting stops; answering does not (nothing listens on port 9)."""
    client = make_app(TASKAPP_RATE_LIMIT="1/minute", TASKAPP_RATE_LIMIT_STORAGE_URL="redis://127.0.0.1:9/0").test_client()
    answers = [client.get("/api/me/tasks", headers=alice.headers) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert "RateLimit-Limit" not in answers[0].headers


def test_the_anonymous_budget_can_be_off_alone(make_app, alice):
    client = make_app(TASKAPP_RATE_LIMIT="2/minute", TASKAPP_ANONYMOUS_RATE_LIMIT="off").test_client()
    assert {client.get("/api/me/tasks").status_code for _ in range(4)} == {401}
    assert [client.get("/api/me/tasks", headers=alice.headers).status_code for _ in range(3)] == [200, 200, 429]


def test_when_two_windows_are_used_up_retry_after_waits_for_the_longer(make_app):
    client = make_app(TASKAPP_RATE_LIMIT="2/second;3/minute").test_client()
    user = new_user("both")
    statuses = [client.get("/api/me/summary", headers=user.headers).status_code for _ in range(6)]
    assert statuses[-1] == 429
    refused = client.get("/api/me/summary", headers=user.headers)
    assert refused.headers["RateLimit-Policy"] == "3;w=60" and int(refused.headers["Retry-After"]) > 2


@pytest.mark.parametrize("value", ["0/second", "lots", "5/fortnight"])
def test_a_budget_that_is_no_budget_is_refused_at_start(value):
    from taskapp.config import Config, ConfigError

    with pytest.raises(ConfigError, match="TASKAPP_RATE_LIMIT"):
        Config.from_env({"TASKAPP_RATE_LIMIT": value})
