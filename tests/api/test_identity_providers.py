"""Tokens from an outside identity provider: RS256, ES256 and EdDSA, by PEM or by JWKS.

Keys are generated here; the JWKS is served over HTTP on localhost (or read from a file://
URL), exactly as Better Auth, Auth0 or Keycloak publish theirs.
"""

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from taskapp.config import ConfigError
from taskapp.identity.token_keys import JwksKeys, KeysUnavailable, UnknownKey
from tests.support.users import SECRET, make_token

AUDIENCE = "https://tasks.example.com"
ISSUER = "https://auth.example.com"

GENERATE = {
    "RS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "EdDSA": ed25519.Ed25519PrivateKey.generate,
}
TO_JWK = {"RS256": RSAAlgorithm.to_jwk, "ES256": ECAlgorithm.to_jwk, "EdDSA": OKPAlgorithm.to_jwk}


class Provider:
    """An identity provider: signing keys by kid, and the JWKS document that publishes them."""

    def __init__(self, algorithm: str):
        self.algorithm = algorithm
        self.keys = {}
        self.rotate()

    def rotate(self) -> str:
        kid = uuid.uuid4().hex[:8]
        self.keys[kid] = GENERATE[self.algorithm]()
        self.kid = kid
        return kid

    def jwks(self) -> dict:
        entries = []
        for kid, key in self.keys.items():
            entry = TO_JWK[self.algorithm](key.public_key(), as_dict=True)
            entry.update(kid=kid, use="sig", alg=self.algorithm)
            entries.append(entry)
        return {"keys": entries}

    def public_pem(self) -> str:
        return self.keys[self.kid].public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def token(self, sub: str, kid: str | None = None, key=None, **claims) -> str:
        now = int(time.time())
        payload = {"sub": sub, "iat": now, "exp": now + 600, "aud": AUDIENCE, "iss": ISSUER}
        payload.update(claims)
        payload = {name: value for name, value in payload.items() if value is not None}
        kid = kid or self.kid
        return jwt.encode(payload, key or self.keys.get(kid) or self.keys[self.kid], algorithm=self.algorithm,
                          headers={"kid": kid})


class JwksServer:
    """The provider's JWKS endpoint on localhost, counting how often it is fetched."""

    def __init__(self, provider: Provider):
        self.provider = provider
        self.fetches = 0
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                served.fetches += 1
                body = json.dumps(served.provider.jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self):
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture(params=list(GENERATE))
def provider(request):
    return Provider(request.param)


@pytest.fixture()
def jwks_server(provider):
    server = JwksServer(provider)
    yield server
    server.stop()


