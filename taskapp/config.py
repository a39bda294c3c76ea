"""Configuration: one immutable class, read from the environment and checked once.

Every variable is listed in the operator guide's configuration table (docs/operators.md),
which a test holds equal to the fields below. A `Config` is never changed after it is made:
the embedded default and the command line make a new one with `replace()`, which checks it
again.
"""

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

from limits import parse_many
from sqlalchemy.engine import URL, make_url

from taskapp.identity.proof import IdentityKey, InvalidIdentityKey
from taskapp.identity.token_keys import ALGORITHMS, SYMMETRIC, check_jwks_url, load_public_key

MIN_SECRET_BYTES = 32


class ConfigError(Exception):
    """Configuration is missing or wrong; the message is one line for the operator."""

    label = "configuration error"


def sqlalchemy_url(url: str | URL, variable: str = "DATABASE_URL") -> URL:
    """Turn a libpq URL (as psql, Neon and Heroku write it) into SQLAlchemy's psycopg dialect."""
    if isinstance(url, URL):
        return url
    scheme = urlsplit(url).scheme.lower()
    if scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        rest = url.split(":", 1)[1]
        try:
            return make_url("postgresql+psycopg:" + rest)
        except Exception as exc:  # sqlalchemy raises ArgumentError for malformed URLs
            raise ConfigError(f"{variable} is not a valid PostgreSQL URL: {exc}") from None
    raise ConfigError(
        f"{variable} must be a postgresql:// or postgres:// URL, not {scheme or 'an empty scheme'}://"
    )


def libpq_url(url: URL) -> str:
    """The plain libpq form of a SQLAlchemy URL, for psql and psycopg."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _text(raw: str | None) -> str | None:
    return raw.strip() or None if raw is not None else None


def _int(name: str, raw: str | None, default: int | None, minimum: int = 1) -> int | None:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}")
    return value


def _switch(name: str, raw: str | None, default: bool) -> bool:
    raw = (raw or "").strip().lower()
    if raw == "":
        return default
    if raw in ("on", "true", "1", "yes"):
        return True
    if raw in ("off", "false", "0", "no"):
        return False
    raise ConfigError(f"{name} must be on or off, not {raw!r}")


def cors_origins(raw: str | None) -> tuple[str, ...]:
    """CORS_ORIGINS: exact origins, comma-separated (`https://app.example.com,http://localhost:5173`)."""
    origins = tuple(item.strip().rstrip("/") for item in (raw or "").split(",") if item.strip())
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query:
            raise ConfigError(f"CORS_ORIGINS takes exact origins like https://app.example.com, not {origin!r}")
    return origins


def retry_delays(raw: str | None) -> tuple[float, ...] | None:
    """WEBHOOK_RETRY_DELAYS: seconds before each retry, comma-separated (`5,30,120`)."""
    if not (raw or "").strip():
        return None
    try:
        delays = tuple(float(item) for item in raw.split(","))
    except ValueError:
        raise ConfigError(f"WEBHOOK_RETRY_DELAYS takes seconds, comma-separated (5,30,120), not {raw!r}") from None
    if not 1 <= len(delays) <= 20 or not all(0 <= delay <= 7 * 86400 for delay in delays):
        raise ConfigError("WEBHOOK_RETRY_DELAYS takes 1 to 20 delays of 0 to 604800 seconds each")
    return delays


def audience(raw: str | None) -> str | tuple[str, ...] | None:
    """JWT_AUDIENCE: one audience, or several comma-separated (a token naming any of them passes)."""
    items = tuple(item.strip() for item in (raw or "").split(",") if item.strip())
    if not items:
        return None
    return items[0] if len(items) == 1 else items


def rate_limit(name: str, raw: str | None, default: str) -> str:
    """A rate limit as `limits` writes them (`100/second;3000/minute`), or `off`."""
    text = (raw or "").strip() or default
    if text.lower() == "off":
        return "off"
    try:
        windows = parse_many(text)
    except ValueError:
        windows = []
    if not windows or any(window.amount < 1 for window in windows):
        raise ConfigError(f"{name} takes limits like 100/second;3000/minute (or off), not {text!r}")
    return text


def storage_url(name: str, raw: str | None) -> str | None:
    """Where rate limits are counted: Redis (`redis://host:6379/0`) shared by every node, else memory."""
    text = (raw or "").strip()
    if not text:
        return None
    if urlsplit(text).scheme not in ("redis", "rediss", "redis+sentinel", "redis+cluster", "memory"):
        raise ConfigError(f"{name} must be a redis:// URL (or memory://), not {text!r}")
    return text


def check_secret(secret: str | None, name: str = "JWT_SECRET_KEY") -> str:
    """Refuse a missing secret or one too short to resist brute force."""
    if not secret:
        raise ConfigError(f"{name} is required when DATABASE_URL is set")
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ConfigError(f"{name} must be at least {MIN_SECRET_BYTES} bytes long")
    return secret


def identity_key(secret: str | None) -> IdentityKey:
    """TASKAPP_IDENTITY_KEY as the key that signs every transaction's identity."""
    try:
        return IdentityKey(secret)
    except InvalidIdentityKey as exc:
        raise ConfigError(str(exc)) from None


