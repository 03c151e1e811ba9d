"""A threaded ``http.server`` with the bounds every listener of the product has.

- a connection cap: beyond ``max_connections`` open connections a new one is answered 503 and
  closed at once (no thread is started for it);
- one deadline per request for its headers and body together: a client that sends one byte
  now and then (slowloris) is cut off when the deadline passes, however it paces its bytes;
- one request per connection (no keep-alive to hold a slot open).
"""

from __future__ import annotations

import io
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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
