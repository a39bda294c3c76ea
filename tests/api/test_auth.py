"""Authentication comes first: no valid token, no answer but 401 — before any 403 or 404."""

import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from taskapp.identity.token_cache import VerifiedTokens, bearer_token
from taskapp.identity.token_keys import StaticKey
from tests.support.users import make_token

NOW = int(time.time())


def rsa_private_pem():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def alg_none_token(sub):
    import base64
    import json

    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({'sub': sub, 'exp': NOW + 600})}."


BAD_AUTHORIZATION = {
    "missing header": None,
    "empty bearer": "Bearer ",
    "not a jwt": "Bearer not-a-token",
    "basic scheme": "Basic dXNlcjpwYXNz",
    "three garbage parts": "Bearer a.b.c",
    "bad signature": "Bearer " + make_token({"sub": "u1"}, secret="another-secret-" + "x" * 64),
    "alg none": "Bearer " + alg_none_token("u1"),
    "another hmac algorithm": "Bearer " + make_token({"sub": "u1"}, algorithm="HS512"),
    "rsa signed": "Bearer " + make_token({"sub": "u1"}, secret=rsa_private_pem(), algorithm="RS256"),
    "expired": "Bearer " + make_token({"sub": "u1", "iat": NOW - 7200, "exp": NOW - 3600}),
    "no exp": "Bearer " + make_token({"sub": "u1", "exp": None}),
    "no sub": "Bearer " + make_token({"sub": None}),
    "empty sub": "Bearer " + make_token({"sub": ""}),
    "blank sub": "Bearer " + make_token({"sub": "   "}),
    "numeric sub": "Bearer " + make_token({"sub": 42}),
    "sub over 255 characters": "Bearer " + make_token({"sub": "u" * 256}),
    "sub with NUL": "Bearer " + make_token({"sub": "u\x00v"}),
    "not yet valid": "Bearer " + make_token({"sub": "u1", "nbf": NOW + 3600}),
}


@pytest.mark.parametrize("authorization", BAD_AUTHORIZATION.values(), ids=BAD_AUTHORIZATION.keys())
def test_bad_or_missing_tokens_are_401_json_with_a_bearer_challenge(client, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = client.get("/api/me/tasks", headers=headers)
    assert response.status_code == 401
    assert response.json["code"] == 401
    assert response.json["status"] == "Unauthorized"
    assert response.json["message"]
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="taskapp"')


def test_a_refused_token_is_named_invalid_in_the_challenge(client):
    response = client.get("/api/me/tasks", headers={"Authorization": "Bearer a.b.c"})
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/api/someone-else/tasks"),
        ("GET", "/api/me/tasks/00000000-0000-0000-0000-000000000000"),
        ("GET", "/api/me/tasks/not-a-uuid"),
        ("DELETE", "/api/me/tasks"),
        ("GET", "/api/me/no-such-route"),
        ("POST", "/api/me/summary"),
        ("PUT", "/api/me/tasks/00000000-0000-0000-0000-000000000000"),
    ],
)
def test_401_comes_before_403_404_and_405(client, method, path):
    response = client.open(path, method=method, json={"title": "x"})
    assert response.status_code == 401