def hmac_token_keyed_with(secret: bytes, sub: str) -> str:
    """The classic algorithm-confusion forgery, built by hand (PyJWT refuses to make it)."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = part(json.dumps({"sub": sub, "exp": int(time.time()) + 600}).encode())
    signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{part(signature)}"


def list_tasks(app, token):
    return app.test_client().get("/api/me/tasks", headers={"Authorization": f"Bearer {token}"})


# A deployment on an identity provider has no JWT secret; its page cursors are signed with
# TASKAPP_SECRET_KEY, which every node shares.
PROVIDER_ONLY = {"JWT_SECRET_KEY": None, "TASKAPP_SECRET_KEY": "cursor-key-" + "0123456789abcdef" * 3}


def pem_app(make_app, provider, **settings):
    settings = PROVIDER_ONLY | settings
    return make_app(JWT_ALGORITHM=provider.algorithm, JWT_PUBLIC_KEY=provider.public_pem(), **settings)


def jwks_app(make_app, provider, url, **settings):
    settings = PROVIDER_ONLY | {"JWT_AUDIENCE": AUDIENCE, "JWT_ISSUER": ISSUER} | settings
    return make_app(JWT_ALGORITHM=provider.algorithm, JWT_JWKS_URL=url, **settings)


def test_a_token_verified_by_a_pem_public_key_is_accepted(make_app, provider):
    app = pem_app(make_app, provider)
    response = list_tasks(app, provider.token("pem-user"))
    assert response.status_code == 200, response.json


def test_a_token_signed_by_another_key_of_the_same_kind_is_401(make_app, provider):
    app = pem_app(make_app, provider)
    impostor = GENERATE[provider.algorithm]()
    assert list_tasks(app, provider.token("pem-user", key=impostor)).status_code == 401


def test_an_hmac_token_keyed_with_the_public_key_is_401(make_app, provider):
    """Algorithm confusion: only the configured algorithm is ever accepted."""
    app = pem_app(make_app, provider)
    forged = hmac_token_keyed_with(provider.public_pem().encode(), "pem-user")
    assert list_tasks(app, forged).status_code == 401
    assert list_tasks(app, make_token({"sub": "pem-user"})).status_code == 401


def test_the_pem_may_be_given_as_a_file_path_or_with_escaped_newlines(make_app, provider, tmp_path):
    path = tmp_path / "provider.pem"
    path.write_text(provider.public_pem())
    by_path = make_app(JWT_ALGORITHM=provider.algorithm, JWT_PUBLIC_KEY=str(path), **PROVIDER_ONLY)
    escaped = make_app(JWT_ALGORITHM=provider.algorithm, JWT_PUBLIC_KEY=provider.public_pem().replace("\n", "\\n"),
                       **PROVIDER_ONLY)
    for app in (by_path, escaped):
        assert list_tasks(app, provider.token("pem-user")).status_code == 200


def test_tokens_from_the_jwks_are_accepted_and_isolated_like_any_other(make_app, provider, jwks_server):
    app = jwks_app(make_app, provider, jwks_server.url)
    client = app.test_client()
    alice = {"Authorization": f"Bearer {provider.token('idp-alice-' + uuid.uuid4().hex)}"}
    bob = {"Authorization": f"Bearer {provider.token('idp-bob-' + uuid.uuid4().hex)}"}
    created = client.post("/api/me/tasks", json={"title": "From the provider"}, headers=alice)
    assert created.status_code == 201, created.json
    assert [task["title"] for task in client.get("/api/me/tasks", headers=alice).json] == ["From the provider"]
    assert client.get("/api/me/tasks", headers=bob).json == []
    assert client.get(f"/api/me/tasks/{created.json['id']}", headers=bob).status_code == 404


def test_pages_are_signed_with_taskapp_secret_key_when_tokens_come_from_a_provider(make_app, provider):
    app = pem_app(make_app, provider)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {provider.token('idp-pager-' + uuid.uuid4().hex)}"}
    for title in ("one", "two", "three"):
        assert client.post("/api/me/tasks", json={"title": title}, headers=headers).status_code == 201
    first = client.get("/api/me/tasks?limit=2&sort=title", headers=headers)
    assert [task["title"] for task in first.json] == ["one", "three"]
    following = client.get(first.headers["Link"].split(">")[0].lstrip("<"), headers=headers)
    assert following.status_code == 200 and [task["title"] for task in following.json] == ["two"]


def test_a_provider_without_a_cursor_key_is_refused_at_start(make_app, provider):
    with pytest.raises(ConfigError, match="TASKAPP_SECRET_KEY is required"):
        pem_app(make_app, provider, TASKAPP_SECRET_KEY=None)


REFUSED = {
    "unknown kid": {"kid": "not-published"},
    "wrong audience": {"aud": "https://another-api.example.com"},
    "no audience": {"aud": None},
    "wrong issuer": {"iss": "https://evil.example.com"},
    "no issuer": {"iss": None},
    "expired": {"exp": int(time.time()) - 60},
}


@pytest.mark.parametrize("changes", REFUSED.values(), ids=REFUSED.keys())
def test_jwks_tokens_that_fail_a_check_are_401(make_app, provider, jwks_server, changes):
    app = jwks_app(make_app, provider, jwks_server.url)
    assert list_tasks(app, provider.token("idp-user")).status_code == 200
    response = list_tasks(app, provider.token("idp-user", **changes))
    assert response.status_code == 401
    assert response.json["code"] == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_token_signed_by_a_key_outside_the_jwks_under_a_published_kid_is_401(make_app, provider, jwks_server):
    app = jwks_app(make_app, provider, jwks_server.url)
    impostor = GENERATE[provider.algorithm]()
    assert list_tasks(app, provider.token("idp-user", key=impostor)).status_code == 401


def test_several_audiences_accept_a_token_for_any_of_them(make_app, provider, jwks_server):
    app = jwks_app(make_app, provider, jwks_server.url, JWT_AUDIENCE=["https://other.example.com", AUDIENCE])
    assert list_tasks(app, provider.token("idp-user")).status_code == 200


def test_leeway_forgives_a_little_clock_skew(make_app, provider, jwks_server):
    strict = jwks_app(make_app, provider, jwks_server.url)
    lenient = jwks_app(make_app, provider, jwks_server.url, JWT_LEEWAY=120)
    just_expired = provider.token("idp-user", exp=int(time.time()) - 30)
    assert list_tasks(strict, just_expired).status_code == 401
    assert list_tasks(lenient, just_expired).status_code == 200


def test_the_jwks_is_cached_and_unknown_kids_cannot_make_it_fetched_on_every_request(
    make_app, provider, jwks_server
):
    app = jwks_app(make_app, provider, jwks_server.url, JWKS_COOLDOWN_SECONDS=3600)
    for _ in range(5):
        assert list_tasks(app, provider.token("idp-user")).status_code == 200
    assert jwks_server.fetches == 1
    for attempt in range(5):
        assert list_tasks(app, provider.token("idp-user", kid=f"bogus-{attempt}")).status_code == 401
    assert jwks_server.fetches == 1


def test_a_rotated_key_is_fetched_when_its_kid_first_arrives(make_app, provider, jwks_server):
    app = jwks_app(make_app, provider, jwks_server.url, JWKS_COOLDOWN_SECONDS=0)
    assert list_tasks(app, provider.token("idp-user")).status_code == 200
    new_kid = provider.rotate()
    assert list_tasks(app, provider.token("idp-user", kid=new_kid)).status_code == 200
    assert jwks_server.fetches == 2


def test_a_file_url_jwks_works_offline(make_app, provider, tmp_path):
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(provider.jwks()))
    app = jwks_app(make_app, provider, path.as_uri())
    assert list_tasks(app, provider.token("idp-user")).status_code == 200


def test_an_unreachable_jwks_is_a_503_with_retry_after_not_a_401(make_app, provider, jwks_server):
    url = jwks_server.url
    jwks_server.stop()
    app = jwks_app(make_app, provider, url)
    response = list_tasks(app, provider.token("idp-user"))
    assert response.status_code == 503
    assert response.json["code"] == 503
    assert response.headers["Retry-After"]


def test_cached_keys_keep_working_while_the_provider_is_down(provider, jwks_server):
    keys = JwksKeys(jwks_server.url, provider.algorithm, lifespan=0, cooldown=0)
    first = keys.key_for({"kid": provider.kid})
    jwks_server.stop()
    assert keys.key_for({"kid": provider.kid}) is first
    with pytest.raises(KeysUnavailable):
        JwksKeys(jwks_server.url, provider.algorithm).key_for({"kid": provider.kid})


def test_a_token_without_kid_is_verified_when_the_jwks_holds_one_key(provider, jwks_server):
    keys = JwksKeys(jwks_server.url, provider.algorithm)
    assert keys.key_for({}) is not None
    provider.rotate()
    several = JwksKeys(jwks_server.url, provider.algorithm)
    with pytest.raises(UnknownKey):
        several.key_for({})


def test_keys_for_another_algorithm_in_the_jwks_are_ignored(provider, tmp_path):
    other = Provider("ES256" if provider.algorithm != "ES256" else "RS256")
    document = {"keys": provider.jwks()["keys"] + other.jwks()["keys"]}
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(document))
    keys = JwksKeys(path.as_uri(), provider.algorithm)
    assert keys.key_for({"kid": provider.kid}) is not None
    with pytest.raises(UnknownKey):
        keys.key_for({"kid": other.kid})


def test_hs256_stays_the_default(make_app):
    app = make_app()
    assert list_tasks(app, make_token({"sub": "hs-user"}, secret=SECRET)).status_code == 200
