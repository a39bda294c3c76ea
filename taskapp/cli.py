"""The `taskapp` command: a Flask CLI group (so `taskapp routes` and `taskapp shell` work too).

The application, the server and the worker are imported by the commands that use them, not
here: prometheus-client chooses between one process's metrics and every worker's when it is
first imported, which must come after `taskapp serve` has set PROMETHEUS_MULTIPROC_DIR.
"""

import sys

import click
import psycopg
from flask.cli import FlaskGroup
from sqlalchemy import create_engine, pool
from sqlalchemy.exc import OperationalError

from taskapp.config import Config, ConfigError, check_secret, libpq_url, needs_secret
from taskapp.database import audit as database_audit
from taskapp.database import embedded, migrations, safety
from taskapp.identity.issuing import DEFAULT_TTL_SECONDS, issue_for


def build_app():
    from taskapp.app import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=build_app, add_version_option=False)
def cli():
    """taskapp: a multi-user task API isolated by PostgreSQL row-level security."""


@cli.group(name="db")
def db_group():
    """Database schema commands."""


def admin_config(command: str) -> Config:
    """The configuration of a `taskapp db …` command; the embedded default is started (and
    migrated, identity key included) when nothing is configured."""
    config = Config.from_env()
    if config.embedded:
        return embedded.configured(config)
    if config.DATABASE_ADMIN_URL is None:
        raise ConfigError(f"DATABASE_ADMIN_URL is required for `taskapp db {command}`")
    return config


@db_group.command(name="upgrade", with_appcontext=False)
def db_upgrade():
    """Create the roles if missing, then migrate to head (DATABASE_ADMIN_URL; safe to repeat)."""
    config = admin_config("upgrade")
    key = config.identity_key
    if config.embedded_data_dir is None:  # the embedded default is upgraded as it starts
        migrations.upgrade(config.DATABASE_ADMIN_URL, config.TASKAPP_APP_PASSWORD, key,
                           config.TASKAPP_WORKER_PASSWORD)
    click.echo(f"Database is at revision {migrations.head_revision()}; it accepts the identity key {key.key_id}.")


@db_group.command(name="retire-identity-keys", with_appcontext=False)
def db_retire_identity_keys():
    """Forget every identity key but TASKAPP_IDENTITY_KEY (the last step of a key rotation)."""
    config = admin_config("retire-identity-keys")
    key = config.identity_key
    retired = migrations.retire_identity_keys(config.DATABASE_ADMIN_URL, key)
    click.echo(f"Retired {retired} identity key(s); the database accepts only {key.key_id}.")


@cli.command(with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1))
@click.option("--threads", default=4, show_default=True, type=click.IntRange(min=1),
              help="Threads per worker; DATABASE_POOL_SIZE should be at least this.")
@click.option("--mcp-port", type=click.IntRange(0, 65535),
              help="The MCP server's port (Streamable HTTP at /mcp); default PORT+1, 0 for none.")
@click.option("--mcp-public-url", help="Where agents reach the MCP server (default http://HOST:MCP_PORT).")
@click.option("--mcp-allowed-origin", "mcp_allowed_origins", multiple=True,
              help="A browser Origin allowed to call the MCP server (repeatable; none by default).")
def serve(host, port, workers, threads, mcp_port, mcp_public_url, mcp_allowed_origins):
    """Serve the API with Granian (on the embedded PostgreSQL when nothing is configured), and
    the MCP server for AI agents beside it."""
    from taskapp import server

    config = embedded.serving_config()
    check_runtime_connection(config)
    base = listening_url(host, port)
    if mcp_port is None:
        mcp_port = port + 1 if port < 65535 else 0
    click.echo(f"taskapp API:  {base}/api/me/tasks")
    click.echo(f"Swagger UI:   {base}/api/docs")
    if mcp_port:
        click.echo(f"MCP server:   {(mcp_public_url or listening_url(host, mcp_port)).rstrip('/')}/mcp")
    if config.embedded_data_dir is not None:
        click.echo(f"Data folder:  {config.embedded_data_dir}")
        if needs_secret(config.JWT_ALGORITHM):
            token = issue_for(config, "demo")
            click.echo(f"Token for user 'demo' (24 h): {token}")
    server.serve(config, host, port, workers, threads, mcp_port, mcp_public_url, mcp_allowed_origins)


WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def url_host(host: str) -> str:
    """`host` as a URL writes it (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def listening_url(host: str, port: int) -> str:
    """The URL of a server listening on `host` (a wildcard address: this machine's loopback name)."""
    return f"http://{'localhost' if host in WILDCARD_HOSTS else url_host(host)}:{port}"


@cli.command(with_appcontext=False)
@click.option("--http", "over_http", is_flag=True, help="Serve Streamable HTTP at /mcp instead of stdio.")
@click.option("--api-url", envvar="TASKAPP_API_URL", default="http://127.0.0.1:8000", show_default=True,
              help="Over stdio: the API the tools call, with TASKAPP_TOKEN (env TASKAPP_API_URL).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (with --http).")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(1, 65535), help="With --http.")
@click.option("--public-url", help="Where clients reach this server (with --http; default http://HOST:PORT, "
              "localhost for a wildcard HOST).")
@click.option("--allowed-origin", "allowed_origins", multiple=True,
              help="A browser Origin allowed to call it (with --http; repeatable; none by default).")
def mcp(over_http, api_url, host, port, public_url, allowed_origins):
    """The MCP server for AI agents, acting as the user of a bearer token and no one else.

    Over stdio (for a local agent) the token is TASKAPP_TOKEN, and the tools call the API at
    --api-url over HTTP: the process holds that token and nothing else. Over HTTP (run by
    `taskapp serve`, or alone beside the API's configuration) each request carries its own
    (`Authorization: Bearer …`)."""
    import os
    from urllib.parse import urlsplit

    from taskapp.agents import server as agents
    from taskapp.agents.calls import APIUnreachable, CallerAPI

    if not over_http:
        import anyio

        token = os.environ.get(agents.TOKEN_VARIABLE, "")
        if not token:
            raise click.ClickException(f"{agents.TOKEN_VARIABLE} must hold a bearer token for the API.")
        try:
            api = CallerAPI.over_network(api_url)
        except ValueError as error:
            raise click.ClickException(str(error)) from None
        try:
            answer = api.call(token, "GET", "/summary")
        except APIUnreachable as error:
            raise click.ClickException(f"{error} Start it (taskapp serve) or name it with --api-url.") from None
        if answer.status == 401:
            raise click.ClickException(f"The API at {api_url} refuses the token in {agents.TOKEN_VARIABLE}.")
        if not answer.ok:
            message = answer.body.get("message") if isinstance(answer.body, dict) else None
            raise click.ClickException(f"The API at {api_url} answered {answer.status}: {message or 'no reason'}.")
        anyio.run(agents.stdio_server(api, token).run_stdio_async)
        return
    import uvicorn

    from taskapp.app import create_app

    app = create_app()
    public_url = (public_url or listening_url(host, port)).rstrip("/")
    listening = {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", urlsplit(public_url).netloc}
    if host not in WILDCARD_HOSTS:
        listening.add(f"{url_host(host)}:{port}")
    click.echo(f"taskapp MCP:  {public_url}{agents.MCP_PATH}", err=True)
    uvicorn.run(agents.http_app(app, public_url, sorted(listening), list(allowed_origins)), host=host, port=port,
                log_level="warning")


@cli.command(with_appcontext=False)
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Jobs done at once (each on its own database connection).")
@click.option("--lease-seconds", default=60, show_default=True, type=click.IntRange(2, 3600),
              help="How long a claimed job is held: a worker that dies leaves its jobs to others after this.")
@click.option("--per-user", type=click.IntRange(1, 64),
              help="The most jobs of one user done at once (default: half of --concurrency, at least 1).")
@click.option("--metrics-port", type=click.IntRange(1, 65535), help="Serve the worker's /metrics on this port.")
def worker(concurrency, lease_seconds, per_user, metrics_port):
    """Fire due reminders and deliver webhook events (as taskapp_worker, WORKER_DATABASE_URL)."""
    from taskapp.web.observability import configure_logging, metrics_registry
    from taskapp.worker.loop import stop_on_signals, work

    settings = worker_settings(Config.from_env(), concurrency, lease_seconds, per_user)
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, registry=metrics_registry())
    configure_logging()
    stop_on_signals(settings)
    work(settings)


