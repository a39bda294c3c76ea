"""Configuration: one class that reads the environment.

Every variable is listed in the README's configuration table.
"""

import os
from urllib.parse import urlsplit

from sqlalchemy.engine import URL, make_url

from taskapp.signing_keys import ALGORITHMS, SYMMETRIC, check_jwks_url, load_public_key

MIN_SECRET_BYTES = 32


class ConfigError(Exception):
    """Configuration is missing or wrong; the message is one line for the operator."""

    label = "configuration error"


def sqlalchemy_url(url: str, variable: str = "DATABASE_URL") -> URL:
    """Turn a libpq URL (as psql, Neon and Heroku write it) into SQLAlchemy's psycopg dialect."""
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


def _int(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}")
    return value


def cors_origins(raw: str | None) -> list[str]:
    """CORS_ORIGINS: exact origins, comma-separated (`https://app.example.com,http://localhost:5173`)."""
    origins = [item.strip().rstrip("/") for item in (raw or "").split(",") if item.strip()]
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


def _switch(name: str, default: bool) -> bool:
    raw = (os.environ.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in ("on", "true", "1", "yes"):
        return True
    if raw in ("off", "false", "0", "no"):
        return False
    raise ConfigError(f"{name} must be on or off, not {raw!r}")


def check_secret(secret: str | None, name: str = "JWT_SECRET_KEY") -> str:
    """Refuse a missing secret or one too short to resist brute force."""
    if not secret:
        raise ConfigError(f"{name} is required when DATABASE_URL is set")
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ConfigError(f"{name} must be at least {MIN_SECRET_BYTES} bytes long")
    return secret


def signing_key(settings) -> str | None:
    """The key taskapp signs its own values with (page cursors): TASKAPP_SECRET_KEY, else JWT_SECRET_KEY."""
    return settings.get("TASKAPP_SECRET_KEY") or settings.get("JWT_SECRET_KEY")


def check_keys(settings) -> None:
    """Refuse to run without the keys the settings need: the HS* secret, and a key for cursors."""
    algorithm = settings.get("JWT_ALGORITHM")
    if needs_secret(algorithm):
        check_secret(settings.get("JWT_SECRET_KEY"))
    if signing_key(settings) is None:
        raise ConfigError(
            f"TASKAPP_SECRET_KEY is required with JWT_ALGORITHM={algorithm}: it signs page cursors, "
            "and every node of the service must have the same one"
        )
    if settings.get("TASKAPP_SECRET_KEY") is not None:
        check_secret(settings["TASKAPP_SECRET_KEY"], "TASKAPP_SECRET_KEY")
    from taskapp.identity import IdentityKey

    IdentityKey(settings.get("TASKAPP_IDENTITY_KEY"))


def _audience(raw: str | None) -> str | list[str] | None:
    """JWT_AUDIENCE: one audience, or several comma-separated (a token naming any of them passes)."""
    items = [item.strip() for item in (raw or "").split(",") if item.strip()]
    if not items:
        return None
    return items[0] if len(items) == 1 else items


def check_token_settings(settings) -> None:
    """Refuse token settings that could verify nothing (settings: a mapping of the JWT_* values)."""
    algorithm = settings.get("JWT_ALGORITHM")
    if algorithm not in ALGORITHMS:
        raise ConfigError(f"JWT_ALGORITHM must be one of {', '.join(ALGORITHMS)}, not {algorithm!r}")
    public_key, jwks_url = settings.get("JWT_PUBLIC_KEY"), settings.get("JWT_JWKS_URL")
    if algorithm in SYMMETRIC:
        if public_key or jwks_url:
            raise ConfigError(
                f"JWT_PUBLIC_KEY and JWT_JWKS_URL need an asymmetric JWT_ALGORITHM (RS256, ES256, EdDSA), "
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


def needs_secret(algorithm: str) -> bool:
    """HS256/384/512 verify with JWT_SECRET_KEY; the asymmetric algorithms need no secret."""
    return algorithm in SYMMETRIC


class Config:
    """Settings read from the environment; `from_env` validates them."""

    # flask-smorest / OpenAPI
    API_TITLE = "taskapp"
    API_VERSION = "1.0.0"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    # The Swagger UI page is served by taskapp.docs from bundled assets (no CDN).
    OPENAPI_SWAGGER_UI_PATH = None
    MAX_CONTENT_LENGTH = 1024 * 1024

    # flask-jwt-extended: tokens come from the Authorization header only.
    JWT_TOKEN_LOCATION = ["headers"]
    JWT_ALGORITHM = "HS256"  # and only this one: taskapp.auth sets JWT_DECODE_ALGORITHMS to it
    JWT_IDENTITY_CLAIM = "sub"
    JWT_ACCESS_TOKEN_EXPIRES = False  # `taskapp token` sets exp itself

    # Defaults of the variables from_env reads.
    DATABASE_URL = None
    DATABASE_ADMIN_URL = None
    JWT_SECRET_KEY = None
    TASKAPP_SECRET_KEY = None
    TASKAPP_IDENTITY_KEY = None
    TASKAPP_APP_PASSWORD = None
    TASKAPP_WORKER_PASSWORD = None
    TASKAPP_DATA_DIR = None
    DATABASE_POOL_SIZE = 5
    DATABASE_POOL_TIMEOUT = 5
    DATABASE_CONNECT_TIMEOUT = 5
    CORS_ORIGINS: list[str] = []
    DATABASE_PREPARED_STATEMENTS = True
    JWT_PUBLIC_KEY = None
    JWT_JWKS_URL = None
    JWT_AUDIENCE = None
    JWT_ISSUER = None
    JWT_LEEWAY = 0
    METRICS = True
    METRICS_PORT = None
    TASKAPP_CHANGES_RETENTION_DAYS = 30
    TASKAPP_IDEMPOTENCY_KEY_HOURS = 24
    WORKER_DATABASE_URL = None
    WEBHOOK_ALLOW_PRIVATE = False
    WEBHOOK_RETRY_DELAYS = None  # the worker's schedule (taskapp/worker/deliveries.py) unless set

    def __init__(self, **values):
        self.__dict__.update(values)

    @classmethod
    def from_env(cls) -> "Config":
        """Read and check every variable; raises ConfigError with one clear line."""
        env = os.environ
        database_url = env.get("DATABASE_URL") or None
        admin_url = env.get("DATABASE_ADMIN_URL") or None
        values = {
            "DATABASE_URL": sqlalchemy_url(database_url) if database_url else None,
            "DATABASE_ADMIN_URL": (
                sqlalchemy_url(admin_url, "DATABASE_ADMIN_URL") if admin_url else None
            ),
            "JWT_SECRET_KEY": env.get("JWT_SECRET_KEY") or None,
            "TASKAPP_SECRET_KEY": env.get("TASKAPP_SECRET_KEY") or None,
            "TASKAPP_IDENTITY_KEY": env.get("TASKAPP_IDENTITY_KEY") or None,
            "TASKAPP_APP_PASSWORD": env.get("TASKAPP_APP_PASSWORD") or None,
            "TASKAPP_WORKER_PASSWORD": env.get("TASKAPP_WORKER_PASSWORD") or None,
            "TASKAPP_DATA_DIR": env.get("TASKAPP_DATA_DIR") or None,
            "DATABASE_POOL_SIZE": _int("DATABASE_POOL_SIZE", cls.DATABASE_POOL_SIZE),
            "DATABASE_POOL_TIMEOUT": _int("DATABASE_POOL_TIMEOUT", cls.DATABASE_POOL_TIMEOUT),
            "DATABASE_CONNECT_TIMEOUT": _int(
                "DATABASE_CONNECT_TIMEOUT", cls.DATABASE_CONNECT_TIMEOUT
            ),
            "CORS_ORIGINS": cors_origins(env.get("CORS_ORIGINS")),
            "DATABASE_PREPARED_STATEMENTS": _switch("DATABASE_PREPARED_STATEMENTS", True),
            "JWT_ALGORITHM": (env.get("JWT_ALGORITHM") or "").strip() or cls.JWT_ALGORITHM,
            "JWT_PUBLIC_KEY": env.get("JWT_PUBLIC_KEY") or None,
            "JWT_JWKS_URL": (env.get("JWT_JWKS_URL") or "").strip() or None,
            "JWT_AUDIENCE": _audience(env.get("JWT_AUDIENCE")),
            "JWT_ISSUER": (env.get("JWT_ISSUER") or "").strip() or None,
            "JWT_LEEWAY": _int("JWT_LEEWAY", cls.JWT_LEEWAY, minimum=0),
            "METRICS": _switch("METRICS", True),
            "METRICS_PORT": _int("METRICS_PORT", None),
            "TASKAPP_CHANGES_RETENTION_DAYS": _int(
                "TASKAPP_CHANGES_RETENTION_DAYS", cls.TASKAPP_CHANGES_RETENTION_DAYS
            ),
            "TASKAPP_IDEMPOTENCY_KEY_HOURS": _int("TASKAPP_IDEMPOTENCY_KEY_HOURS", cls.TASKAPP_IDEMPOTENCY_KEY_HOURS),
            "WORKER_DATABASE_URL": (
                sqlalchemy_url(env["WORKER_DATABASE_URL"], "WORKER_DATABASE_URL")
                if env.get("WORKER_DATABASE_URL") else None
            ),
            "WEBHOOK_ALLOW_PRIVATE": _switch("WEBHOOK_ALLOW_PRIVATE", False),
            "WEBHOOK_RETRY_DELAYS": retry_delays(env.get("WEBHOOK_RETRY_DELAYS")),
        }
        check_token_settings(values)
        if values["JWT_SECRET_KEY"] is not None:
            check_secret(values["JWT_SECRET_KEY"])
        if values["TASKAPP_SECRET_KEY"] is not None:
            check_secret(values["TASKAPP_SECRET_KEY"], "TASKAPP_SECRET_KEY")
        if values["TASKAPP_IDENTITY_KEY"] is not None:
            from taskapp.identity import IdentityKey

            IdentityKey(values["TASKAPP_IDENTITY_KEY"])
        return cls(**values)

    @property
    def embedded(self) -> bool:
        """True when no database is configured: the embedded PostgreSQL is used."""
        return self.DATABASE_URL is None and self.DATABASE_ADMIN_URL is None


def runtime_config() -> Config:
    """The configuration the server runs with; starts the embedded default when nothing is set."""
    config = Config.from_env()
    if config.embedded:
        from taskapp import embedded

        embedded.configure(config)
    elif config.DATABASE_URL is None:
        raise ConfigError(
            "DATABASE_URL (the runtime role taskapp_app) is required when DATABASE_ADMIN_URL is set"
        )
    check_keys(vars(config))
    return config
