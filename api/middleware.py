"""ASGI middleware: request body size limit and Prometheus request metrics."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    """The request body went past the limit while being read."""


async def _send_error(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Answer 413 to bodies larger than ``limit`` bytes, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        message = f"request body larger than {self.limit} bytes"
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = False
                if too_big:
                    await _send_error(send, 413, message)
                    return
        seen = 0
        rejected = False

        async def limited_receive() -> Message:
            nonlocal seen, rejected
            msg = await receive()
            if msg["type"] == "http.request" and not rejected:
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    # Answer now: frameworks turn errors raised while reading into a 400.
                    rejected = True
                    await _send_error(send, 413, message)
                    raise BodyTooLarge
            return msg

        async def guarded_send(msg: Message) -> None:
            if not rejected:
                await send(msg)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, limited_receive, guarded_send)


class Metrics:
    """Count requests and time them per method, handler (route function) and status."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "ioc_api_requests_total",
            "HTTP requests by method, handler and status.",
            ["method", "handler", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "ioc_api_request_seconds",
            "HTTP request latency by method and handler.",
            ["method", "handler"],
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]

        async def record_send(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                status[0] = msg["status"]
            await send(msg)

        try:
            await self.app(scope, receive, record_send)
        finally:
            route: Any = scope.get("route")
            handler = getattr(route, "name", None) or "unmatched"
            self.requests.labels(scope["method"], handler, str(status[0])).inc()
            self.latency.labels(scope["method"], handler).observe(time.perf_counter() - start)
