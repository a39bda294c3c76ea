"""Isolation through HTTP: another user's task does not exist, for every verb."""

import pytest

VERBS = [
    ("GET", "", None),
    ("PUT", "", {"title": "taken over"}),
    ("PATCH", "", {"title": "taken over"}),
    ("PATCH", "/complete", None),
    ("DELETE", "", None),
]


@pytest.mark.parametrize("method, suffix, body", VERBS, ids=[f"{m}{s}" for m, s, _ in VERBS])
def test_other_users_task_is_404_for_every_verb(client, alice, bob, create_task, method, suffix, body):
    task = create_task(alice, title="alice's secret", tags=["private"])
    url = f"/api/me/tasks/{task['id']}"
    response = client.open(url + suffix, method=method, json=body, headers=bob.headers)
    unknown = client.open(
        f"/api/me/tasks/00000000-0000-0000-0000-000000000000{suffix}", method=method, json=body, headers=bob.headers
    )
    # Same answer as for a task that does not exist: nothing to learn.
    assert response.status_code == unknown.status_code == 404
    assert response.json == unknown.json
    assert client.get(url, headers=alice.headers).json == task


def test_if_match_on_another_users_task_is_still_404(client, alice, bob, create_task):
    response = client.post("/api/me/tasks", json={"title": "a"}, headers=alice.headers)
    url = response.headers["Location"]
    stale = client.patch(url, json={"title": "b"}, headers={**bob.headers, "If-Match": response.headers["ETag"]})
    assert stale.status_code == 404


def test_lists_and_summaries_never_mix_users(client, alice, bob, create_task):
    create_task(alice, title="a1")
    create_task(bob, title="b1")
    create_task(bob, title="b2")
    assert [t["title"] for t in client.get("/api/me/tasks", headers=alice.headers).json] == ["a1"]
    assert [t["user_id"] for t in client.get("/api/me/tasks", headers=bob.headers).json] == [bob.sub] * 2
    assert client.get("/api/me/summary", headers=bob.headers).json["tasks"]["total"] == 2


def test_no_identity_leaks_through_a_pool_of_one_connection(make_app, alice, bob):
    """One pooled connection serves every request in turn, including one that failed mid-transaction."""
    app = make_app(DATABASE_POOL_SIZE=1)
    client = app.test_client()
    for user, title in ((alice, "alice 1"), (bob, "bob 1"), (alice, "alice 2"), (bob, "bob 2")):
        assert client.post("/api/me/tasks", json={"title": title}, headers=user.headers).status_code == 201

    # A request that fails inside its transaction: the trigger-backed CHECK refuses the
    # row after identity was set (a title too long for the database, sent past the schema).
    with app.test_request_context(headers=alice.headers):
        from flask import g
        from sqlalchemy.exc import IntegrityError

        from taskapp.database.transaction import get_connection
        from taskapp.tasks import queries

        g.user_id = alice.sub
        connection = get_connection()
        with pytest.raises(IntegrityError):
            connection.execute(*queries.create({"title": "x" * 300}))
        connection.close()

    for _ in range(3):
        for user, expected in ((bob, {"bob 1", "bob 2"}), (alice, {"alice 1", "alice 2"})):
            tasks = client.get("/api/me/tasks", headers=user.headers).json
            assert {t["title"] for t in tasks} == expected
            assert {t["user_id"] for t in tasks} == {user.sub}
    engine = app.extensions["taskapp.db"]["engine"]
    assert engine.pool.size() == 1


def test_a_request_without_identity_on_a_used_connection_sees_nothing(make_app, alice):
    """After a user's request, the same pooled connection carries no identity."""
    app = make_app(DATABASE_POOL_SIZE=1)
    client = app.test_client()
    client.post("/api/me/tasks", json={"title": "mine"}, headers=alice.headers)
    from sqlalchemy import text

    engine = app.extensions["taskapp.db"]["engine"]
    with engine.connect() as connection:
        assert connection.execute(text("select current_setting('app.user_id', true)")).scalar() in (None, "")
        assert connection.execute(text("select count(*) from tasks")).scalar() == 0
