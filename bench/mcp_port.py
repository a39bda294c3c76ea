"""Where `taskapp serve` offers the MCP server, decided by measurement: `python -m bench.mcp_port`.

Two candidates, side by side on one database in one run, measured on the API's own scenarios
(what every client pays): `own-port`, what `taskapp serve` does (Granian's WSGI workers for the
API; the MCP server a process of its own on the next port, idle here), against `same-port`
(bench/same_port.py: one ASGI application per Granian worker, the API through an ASGI-to-WSGI
adapter beside the SDK's app). Same workers, threads, settings and data set (the full one); wrk
alternates slices between them. Writes bench/results/mcp-port.json and prints a table.
"""

import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.servers import two_candidates
from bench.targets import VENV_BIN, Server, free_port

CANDIDATES = ("own-port", "same-port")


def main() -> int:
    same_port, mcp_port = free_port(), free_port()
    # Where each candidate answers /mcp: the next process's port, or its own.
    mcp_urls = {"own-port": f"http://127.0.0.1:{mcp_port}", "same-port": f"http://127.0.0.1:{same_port}"}

    def own_and_same_port(args, env: dict, folder: Path) -> list[Server]:
        return [
            Server("own-port", [str(VENV_BIN / "taskapp"), "serve", "--port", "{port}", "--workers", str(args.workers),
                                "--threads", str(args.threads), "--mcp-port", str(mcp_port)],
                   env, folder / "own-port.log"),
            Server("same-port", [str(VENV_BIN / "granian"), "--interface", "asgi", "--factory", "--host", "127.0.0.1",
                                 "--port", "{port}", "--workers", str(args.workers), "--http", "1",
                                 "--no-ws", "bench.same_port:create_app"],
                   {**env, "PROMETHEUS_MULTIPROC_DIR": str(folder / "metrics"), "TASKAPP_BENCH_PORT": str(same_port),
                    "TASKAPP_BENCH_THREADS": str(args.threads)},
                   folder / "same-port.log", port=same_port),
        ]

    return two_candidates("bench.mcp_port", __doc__, CANDIDATES, own_and_same_port, "mcp-port.json",
                          ready=lambda server: mcp_answers(mcp_urls[server.name]))  # each serves MCP too


def mcp_answers(base_url: str, seconds: float = 60) -> None:
    """Wait until the MCP server at `base_url` answers a request without a token: 401."""
    deadline = time.monotonic() + seconds
    request = urllib.request.Request(f"{base_url}/mcp", data=b"{}", method="POST",
                                     headers={"Accept": "application/json, text/event-stream"})
    while True:
        try:
            urllib.request.urlopen(request, timeout=5)
        except urllib.error.HTTPError as error:
            if error.code == 401:
                return
            raise
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
