"""The other way to serve the MCP server, measured against the one taken (bench.mcp_port): on
the API's own port, one ASGI application per Granian worker — the SDK's Streamable HTTP app for
`/mcp` and its metadata, the API's Flask app through an ASGI-to-WSGI adapter (a2wsgi, a thread
pool of `TASKAPP_BENCH_THREADS` per worker) for everything else.

`granian --interface asgi --factory bench.same_port:create_app`
"""

import os

from a2wsgi import WSGIMiddleware

from taskapp.agents.server import MCP_PATH, http_app
from taskapp.app import create_app as create_api

MCP_PREFIXES = (MCP_PATH, "/.well-known/oauth-protected-resource")


def create_app():
    api = create_api()
    port = os.environ.get("TASKAPP_BENCH_PORT", "8000")
    public_url = f"http://127.0.0.1:{port}"
    mcp = http_app(api, public_url, [f"127.0.0.1:{port}", f"localhost:{port}"], [])
    wsgi = WSGIMiddleware(api, workers=int(os.environ.get("TASKAPP_BENCH_THREADS", "4")))

    async def app(scope, receive, send):
        if scope["type"] == "lifespan" or scope["path"].startswith(MCP_PREFIXES):
            await mcp(scope, receive, send)  # the SDK's session manager runs in the lifespan
        else:
            # a2wsgi hands the server's receive and send to asyncio.run_coroutine_threadsafe, which
            # takes only coroutines; Granian's return other awaitables.
            async def receiving():
                return await receive()

            async def sending(message):
                return await send(message)

            await wsgi(scope, receiving, sending)

    return app
