"""A threaded ``http.server`` with the bounds every listener of the product has.

- a connection cap: beyond ``max_connections`` open connections a new one is answered 503 and
  closed at once (no thread is started for it);
- one deadline per request for its headers and body together: a client that sends one byte
  now and then (slowloris) is cut off when the deadline passes, however it paces its bytes;
- one request per connection (no keep-alive to hold a slot open);
- a listen backlog of 128: a burst of connections is accepted (and beyond the cap refused)
  at once instead of waiting about a second for SYN retries (the default backlog is 5).

``post_listener`` builds the webhook listeners of the chat apps on it: one path, a check of
the headers before the body is read, a capped body, a JSON answer.
"""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)

BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
)


class _DeadlineReader(io.RawIOBase):
    """A socket's reading side that gives up, whatever the pace, once ``deadline`` passes."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("request deadline passed")
        self.sock.settimeout(left)
        return self.sock.recv_into(buffer)


class BoundedHandler(BaseHTTPRequestHandler):
    """A request handler whose headers and body must arrive within the server's deadline."""

    server: BoundedHTTPServer

    def setup(self) -> None:
        super().setup()
        deadline = time.monotonic() + self.server.request_deadline_s
        self.rfile = io.BufferedReader(_DeadlineReader(self.connection, deadline))

    def handle(self) -> None:
        self.close_connection = True
        try:
            self.handle_one_request()
        except (TimeoutError, OSError):
            self.close_connection = True  # deadline passed or the peer went away: just close

    def send_response(self, code: int, message: str | None = None) -> None:
        self.connection.settimeout(self.server.request_deadline_s)  # the answer's own time
        super().send_response(code, message)

    def log_message(self, *args: object) -> None:
        pass


class BoundedHTTPServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` with a connection cap and a per-request deadline."""

    daemon_threads = True
    request_queue_size = 128  # accept quickly, then refuse beyond the cap (not a stalled SYN)

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BoundedHandler],
        *,
        max_connections: int,
        request_deadline_s: float,
    ) -> None:
        self.max_connections = max_connections
        self.request_deadline_s = request_deadline_s
        self._slots = threading.BoundedSemaphore(max_connections)
        self.refused = 0
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.refused += 1
            try:
                request.settimeout(1.0)
                request.sendall(BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


Answer = tuple[int, dict[str, Any]]


def post_listener(
    listen: str,
    path: str,
    accept: Callable[[bytes, Message], Answer],
    *,
    max_body: int,
    max_connections: int,
    deadline_s: float,
    allowed: Callable[[Message], bool] = lambda headers: True,
) -> BoundedHTTPServer:
    """A bounded server on ``host:port`` for POSTs to ``path`` (the query is ignored).

    A request whose headers ``allowed`` refuses gets 403 before its body is read; no
    ``Content-Length`` gets 411, a malformed one 400, one over ``max_body`` 413; else
    ``accept(body, headers)`` gives the status and JSON answer (an exception in it: 500).
    """

    class Handler(BoundedHandler):
        def do_POST(self) -> None:
            if self.path.split("?", 1)[0] != path:
                self._answer(404, {"status": "not found"})
                return
            if not allowed(self.headers):
                self._answer(403, {"status": "forbidden"})
                return
            declared = self.headers.get("Content-Length")
            if declared is None:
                self._answer(411, {"status": "length required"})
                return
            if not (declared.isascii() and declared.isdigit()):
                self._answer(400, {"status": "bad length"})
                return
            if len(declared) > 9 or int(declared) > max_body:
                self._answer(413, {"status": "too large"})
                return
            raw = self.rfile.read(int(declared))
            try:
                status, answer = accept(raw, self.headers)
            except Exception:
                log.exception("webhook request on %s failed", path)
                status, answer = 500, {"status": "error"}
            self._answer(status, answer)

        def _answer(self, status: int, answer: dict[str, Any]) -> None:
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    host, port = listen.rsplit(":", 1)
    return BoundedHTTPServer(
        (host, int(port)),
        Handler,
        max_connections=max_connections,
        request_deadline_s=deadline_s,
    )