def worker_settings(config: Config, concurrency: int = 4, lease_seconds: int = 60, per_user: int | None = None):
    """The worker's settings: its role's URL (with the embedded default, derived), the identity key."""
    from taskapp.worker.loop import WorkerSettings
    if config.embedded and config.WORKER_DATABASE_URL is None:
        config = embedded.configured(config)
    if config.WORKER_DATABASE_URL is None:
        raise ConfigError("WORKER_DATABASE_URL (the worker's role taskapp_worker) is required for `taskapp worker`")
    options = {"retry_delays": config.WEBHOOK_RETRY_DELAYS} if config.WEBHOOK_RETRY_DELAYS else {}
    return WorkerSettings(
        database_url=libpq_url(config.WORKER_DATABASE_URL),
        identity_key=config.identity_key,
        concurrency=concurrency,
        per_user=per_user,
        lease_seconds=lease_seconds,
        allow_private=config.WEBHOOK_ALLOW_PRIVATE,
        connect_timeout=config.DATABASE_CONNECT_TIMEOUT,
        prepared_statements=config.DATABASE_PREPARED_STATEMENTS,
        **options,
    )


@cli.command(with_appcontext=False)
def audit():
    """Print the isolation audit of sql/audit.sql; exit status 1 unless its verdict is PASS."""
    config = Config.from_env()
    if config.embedded:
        config = embedded.configured(config)
    url = config.DATABASE_ADMIN_URL or config.DATABASE_URL
    if url is None:
        raise ConfigError("DATABASE_ADMIN_URL (or DATABASE_URL) is required for `taskapp audit`")
    report, passed = database_audit.report(libpq_url(url))
    click.echo(report)
    sys.exit(0 if passed else 1)


def check_runtime_connection(config: Config) -> None:
    """Refuse to serve when the runtime connection could bypass row-level security."""
    engine = create_engine(
        config.DATABASE_URL,
        poolclass=pool.NullPool,
        connect_args={"connect_timeout": config.DATABASE_CONNECT_TIMEOUT},
    )
    try:
        safety.refuse_unsafe(engine, config.identity_key)
    finally:
        engine.dispose()


@cli.command(with_appcontext=False)
@click.argument("user_id")
@click.option("--ttl", default=DEFAULT_TTL_SECONDS, show_default=True,
              type=click.IntRange(min=1), help="Lifetime in seconds.")
def token(user_id, ttl):
    """Print a signed token for USER_ID (with the embedded default, its stored secret)."""
    config = Config.from_env()
    if not needs_secret(config.JWT_ALGORITHM):
        raise ConfigError(
            f"`taskapp token` signs with JWT_SECRET_KEY; with JWT_ALGORITHM={config.JWT_ALGORITHM} "
            "tokens come from your identity provider"
        )
    if config.JWT_SECRET_KEY is None and config.embedded:
        config = config.replace(JWT_SECRET_KEY=embedded.stored_secret(embedded.data_dir(config.TASKAPP_DATA_DIR)))
    check_secret(config.JWT_SECRET_KEY)
    if not user_id or len(user_id) > 255 or "\x00" in user_id:
        raise click.BadParameter("must be 1 to 255 characters", param_hint="USER_ID")
    click.echo(issue_for(config, user_id, ttl))


def main():
    try:
        cli.main(prog_name="taskapp")
    except ConfigError as exc:
        click.echo(f"taskapp: {exc.label}: {exc}", err=True)
        sys.exit(2)
    except (OperationalError, psycopg.OperationalError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        click.echo(f"taskapp: cannot reach the database: {reason}", err=True)
        sys.exit(2)
