"""How a request's transaction ends: reads COMMIT (so psycopg keeps prepared statements),
writes commit in their views, and anything a failed request leaves is rolled back."""

from sqlalchemy import text


def prepared_on_the_only_connection(app) -> int:
    engine = app.extensions["taskapp.db"]["engine"]
    with engine.connect() as connection:
        return connection.execute(text("select count(*) from pg_prepared_statements")).scalar()


def test_read_requests_keep_their_prepared_statements(make_app, alice):
    app = make_app(DATABASE_POOL_SIZE=1)
    client = app.test_client()
    client.post("/api/me/tasks", json={"title": "one"}, headers=alice.headers)
    for _ in range(8):  # psycopg prepares a statement on its sixth run
        assert client.get("/api/me/tasks?limit=20", headers=alice.headers).status_code == 200
    assert prepared_on_the_only_connection(app) > 0


def test_a_write_refused_after_its_read_changes_nothing(client, alice, create_task):
    task = create_task(alice, title="kept")
    stale = '"0000"'
    response = client.patch(f"/api/me/tasks/{task['id']}", json={"title": "lost"},
                            headers={**alice.headers, "If-Match": stale})
    assert response.status_code == 412
    assert client.get(f"/api/me/tasks/{task['id']}", headers=alice.headers).json["title"] == "kept"


def test_a_read_leaves_no_identity_on_its_connection(make_app, alice):
    app = make_app(DATABASE_POOL_SIZE=1)
    app.test_client().get("/api/me/tasks", headers=alice.headers)
    engine = app.extensions["taskapp.db"]["engine"]
    with engine.connect() as connection:
        assert connection.execute(text("select current_setting('app.user_id', true)")).scalar() in (None, "")
