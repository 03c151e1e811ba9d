"""A small HTTP/1.1 server for an ASGI app at the network's edge, bounded in every dimension.

uvicorn has no deadline for a request's headers or body: a client that sends one byte every
few seconds (slowloris) holds a connection forever, and enough of them hold every socket. Here
each connection must deliver its headers within ``header_timeout_s`` and its body within
``body_timeout_s`` (else ``408`` and closed), a ``Content-Length`` above ``max_body_bytes`` is
``413`` at once, headers above ``max_header_bytes`` are ``431``, at most ``max_connections``
are served at a time (the next gets ``503`` and is closed), the app has ``app_timeout_s`` to
answer and the client ``body_timeout_s`` to read it. One request per connection. Parsing is
h11's (the HTTP/1.1 state machine uvicorn and httpx use).

It is the product's one server for listeners that face devices or the internet: the
collector's push receiver (``collector/receiver.py``, in the collector's event loop) and the
chat apps' webhooks (``alerts/chatops/listener.py``, a :class:`Listener` on its own thread in
``ioc alerts``). The API and the console run on uvicorn behind the TLS reverse proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

import h11

log = logging.getLogger(__name__)

READ_LIMIT = 64 * 1024  # the stream reader's buffer
BACKLOG = 128  # a burst of connections is accepted (and beyond the cap refused) at once

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True)
class Limits:
    """What one listener allows a client (documented in docs/security.md)."""

    header_timeout_s: float = 5.0
    body_timeout_s: float = 10.0
    app_timeout_s: float = 10.0
    max_connections: int = 64
    max_header_bytes: int = 16 * 1024
    max_body_bytes: int = 1_048_576
    request_timeout_s: float | None = None  # headers and body together (None: no such bound)


class _Refuse(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class BoundedServer:
    """Serves ``app`` under ``limits``; ``active`` and ``refused`` are there to be watched."""

    def __init__(self, app: App, limits: Limits) -> None:
        self.app = app
        self.limits = limits
        self.active = 0
        self.refused = 0  # connections answered 503/408/413/431/400 without reaching the app

    async def serve(self, host: str, port: int, ready: asyncio.Future[int] | None = None) -> None:
        """Listen until cancelled; ``ready`` gets the bound port."""
        server = await asyncio.start_server(
            self._client, host, port, limit=READ_LIMIT, backlog=BACKLOG
        )
        if ready is not None:
            ready.set_result(int(server.sockets[0].getsockname()[1]))
        async with server:
            await server.serve_forever()

    async def serve_socket(self, sock: socket.socket, started: threading.Event) -> None:
        """Serve on a socket bound beforehand until cancelled; set ``started`` once accepting."""
        server = await asyncio.start_server(self._client, sock=sock, limit=READ_LIMIT)
        started.set()
        try:
            await asyncio.Future()  # until cancelled
        finally:
            server.close()  # open connections end by their own deadlines, or with the loop

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.active >= self.limits.max_connections:
            self.refused += 1
            await self._close(writer, _plain(503, "too many connections; retry later"))
            return
        self.active += 1
        try:
            await self._one(reader, writer)
        except Exception:  # a bug or a broken socket costs this connection only
            log.debug("connection failed", exc_info=True)
        finally:
            self.active -= 1
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        lim = self.limits
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=lim.max_header_bytes)
        try:
            async with asyncio.timeout(lim.request_timeout_s):
                async with asyncio.timeout(lim.header_timeout_s):
                    request = await _next(conn, reader, h11.Request, lim.max_header_bytes)
                assert isinstance(request, h11.Request)
                length = _header(request, b"content-length")
                if length is not None and not (length.isascii() and length.isdigit()):
                    raise _Refuse(400, "Content-Length is not a number")
                if length is not None and (len(length) > 18 or int(length) > lim.max_body_bytes):
                    raise _Refuse(413, f"body larger than {lim.max_body_bytes} bytes")
                async with asyncio.timeout(lim.body_timeout_s):
                    body = await _body(conn, reader, lim.max_body_bytes)
        except TimeoutError:
            self.refused += 1
            await self._close(writer, _plain(408, "request not complete in time"))
            return
        except _Refuse as exc:
            self.refused += 1
            await self._close(writer, _plain(exc.status, exc.reason))
            return
        except h11.RemoteProtocolError as exc:
            self.refused += 1
            status = exc.error_status_hint
            await self._close(writer, _plain(status, "malformed request"))
            return
        peer = writer.get_extra_info("peername") or ("", 0)
        sock = writer.get_extra_info("sockname") or ("", 0)
        answer = await self._call(request, body, (str(peer[0]), int(peer[1])), sock)
        await self._close(writer, answer)

    async def _call(
        self, request: h11.Request, body: bytes, peer: tuple[str, int], sock: Any
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        target = request.target
        path, _, query = target.partition(b"?")
        scope: Scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": request.method.decode("ascii", "replace"),
            "scheme": "http",
            "path": unquote(path.decode("latin-1")),
            "raw_path": path,
            "query_string": query,
            "root_path": "",
            "headers": [(k.lower(), v) for k, v in request.headers],
            "client": peer,
            "server": (str(sock[0]), int(sock[1])),
        }
        sent = {"body": False}
        status = [500]
        headers: list[tuple[bytes, bytes]] = []
        chunks: list[bytes] = []

        async def receive() -> Message:
            if sent["body"]:
                return {"type": "http.disconnect"}
            sent["body"] = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
                headers.extend((bytes(k), bytes(v)) for k, v in message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.append(bytes(message.get("body", b"")))

        try:
            async with asyncio.timeout(self.limits.app_timeout_s):
                await self.app(scope, receive, send)
        except TimeoutError:
            return _plain(503, "the server did not answer in time")
        except Exception:
            log.exception("request %s failed", scope["path"][:100])
            return _plain(500, "internal error")
        kept = [(k, v) for k, v in headers if k.lower() not in (b"content-length", b"connection")]
        return status[0], kept, b"".join(chunks)

    async def _close(
        self, writer: asyncio.StreamWriter, answer: tuple[int, list[tuple[bytes, bytes]], bytes]
    ) -> None:
        status, headers, body = answer
        out = h11.Connection(h11.SERVER)
        # A fresh state machine only formats the answer (the request may have been refused
        # halfway through, where the reading one would not let us answer).
        out.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        out.next_event()
        data = out.send(
            h11.Response(
                status_code=status,
                reason=_phrase(status),
                headers=[*headers, (b"content-length", str(len(body)).encode()),
                         (b"connection", b"close")],
            )
        )  # fmt: skip
        data = (data or b"") + (out.send(h11.Data(data=body)) or b"")
        data += out.send(h11.EndOfMessage()) or b""
        with contextlib.suppress(ConnectionError, TimeoutError, RuntimeError):
            writer.write(data)
            async with asyncio.timeout(self.limits.body_timeout_s):
                await writer.drain()
        writer.close()


class Listener:
    """A :class:`BoundedServer` for a threaded process: bound at once, served by its own loop.

    The socket is bound when the listener is made (a taken port fails there, and ``port`` is
    known before ``start``); ``start`` serves it from a daemon thread, ``stop`` ends it.
    """

    def __init__(self, app: App, limits: Limits, listen: str, name: str) -> None:
        host, _, port = listen.rpartition(":")
        host = host.strip("[]") or "0.0.0.0"
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.server = BoundedServer(app, limits)
        self.sock = socket.create_server((host, int(port)), family=family, backlog=BACKLOG)
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one chosen for ``:0``)."""
        return int(self.sock.getsockname()[1])

    @property
    def refused(self) -> int:
        """Connections answered without reaching the app (cap, deadline, size, malformed)."""
        return self.server.refused

    def start(self) -> None:
        """Serve from a daemon thread; return once the socket is being accepted on."""
        started = threading.Event()

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.current_task()
            await self.server.serve_socket(self.sock, started)

        def run() -> None:
            with contextlib.suppress(asyncio.CancelledError):
                asyncio.run(main())

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        if not started.wait(10.0):
            raise RuntimeError(f"{self.name}: listener did not start")

    def stop(self) -> None:
        """Stop accepting, end open connections, release the port."""
        if self._loop is not None and self._task is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._task.cancel)
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self.sock.close()