def needs_secret(algorithm: str) -> bool:
    """HS256/384/512 verify with JWT_SECRET_KEY; the asymmetric algorithms need no secret."""
    return algorithm in SYMMETRIC


# What each variable is read as, from its text in the environment.
READERS = {
    "DATABASE_URL": lambda name, raw: sqlalchemy_url(raw, name) if raw else None,
    "DATABASE_ADMIN_URL": lambda name, raw: sqlalchemy_url(raw, name) if raw else None,
    "WORKER_DATABASE_URL": lambda name, raw: sqlalchemy_url(raw, name) if raw else None,
    "JWT_SECRET_KEY": lambda name, raw: raw or None,
    "TASKAPP_SECRET_KEY": lambda name, raw: raw or None,
    "TASKAPP_IDENTITY_KEY": lambda name, raw: raw or None,
    "TASKAPP_APP_PASSWORD": lambda name, raw: raw or None,
    "TASKAPP_WORKER_PASSWORD": lambda name, raw: raw or None,
    "TASKAPP_DATA_DIR": lambda name, raw: raw or None,
    "DATABASE_POOL_SIZE": lambda name, raw: _int(name, raw, 5),
    "DATABASE_POOL_TIMEOUT": lambda name, raw: _int(name, raw, 5),
    "DATABASE_CONNECT_TIMEOUT": lambda name, raw: _int(name, raw, 5),
    "DATABASE_PREPARED_STATEMENTS": lambda name, raw: _switch(name, raw, True),
    "CORS_ORIGINS": lambda name, raw: cors_origins(raw),
    "JWT_ALGORITHM": lambda name, raw: _text(raw) or "HS256",
    "JWT_PUBLIC_KEY": lambda name, raw: raw or None,
    "JWT_JWKS_URL": lambda name, raw: _text(raw),
    "JWT_AUDIENCE": lambda name, raw: audience(raw),
    "JWT_ISSUER": lambda name, raw: _text(raw),
    "JWT_LEEWAY": lambda name, raw: _int(name, raw, 0, minimum=0),
    "METRICS": lambda name, raw: _switch(name, raw, True),
    "METRICS_PORT": lambda name, raw: _int(name, raw, None),
    "TASKAPP_CHANGES_RETENTION_DAYS": lambda name, raw: _int(name, raw, 30),
    "TASKAPP_IDEMPOTENCY_KEY_HOURS": lambda name, raw: _int(name, raw, 24),
    "WEBHOOK_ALLOW_PRIVATE": lambda name, raw: _switch(name, raw, False),
    "WEBHOOK_RETRY_DELAYS": lambda name, raw: retry_delays(raw),
    "TASKAPP_RATE_LIMIT": lambda name, raw: rate_limit(name, raw, "100/second;3000/minute"),
    "TASKAPP_ANONYMOUS_RATE_LIMIT": lambda name, raw: rate_limit(name, raw, "20/second;300/minute"),
    "TASKAPP_RATE_LIMIT_STORAGE_URL": lambda name, raw: storage_url(name, raw),
}