def test_a_token_from_any_issuer_with_only_sub_and_exp_is_accepted(client):
    token = make_token({"sub": "plain-issuer-user", "iat": None})
    response = client.get("/api/me/tasks", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json == []


def test_the_path_may_name_the_caller_or_me(client, alice, create_task):
    create_task(alice, title="mine")
    by_sub = client.get(f"/api/{alice.sub}/tasks", headers=alice.headers)
    by_me = client.get("/api/me/tasks", headers=alice.headers)
    assert by_sub.status_code == by_me.status_code == 200
    assert [t["title"] for t in by_sub.json] == [t["title"] for t in by_me.json] == ["mine"]


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/tasks"),
        ("POST", "/tasks"),
        ("GET", "/tasks/00000000-0000-0000-0000-000000000000"),
        ("PUT", "/tasks/00000000-0000-0000-0000-000000000000"),
        ("PATCH", "/tasks/00000000-0000-0000-0000-000000000000"),
        ("PATCH", "/tasks/00000000-0000-0000-0000-000000000000/complete"),
        ("DELETE", "/tasks/00000000-0000-0000-0000-000000000000"),
        ("GET", "/summary"),
    ],
)
def test_another_users_path_is_403_for_every_route(client, alice, bob, method, path):
    response = client.open(f"/api/{bob.sub}{path}", method=method, json={"title": "x"}, headers=alice.headers)
    assert response.status_code == 403
    assert response.json == {
        "code": 403,
        "status": "Forbidden",
        "message": "You may only access your own tasks.",
    }


@pytest.mark.parametrize("path", ["/api/openapi.json", "/api/docs", "/healthz", "/readyz"])
def test_documentation_and_probes_need_no_token(client, path):
    assert client.get(path).status_code == 200


def test_a_remembered_token_stops_working_when_it_expires(make_app):
    app = make_app()
    client = app.test_client()
    token = make_token({"sub": "short-lived", "exp": int(time.time()) + 2})
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/me/tasks", headers=headers).status_code == 200
    assert client.get("/api/me/tasks", headers=headers).status_code == 200  # remembered
    time.sleep(max(0.0, jwt_exp(token) - time.time()) + 0.2)
    response = client.get("/api/me/tasks", headers=headers)
    assert response.status_code == 401
    assert "expired" in response.json["message"]


def test_a_token_remembered_by_one_app_means_nothing_to_another(make_app):
    token = make_token({"sub": "per-app"})
    headers = {"Authorization": f"Bearer {token}"}
    assert make_app().test_client().get("/api/me/tasks", headers=headers).status_code == 200
    other = make_app(JWT_SECRET_KEY="another-secret-" + "y" * 40)
    assert other.test_client().get("/api/me/tasks", headers=headers).status_code == 401


def test_a_verified_token_is_not_checked_again_within_a_minute(make_app):
    """What remembering buys (and its limit): the signature is checked once, not per request."""
    app = make_app()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {make_token({'sub': 'remembered'})}"}
    assert client.get("/api/me/tasks", headers=headers).status_code == 200
    app.extensions["taskapp.keys"] = StaticKey("a-rotated-secret-" + "z" * 40)
    assert client.get("/api/me/tasks", headers=headers).status_code == 200
    fresh = {"Authorization": f"Bearer {make_token({'sub': 'remembered', 'jti': 'new'})}"}
    assert client.get("/api/me/tasks", headers=fresh).status_code == 401


def test_remembered_tokens_are_bounded_and_short_lived():
    remembered = VerifiedTokens(size=3, seconds=60)
    for number in range(5):
        remembered.remember(f"t{number}", f"user{number}", time.time() + 600, 0)
    assert [remembered.subject(f"t{n}") for n in range(5)] == [None, None, "user2", "user3", "user4"]
    remembered.remember("expiring", "soon", time.time() - 1, 0)
    assert remembered.subject("expiring") is None
    remembered.remember("lenient", "skewed", time.time() - 1, 30)
    assert remembered.subject("lenient") == "skewed"
    assert VerifiedTokens(seconds=0).subject("anything") is None


@pytest.mark.parametrize(
    "authorization, token",
    [("Bearer a.b.c", "a.b.c"), ("Bearer a.b", None), ("bearer a.b.c", None), ("Bearer a.b.c, Bearer d.e.f", None),
     ("Bearer  a.b.c", None), (None, None), ("Bearer a.b.c ", None)],
)
def test_only_a_plain_bearer_header_is_remembered(authorization, token):
    assert bearer_token(authorization) == token


def jwt_exp(token):
    import jwt

    return jwt.decode(token, options={"verify_signature": False})["exp"]
