"""The MCP server (the official `mcp` SDK): over stdio for a local agent, over Streamable HTTP
for remote ones.

Over stdio the agent's token comes from TASKAPP_TOKEN and every tool calls the API it names
(TASKAPP_API_URL) over the network, so the process an agent starts holds that token and
nothing else. Over HTTP every request carries its own bearer token: the SDK asks
`BearerTokens` to verify it, which does exactly what the API does (the same keys, algorithm,
audience and issuer); without a valid one the answer is 401 with `WWW-Authenticate` pointing
at the RFC 9728 protected-resource metadata, which names the configured issuer. The HTTP
server is stateless (no session to stick to: any node answers any request) and answers JSON;
it refuses a `Host` or `Origin` it was not told to expect (DNS rebinding).
"""

import json
import time

from flask import Flask
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette

from taskapp.agents import tools
from taskapp.agents.calls import APIUnreachable, CallerAPI
from taskapp.web.errors import error_body

TOKEN_VARIABLE = "TASKAPP_TOKEN"
API_URL_VARIABLE = "TASKAPP_API_URL"
DEFAULT_API_URL = "http://127.0.0.1:8000"  # where `taskapp serve` listens by default
MCP_PATH = "/mcp"
RETRY_AFTER_SECONDS = "5"


class BearerTokens(TokenVerifier):
    """The SDK's token check, done by the API's own (taskapp.identity.bearer)."""

    def __init__(self, api: CallerAPI):
        self.api = api

    async def verify_token(self, token: str) -> AccessToken | None:
        import anyio.to_thread

        subject = await anyio.to_thread.run_sync(self.api.subject, token)
        if subject is None:
            return None
        # The API checks expiry on every call; the SDK only needs to know the token is good now.
        return AccessToken(token=token, client_id=subject, subject=subject, scopes=[],
                           expires_at=int(time.time()) + 60)


def stdio_server(api: CallerAPI, token: str) -> MCPServer:
    """The server a local agent starts (`taskapp mcp`), acting with `token` on `api`."""
    server = MCPServer("taskapp", instructions=tools.INSTRUCTIONS)
    return tools.build(server, api, lambda: token)


class KeysUnavailableAnswered:
    """503 with Retry-After, as the API answers, while tokens cannot be checked (the identity
    provider's keys cannot be fetched): the SDK's authentication would otherwise end in a 500."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        started = False

        async def sending(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except APIUnreachable as error:
            if scope["type"] != "http" or started:
                raise
            body = json.dumps(error_body(503, f"{error} Try again shortly.")).encode()
            await send({"type": "http.response.start", "status": 503,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"retry-after", RETRY_AFTER_SECONDS.encode()),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})


def http_app(app: Flask, public_url: str, allowed_hosts: list[str], allowed_origins: list[str]) -> Starlette:
    """The Streamable HTTP app (`/mcp`), each request acting with its own bearer token.

    `public_url` is where clients reach this server (the resource the metadata names);
    `allowed_hosts` and `allowed_origins` are the Host and Origin values it answers.
    """
    from mcp.server.auth.middleware.auth_context import get_access_token

    api = CallerAPI.in_process(app)
    config = app.extensions["taskapp.config"]
    # The issuer clients are to get tokens from: the configured one when it is a URL.
    issuer = config.JWT_ISSUER if (config.JWT_ISSUER or "").startswith(("https://", "http://")) else public_url
    server = MCPServer(
        "taskapp",
        instructions=tools.INSTRUCTIONS,
        token_verifier=BearerTokens(api),
        auth=AuthSettings(issuer_url=issuer, resource_server_url=f"{public_url.rstrip('/')}{MCP_PATH}",
                          required_scopes=None,
                          # The token's audience is checked by the API's own verification (BearerTokens).
                          validate_token_resource=False),
    )

    def token() -> str:
        access = get_access_token()
        if access is None:  # the SDK's middleware lets no request without one reach a tool
            raise PermissionError("no bearer token")
        return access.token

    tools.build(server, api, token)
    security = TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=allowed_hosts,
                                         allowed_origins=allowed_origins)
    served = server.streamable_http_app(streamable_http_path=MCP_PATH, json_response=True, stateless_http=True,
                                        transport_security=security)
    served.add_middleware(KeysUnavailableAnswered)
    return served
