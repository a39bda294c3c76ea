"""A real webhook receiver for tests: an HTTP server on 127.0.0.1 that records every request."""

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    at: float  # time.time() on arrival


class Receiver:
    """Answers each request with the next of `statuses` (then the last one again); `hold` seconds
    before answering the first `held` requests; `redirect_to`: a 302 to that URL; `trickle`:
    the status line, then one header line every `trickle` seconds, never finishing (a hostile
    or broken receiver whose every read arrives before a socket timeout)."""

    def __init__(self, statuses=(200,), hold: float = 0.0, held: int = 0, redirect_to: str | None = None,
                 trickle: float = 0.0):
        self.statuses, self.hold, self.held, self.redirect_to = list(statuses), hold, held, redirect_to
        self.trickle = trickle
        self.closed = threading.Event()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.arrived:
                    receiver.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                                      body, time.time()))
                    number = len(receiver.received)
                    receiver.arrived.notify_all()
                if number <= receiver.held:
                    time.sleep(receiver.hold)
                if receiver.trickle:
                    self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                    while not receiver.closed.wait(receiver.trickle):
                        try:
                            self.wfile.write(b"X-Still-Coming: yes\r\n")
                            self.wfile.flush()
                        except OSError:  # the sender gave up
                            return
                    return
                status = receiver.statuses[min(number, len(receiver.statuses)) - 1]
                self.send_response(302 if receiver.redirect_to else status)
                if receiver.redirect_to:
                    self.send_header("Location", receiver.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, seconds: float = 15) -> list[Received]:
        """The first `count` requests, once that many have arrived (AssertionError after `seconds`)."""
        deadline = time.monotonic() + seconds
        with self.arrived:
            while len(self.received) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.received)} of {count} requests arrived within {seconds} s"
                self.arrived.wait(left)
            return list(self.received[:count])

    def events(self, secret: str, count: int, seconds: float = 15) -> list[dict]:
        """The first `count` events, each verified with the standardwebhooks library."""
        return [Webhook(secret).verify(item.body, item.headers) for item in self.wait_for(count, seconds)]

    def close(self) -> None:
        self.closed.set()
        self.server.shutdown()
        self.server.server_close()
