"""A tiny healthchecks.io-style receiver on loopback: records pings, says "down" after a grace.

Like healthchecks or an Uptime Kuma push monitor: a check is up while its last ping (``GET
/ping/<check>``, ``/start``, not ``/fail``) is younger than the grace period.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ioc.ports import free_port


class Receiver:
    """``url`` to configure; ``pings`` as (monotonic time, signal); ``down()`` after ``grace``."""

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self.pings: list[tuple[float, str]] = []
        self.port = free_port()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = self.path.strip("/").split("/")
                if parts[:1] != ["ping"] or len(parts) < 2:
                    self.send_response(404)
                else:
                    signal = parts[2] if len(parts) > 2 else "ok"
                    receiver.pings.append((time.monotonic(), signal))
                    self.send_response(200)
                self.end_headers()

            do_POST = do_GET

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ping/ioc-central"

    def signals(self) -> list[str]:
        """What arrived, in order."""
        return [s for _, s in self.pings]

    def down(self) -> bool:
        """No success ping within the grace period (or the last one was /fail)."""
        if self.pings and self.pings[-1][1] == "fail":
            return True
        ok = [t for t, s in self.pings if s != "fail"]
        return not ok or time.monotonic() - ok[-1] > self.grace_s

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
