"""A web frontend on another origin can call the API; every response carries protective headers."""

import pytest

FRONTEND = "https://app.example.com"


@pytest.fixture(scope="module")
def cors_client(make_app):
    return make_app(CORS_ORIGINS=[FRONTEND, "http://localhost:5173"]).test_client()


def test_a_preflight_from_an_allowed_origin_is_answered_without_a_token(cors_client):
    response = cors_client.options(
        "/api/me/tasks",
        headers={
            "Origin": FRONTEND,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == FRONTEND
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_an_allowed_origin_can_read_the_response_and_its_headers(cors_client, alice):
    response = cors_client.post(
        "/api/me/tasks", json={"title": "from the browser"}, headers={**alice.headers, "Origin": FRONTEND}
    )
    assert response.status_code == 201
    assert response.headers["Access-Control-Allow-Origin"] == FRONTEND
    exposed = response.headers["Access-Control-Expose-Headers"]
    assert "ETag" in exposed and "Location" in exposed and "Link" in exposed and "X-Request-ID" in exposed
    assert "Idempotent-Replayed" in exposed


def test_another_origin_gets_no_cors_grant(cors_client, alice):
    response = cors_client.get("/api/me/tasks", headers={**alice.headers, "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_no_origin_is_allowed_by_default(client, alice):
    response = client.get("/api/me/tasks", headers={**alice.headers, "Origin": FRONTEND})
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("path", ["/api/me/tasks", "/api/me/nothing", "/healthz", "/api/openapi.json", "/api/docs"])
def test_every_response_has_protective_headers(client, alice, path):
    response = client.get(path, headers=alice.headers)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    if path.startswith("/api/") and not path.startswith("/api/docs"):
        assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("raw", ["*", "app.example.com", "https://app.example.com/path", "ftp://x"])
def test_cors_origins_must_be_exact_origins(raw):
    from taskapp.config import ConfigError, cors_origins

    with pytest.raises(ConfigError):
        cors_origins(raw)