def _phrase(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


def _plain(status: int, reason: str) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    return status, [(b"content-type", b"text/plain; charset=utf-8")], reason.encode() + b"\n"


def _header(request: h11.Request, name: bytes) -> str | None:
    for key, value in request.headers:
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return None


async def _next(
    conn: h11.Connection, reader: asyncio.StreamReader, kind: type, max_bytes: int
) -> Any:
    received = 0
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(8192)
            received += len(data)
            if received > max_bytes * 4 and kind is h11.Request:
                raise _Refuse(431, "request headers too large")
            conn.receive_data(data)  # b"" at EOF: h11 then raises or ends the message
            continue
        if isinstance(event, h11.ConnectionClosed):
            raise _Refuse(400, "connection closed mid-request")
        if isinstance(event, kind):
            return event
        if kind is h11.Request:
            raise _Refuse(400, "expected a request")
        return event


async def _body(conn: h11.Connection, reader: asyncio.StreamReader, max_bytes: int) -> bytes:
    body = bytearray()
    while True:
        event = await _next(conn, reader, h11.EndOfMessage, max_bytes)
        if isinstance(event, h11.EndOfMessage):
            return bytes(body)
        if isinstance(event, h11.Data):
            body += event.data
            if len(body) > max_bytes:
                raise _Refuse(413, f"body larger than {max_bytes} bytes")