@dataclass(frozen=True)
class Config:
    """Every setting, checked when made; never changed after (`replace` makes a new one)."""

    DATABASE_URL: URL | None = None
    DATABASE_ADMIN_URL: URL | None = None
    WORKER_DATABASE_URL: URL | None = None
    JWT_SECRET_KEY: str | None = None
    TASKAPP_SECRET_KEY: str | None = None
    TASKAPP_IDENTITY_KEY: str | None = None
    TASKAPP_APP_PASSWORD: str | None = None
    TASKAPP_WORKER_PASSWORD: str | None = None
    TASKAPP_DATA_DIR: str | None = None
    DATABASE_POOL_SIZE: int = 5
    DATABASE_POOL_TIMEOUT: int = 5
    DATABASE_CONNECT_TIMEOUT: int = 5
    DATABASE_PREPARED_STATEMENTS: bool = True
    CORS_ORIGINS: tuple[str, ...] = ()
    JWT_ALGORITHM: str = "HS256"
    JWT_PUBLIC_KEY: str | None = None
    JWT_JWKS_URL: str | None = None
    JWT_AUDIENCE: str | tuple[str, ...] | None = None
    JWT_ISSUER: str | None = None
    JWT_LEEWAY: int = 0
    METRICS: bool = True
    METRICS_PORT: int | None = None
    TASKAPP_CHANGES_RETENTION_DAYS: int = 30
    TASKAPP_IDEMPOTENCY_KEY_HOURS: int = 24
    WEBHOOK_ALLOW_PRIVATE: bool = False
    WEBHOOK_RETRY_DELAYS: tuple[float, ...] | None = None  # the worker's schedule (worker/deliveries.py) unless set
    # Per verified user, and per client address for requests without a valid token (web/rate_limits.py).
    TASKAPP_RATE_LIMIT: str = "100/second;3000/minute"
    TASKAPP_ANONYMOUS_RATE_LIMIT: str = "20/second;300/minute"
    TASKAPP_RATE_LIMIT_STORAGE_URL: str | None = None
    # Not read from the environment: the folder of the embedded server this configuration was
    # pointed at (taskapp.database.embedded), None for a database of the operator's own.
    embedded_data_dir: Path | None = field(default=None, compare=False)

    # Fixed settings of the libraries (flask-smorest, flask-jwt-extended, Flask).
    API_TITLE: ClassVar[str] = "taskapp"
    API_VERSION: ClassVar[str] = "1.0.0"
    OPENAPI_VERSION: ClassVar[str] = "3.0.3"
    OPENAPI_URL_PREFIX: ClassVar[str] = "/api"
    OPENAPI_JSON_PATH: ClassVar[str] = "openapi.json"
    # The Swagger UI page is served by taskapp.web.docs from bundled assets (no CDN).
    OPENAPI_SWAGGER_UI_PATH: ClassVar[None] = None
    MAX_CONTENT_LENGTH: ClassVar[int] = 1024 * 1024
    JWT_TOKEN_LOCATION: ClassVar[list] = ["headers"]  # tokens come from the Authorization header only
    JWT_IDENTITY_CLAIM: ClassVar[str] = "sub"
    JWT_ACCESS_TOKEN_EXPIRES: ClassVar[bool] = False  # `taskapp token` sets exp itself

    def __post_init__(self):
        self._check_token_settings()
        for name in ("JWT_SECRET_KEY", "TASKAPP_SECRET_KEY"):
            if getattr(self, name) is not None:
                check_secret(getattr(self, name), name)
        if self.TASKAPP_IDENTITY_KEY is not None:
            identity_key(self.TASKAPP_IDENTITY_KEY)
        rate_limit("TASKAPP_RATE_LIMIT", self.TASKAPP_RATE_LIMIT, "off")
        rate_limit("TASKAPP_ANONYMOUS_RATE_LIMIT", self.TASKAPP_ANONYMOUS_RATE_LIMIT, "off")
        storage_url("TASKAPP_RATE_LIMIT_STORAGE_URL", self.TASKAPP_RATE_LIMIT_STORAGE_URL)

    def _check_token_settings(self) -> None:
        """Refuse token settings that could verify nothing."""
        algorithm = self.JWT_ALGORITHM
        if algorithm not in ALGORITHMS:
            raise ConfigError(f"JWT_ALGORITHM must be one of {', '.join(ALGORITHMS)}, not {algorithm!r}")
        public_key, jwks_url = self.JWT_PUBLIC_KEY, self.JWT_JWKS_URL
        if algorithm in SYMMETRIC:
            if public_key or jwks_url:
                raise ConfigError(
                    "JWT_PUBLIC_KEY and JWT_JWKS_URL need an asymmetric JWT_ALGORITHM (RS256, ES256, EdDSA), "
                    f"not {algorithm}"
                )
            return
        if bool(public_key) == bool(jwks_url):
            raise ConfigError(f"JWT_ALGORITHM={algorithm} needs exactly one of JWT_PUBLIC_KEY or JWT_JWKS_URL")
        try:
            if public_key:
                load_public_key(public_key, algorithm)
            else:
                check_jwks_url(jwks_url)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Config":
        """Read and check every variable; raises ConfigError with one clear line."""
        return cls(**{name: read(name, environ.get(name)) for name, read in READERS.items()})

    @classmethod
    def from_mapping(cls, values: Mapping) -> "Config":
        """Settings given as values (tests, tools): URLs may be libpq text, lists become tuples."""
        given = dict(values)
        for name in ("DATABASE_URL", "DATABASE_ADMIN_URL", "WORKER_DATABASE_URL"):
            if isinstance(given.get(name), str):
                given[name] = sqlalchemy_url(given[name], name)
        for name in ("CORS_ORIGINS", "JWT_AUDIENCE"):
            if isinstance(given.get(name), list):
                given[name] = tuple(given[name])
        return cls(**given)

    def replace(self, **changes) -> "Config":
        """A new configuration with these settings changed, checked again."""
        return dataclasses.replace(self, **changes)

    @property
    def embedded(self) -> bool:
        """Whether the embedded PostgreSQL is (or is to be) used: no database is configured."""
        return self.embedded_data_dir is not None or (self.DATABASE_URL is None and self.DATABASE_ADMIN_URL is None)

    @property
    def cursor_key(self) -> str | None:
        """The key taskapp signs its own values with (cursors, sync tokens): TASKAPP_SECRET_KEY, else JWT_SECRET_KEY."""
        return self.TASKAPP_SECRET_KEY or self.JWT_SECRET_KEY

    @property
    def identity_key(self) -> IdentityKey:
        """TASKAPP_IDENTITY_KEY, required."""
        return identity_key(self.TASKAPP_IDENTITY_KEY)

    def require_serving(self) -> "Config":
        """This configuration, if it holds what serving the API needs; ConfigError otherwise."""
        if self.DATABASE_URL is None:
            raise ConfigError(
                "DATABASE_URL (the runtime role taskapp_app) is required when DATABASE_ADMIN_URL is set"
            )
        if needs_secret(self.JWT_ALGORITHM):
            check_secret(self.JWT_SECRET_KEY)
        if self.cursor_key is None:
            raise ConfigError(
                f"TASKAPP_SECRET_KEY is required with JWT_ALGORITHM={self.JWT_ALGORITHM}: it signs page cursors, "
                "and every node of the service must have the same one"
            )
        self.identity_key  # noqa: B018 (raises ConfigError when missing)
        return self

    def flask_settings(self) -> dict:
        """Every upper-case setting, for Flask's app.config (flask-smorest and flask-jwt-extended read it there)."""
        names = [name for name in dir(type(self)) if name.isupper()] + [f.name for f in dataclasses.fields(self)]
        return {name: getattr(self, name) for name in names if name.isupper()}
