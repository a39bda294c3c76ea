"""The keys that verify bearer tokens: a shared secret, a public key (PEM), or a JWKS document.

HS256 with JWT_SECRET_KEY is the default. Tokens from an identity provider (Better Auth's JWT
plugin, Auth0, Keycloak, Cognito…) are verified with its public key: JWT_PUBLIC_KEY, or the
provider's JWKS at JWT_JWKS_URL, fetched on first use, cached, and fetched again when a token
names a key (`kid`) the cached document does not hold, at most once per cooldown.
"""

import json
import logging
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwt import PyJWK
from jwt.exceptions import PyJWTError

log = logging.getLogger(__name__)

SYMMETRIC = ("HS256", "HS384", "HS512")
KEY_TYPES = {
    "RS256": rsa.RSAPublicKey, "RS384": rsa.RSAPublicKey, "RS512": rsa.RSAPublicKey,
    "PS256": rsa.RSAPublicKey, "PS384": rsa.RSAPublicKey, "PS512": rsa.RSAPublicKey,
    "ES256": ec.EllipticCurvePublicKey, "ES384": ec.EllipticCurvePublicKey, "ES512": ec.EllipticCurvePublicKey,
    "EdDSA": (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey),
}
ALGORITHMS = SYMMETRIC + tuple(KEY_TYPES)
JWKS_SCHEMES = ("https", "http", "file")
JWKS_TIMEOUT_SECONDS = 5
JWKS_LIFESPAN_SECONDS = 300
JWKS_COOLDOWN_SECONDS = 10
MAX_JWKS_BYTES = 1024 * 1024


class UnknownKey(Exception):
    """The token names a key the identity provider does not publish."""


class KeysUnavailable(Exception):
    """The JWKS document cannot be fetched or holds no usable key, and nothing is cached."""


def load_public_key(value: str, algorithm: str):
    """JWT_PUBLIC_KEY: PEM text (literal `\\n` accepted) or the path of a PEM file."""
    text = value.strip().replace("\\n", "\n")
    if not text.startswith("-----BEGIN"):
        path = Path(text).expanduser()
        if not path.is_file():
            raise ValueError("JWT_PUBLIC_KEY must be a PEM public key or the path of a PEM file")
        text = path.read_text()
    try:
        key = load_pem_public_key(text.encode())
    except ValueError:
        raise ValueError("JWT_PUBLIC_KEY is not a PEM public key (-----BEGIN PUBLIC KEY-----)") from None
    if not isinstance(key, KEY_TYPES[algorithm]):
        raise ValueError(f"JWT_PUBLIC_KEY is not a key for {algorithm}")
    return key


def check_jwks_url(url: str) -> str:
    if urlsplit(url).scheme.lower() not in JWKS_SCHEMES:
        raise ValueError("JWT_JWKS_URL must be an https://, http:// or file:// URL")
    return url


class StaticKey:
    """One key for every token: the shared secret or the configured public key."""

    def __init__(self, key):
        self.key = key

    def key_for(self, header: dict):
        return self.key


class JwksKeys:
    """Public keys from a JWKS document, by `kid`; thread-safe, fetched lazily."""

    def __init__(self, url: str, algorithm: str, lifespan: float = JWKS_LIFESPAN_SECONDS,
                 cooldown: float = JWKS_COOLDOWN_SECONDS, timeout: float = JWKS_TIMEOUT_SECONDS):
        self.url = check_jwks_url(url)
        self.algorithm = algorithm
        self.lifespan = lifespan
        self.cooldown = cooldown
        self.timeout = timeout
        self._keys: dict[str | None, object] | None = None
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def key_for(self, header: dict):
        kid = header.get("kid")
        keys = self._current(stale_after=self.lifespan)
        if self._match(keys, kid) is None:
            keys = self._current(stale_after=self.cooldown)
        key = self._match(keys, kid)
        if key is None:
            raise UnknownKey(kid)
        return key

    @staticmethod
    def _match(keys: dict, kid):
        if kid is None:
            return next(iter(keys.values())) if len(keys) == 1 else None
        return keys.get(kid)

    def _current(self, stale_after: float) -> dict:
        """The cached keys, fetched again when older than `stale_after` seconds."""
        with self._lock:
            if time.monotonic() - self._fetched_at >= stale_after:
                try:
                    self._keys = self._fetch()
                except KeysUnavailable as exc:
                    if self._keys is None:
                        raise
                    log.warning("keeping the cached JWKS: %s", exc)
                self._fetched_at = time.monotonic()
            return self._keys

    def _fetch(self) -> dict:
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout) as response:
                document = json.loads(response.read(MAX_JWKS_BYTES + 1)[:MAX_JWKS_BYTES])
        except (OSError, ValueError) as exc:
            raise KeysUnavailable(f"cannot fetch the JWKS: {exc.__class__.__name__}") from None
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise KeysUnavailable("the JWKS document has no keys list")
        keys = {}
        for entry in entries:
            key = self._usable(entry)
            if key is not None:
                keys[entry.get("kid")] = key
        if not keys:
            raise KeysUnavailable(f"the JWKS document holds no signing key for {self.algorithm}")
        return keys

    def _usable(self, entry):
        """The public key of one JWK, or None when it is not a signing key for our algorithm."""
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            return None
        if entry.get("alg", self.algorithm) != self.algorithm:
            return None
        try:
            key = PyJWK(entry, algorithm=self.algorithm).key
        except (PyJWTError, ValueError, TypeError, KeyError):
            return None
        return key if isinstance(key, KEY_TYPES[self.algorithm]) else None


def key_source(config) -> StaticKey | JwksKeys:
    """The verifying keys a configuration names (config: a Flask config or a Config)."""
    algorithm = config["JWT_ALGORITHM"]
    if algorithm in SYMMETRIC:
        return StaticKey(config["JWT_SECRET_KEY"])
    if config.get("JWT_JWKS_URL"):
        return JwksKeys(config["JWT_JWKS_URL"], algorithm, cooldown=config.get("JWKS_COOLDOWN_SECONDS",
                                                                             JWKS_COOLDOWN_SECONDS))
    return StaticKey(load_public_key(config["JWT_PUBLIC_KEY"], algorithm))
