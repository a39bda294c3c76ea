"""Token settings are checked when the configuration is read: a mistake is one clear line."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from taskapp.config import Config, ConfigError
from taskapp.database.embedded import serving_config
from tests.support.served import CONFIG_VARIABLES


def public_pem(private_key) -> str:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@pytest.fixture()
def env(monkeypatch):
    for name in CONFIG_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def set_env(**values):
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        return Config.from_env()

    return set_env


EC_PEM = public_pem(ec.generate_private_key(ec.SECP256R1()))
ED_PEM = public_pem(ed25519.Ed25519PrivateKey.generate())

REFUSED = {
    "public key with HS256": ({"JWT_PUBLIC_KEY": EC_PEM}, "asymmetric JWT_ALGORITHM"),
    "jwks with HS256": ({"JWT_JWKS_URL": "https://auth.example.com/jwks"}, "asymmetric JWT_ALGORITHM"),
    "both key sources": (
        {"JWT_ALGORITHM": "ES256", "JWT_PUBLIC_KEY": EC_PEM, "JWT_JWKS_URL": "https://auth.example.com/jwks"},
        "exactly one",
    ),
    "neither key source": ({"JWT_ALGORITHM": "EdDSA"}, "exactly one"),
    "key of another kind": ({"JWT_ALGORITHM": "RS256", "JWT_PUBLIC_KEY": EC_PEM}, "not a key for RS256"),
    "missing key file": ({"JWT_ALGORITHM": "ES256", "JWT_PUBLIC_KEY": "/no/such/key.pem"}, "path of a PEM file"),
    "private key text": (
        {"JWT_ALGORITHM": "ES256", "JWT_PUBLIC_KEY": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"},
        "not a PEM public key",
    ),
    "jwks over ftp": ({"JWT_ALGORITHM": "ES256", "JWT_JWKS_URL": "ftp://auth.example.com/jwks"}, "JWT_JWKS_URL"),
    "lowercase algorithm": ({"JWT_ALGORITHM": "rs256"}, "JWT_ALGORITHM must be"),
    "negative leeway": ({"JWT_LEEWAY": "-5"}, "JWT_LEEWAY"),
    "short cursor key": ({"TASKAPP_SECRET_KEY": "short"}, "TASKAPP_SECRET_KEY must be at least 32 bytes"),
}


@pytest.mark.parametrize("values, fragment", REFUSED.values(), ids=REFUSED.keys())
def test_inconsistent_token_settings_are_refused(env, values, fragment):
    with pytest.raises(ConfigError, match=fragment):
        env(**values)


def test_identity_provider_settings_are_read(env):
    config = env(
        JWT_ALGORITHM="EdDSA", JWT_PUBLIC_KEY=ED_PEM, JWT_AUDIENCE="https://a.example.com, https://b.example.com",
        JWT_ISSUER="https://auth.example.com", JWT_LEEWAY="30",
    )
    assert config.JWT_ALGORITHM == "EdDSA"
    assert config.JWT_AUDIENCE == ("https://a.example.com", "https://b.example.com")
    assert config.JWT_ISSUER == "https://auth.example.com"
    assert config.JWT_LEEWAY == 30


def test_an_asymmetric_algorithm_needs_no_shared_secret(env):
    config = env(DATABASE_URL="postgresql://u@localhost/db", JWT_ALGORITHM="ES256", JWT_PUBLIC_KEY=EC_PEM)
    assert config.JWT_SECRET_KEY is None


def test_an_identity_provider_needs_a_cursor_key_every_node_shares(env):
    provider = {"DATABASE_URL": "postgresql://u@localhost/db", "JWT_ALGORITHM": "ES256", "JWT_PUBLIC_KEY": EC_PEM}
    env(**provider)
    with pytest.raises(ConfigError, match="TASKAPP_SECRET_KEY is required with JWT_ALGORITHM=ES256"):
        serving_config()
    env(TASKAPP_SECRET_KEY="cursor-key-" + "0123456789abcdef" * 3)
    with pytest.raises(ConfigError, match="TASKAPP_IDENTITY_KEY is required"):
        serving_config()
    env(TASKAPP_IDENTITY_KEY="identity-key-" + "0123456789abcdef" * 3)
    assert serving_config().TASKAPP_SECRET_KEY.startswith("cursor-key-")
