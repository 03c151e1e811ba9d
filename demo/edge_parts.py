"""Small parts of the demo's edge: a fake vendor platform and a TCP relay that can be cut."""

from __future__ import annotations

import contextlib
import json
import random
import selectors
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class VendorPlatform:
    """A loudspeaker vendor's status API (bearer token), one JSON document per cluster."""

    def __init__(self, token: str) -> None:
        self.token = token
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.headers.get("Authorization") != f"Bearer {outer.token}":
                    self._send(401, {"error": "unauthorized"})
                    return
                parts = self.path.strip("/").split("/")
                if len(parts) != 2 or parts[0] != "clusters" or not parts[1].isdigit():
                    self._send(404, {"error": "not found"})
                    return
                n = int(parts[1])
                self._send(200, {
                    "id": f"cluster-{n}",
                    "lte": {"rsrp": -88 - 4 * n + random.uniform(-3, 3), "sinr": 12 - n},
                    "player": {"mode": 0, "volume": 60 + 5 * n},
                    "power": {"ac": "on"},
                })  # fmt: skip

            def _send(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()


class Relay:
    """Forwards loopback TCP to the broker; ``cut()`` drops every connection and refuses new
    ones (the commune's uplink is down), ``restore()`` accepts again."""

    def __init__(self, host: str, port: int, listen_port: int) -> None:
        self.target = (host, port)
        self.port = listen_port
        self.listener = socket.create_server(("127.0.0.1", listen_port))
        self.listener.setblocking(False)
        self.selector = selectors.DefaultSelector()
        self.pairs: dict[socket.socket, socket.socket] = {}
        self.up = True
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="demo-relay", daemon=True)

    def start(self) -> None:
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.thread.start()

    def cut(self) -> None:
        self.up = False

    def restore(self) -> None:
        self.up = True

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.up and self.pairs:
                for open_sock in list(self.pairs):
                    self._drop(open_sock)
            for key, _ in self.selector.select(timeout=0.2):
                sock = key.fileobj
                if not isinstance(sock, socket.socket):
                    continue
                if sock is self.listener:
                    self._accept()
                    continue
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                peer = self.pairs.get(sock)
                if not data or peer is None:
                    self._drop(sock)
                    continue
                with contextlib.suppress(OSError):
                    peer.sendall(data)

    def _accept(self) -> None:
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        if not self.up:
            client.close()
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        for a, b in ((client, upstream), (upstream, client)):
            a.setblocking(True)
            self.pairs[a] = b
            self.selector.register(a, selectors.EVENT_READ)

    def _drop(self, sock: socket.socket) -> None:
        peer = self.pairs.pop(sock, None)
        for s in (sock, peer):
            if s is None:
                continue
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(s)
            self.pairs.pop(s, None)
            s.close()

    def close(self) -> None:
        self._stop.set()
        self.thread.join(5)
        for sock in list(self.pairs):
            self._drop(sock)
        self.listener.close()
