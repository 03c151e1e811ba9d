"""A threaded HTTP device fake with real digest challenges, event streams and injectable faults.

Vendor fakes (:mod:`simulators.vendors.hikvision`, :mod:`simulators.vendors.dahua`) register
documents per path and one event-stream path. Faults per path: ``garbage`` (not XML),
``slow`` (drips a byte every 0.5 s), ``huge`` (megabytes), ``status:NNN``, ``hang`` (answers
nothing). Stream commands: :meth:`FakeHttpDevice.send_event`, :meth:`drop_streams`.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import urlsplit

from simulators.vendors.digest import DigestServer

log = logging.getLogger(__name__)

Doc = Callable[[str], tuple[str, bytes]]  # query string -> (content type, body)


class FakeHttpDevice:
    """Base of the vendor fakes: routes, digest auth, faults, multipart event streams."""

    realm = "fake"
    stream_path = ""
    boundary = "boundary"

    def __init__(
        self,
        username: str = "admin",
        password: str = "secret",
        *,
        algorithm: str = "MD5",
        host: str = "127.0.0.1",
        port: int = 0,
        heartbeat_s: float = 1.0,
    ) -> None:
        self.auth = DigestServer(self.realm, username, password, algorithm)
        self.routes: dict[str, Doc] = {}
        self.faults: dict[str, str] = {}
        self.heartbeat_s = heartbeat_s
        self.requests: list[str] = []
        self._streams: list[queue.Queue[tuple[str, bytes]]] = []
        self.streams_opened = 0
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), _handler(self))
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self.server.server_address[0])

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.drop_streams()
        self.server.shutdown()
        self.server.server_close()

    # --- event streams -------------------------------------------------------------------
    def stream_count(self) -> int:
        with self._lock:
            return len(self._streams)

    def _broadcast(self, item: tuple[str, bytes]) -> None:
        with self._lock:
            for q in self._streams:
                q.put(item)

    def send_part(self, ctype: str, body: bytes) -> None:
        """Write one part to every open stream."""
        self._broadcast(("part", ctype.encode() + b"\n" + body))

    def drop_streams(self) -> None:
        """Abruptly close every open stream (RST, no final boundary)."""
        self._broadcast(("drop", b""))

    def post(self, path: str, body: bytes) -> tuple[int, str, bytes]:  # SOAP fakes override
        return 404, "text/plain", b"Not Found"

    def heartbeat(self) -> tuple[str, bytes]:  # overridden by vendors
        return "text/plain", b"Heartbeat"

    def serve_stream(self, handler: BaseHTTPRequestHandler) -> None:
        q: queue.Queue[tuple[str, bytes]] = queue.Queue()
        with self._lock:
            self._streams.append(q)
            self.streams_opened += 1
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", f"multipart/mixed; boundary={self.boundary}")
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.flush()
            while True:
                try:
                    kind, data = q.get(timeout=self.heartbeat_s)
                except queue.Empty:
                    ctype, body = self.heartbeat()
                    kind, data = "part", ctype.encode() + b"\n" + body
                if kind == "drop":
                    with contextlib.suppress(OSError):
                        handler.connection.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                        )
                    return
                if kind == "raw":
                    handler.wfile.write(data)
                else:
                    part_type, _, part = data.partition(b"\n")
                    handler.wfile.write(
                        b"--%s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s\r\n"
                        % (self.boundary.encode(), part_type, len(part), part)
                    )
                handler.wfile.flush()
        except OSError:
            return
        finally:
            with self._lock:
                self._streams.remove(q)


def _handler(dev: FakeHttpDevice) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            log.debug("fake %s: " + format, dev.port, *args)

        def do_GET(self) -> None:
            self.close_connection = False
            url = urlsplit(self.path)
            dev.requests.append(url.path)
            if not dev.auth.verify("GET", self.headers.get("Authorization")):
                body = b"<html>401 Unauthorized</html>"
                self.send_response(401)
                self.send_header("WWW-Authenticate", dev.auth.challenge())
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            fault = dev.faults.get(url.path, "")
            if url.path == dev.stream_path and not fault:
                self.close_connection = True
                dev.serve_stream(self)
                return
            doc = dev.routes.get(url.path)
            if doc is None and not fault:
                self._send(404, "text/plain", b"Not Found")
                return
            if fault:
                self._fault(fault)
                return
            assert doc is not None
            ctype, body = doc(url.query)
            self._send(200, ctype, body)

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            dev.requests.append(url.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 1_000_000))
            code, ctype, out = dev.post(url.path, body)
            self._send(code, ctype, out)

        def _send(self, code: int, ctype: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _fault(self, fault: str) -> None:
            if fault == "garbage":
                self._send(200, "application/xml", b"<DeviceStatus><CPU>12</CPU\x00>>garbage")
            elif fault == "huge":
                self._send(200, "application/xml", b"<a>" + b"x" * 5_000_000 + b"</a>")
            elif fault.startswith("status:"):
                self._send(int(fault[7:]), "text/plain", b"error")
            elif fault == "slow":
                body = b"<DeviceStatus>" + b" " * 200 + b"</DeviceStatus>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                for i in range(len(body)):
                    try:
                        self.wfile.write(body[i : i + 1])
                        self.wfile.flush()
                    except OSError:
                        return
                    time.sleep(0.5)
            elif fault == "hang":
                time.sleep(30)
            self.close_connection = True

    return Handler
