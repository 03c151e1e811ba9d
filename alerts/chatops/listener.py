"""The chat apps' webhook listener: one POST path, an ASGI app on the bounded server.

Telegram and Zalo post updates to a URL of ours (through the TLS reverse proxy). Each gets a
small Starlette application served by :class:`ioc.boundedhttp.Listener`, the server the
collector's push receiver runs on: a connection cap (503 beyond it, at once), one deadline for
a request's headers and body however they are paced (408, or the connection cut), a body cap
(413 before the body is read), a malformed request 400. The application then answers 403 when
``allowed`` refuses the headers, 411 without a ``Content-Length``, else what ``accept`` says
for the raw body (run on a worker thread: it may wait on the database; an exception is 500).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ioc.boundedhttp import Limits, Listener

log = logging.getLogger(__name__)

Answer = tuple[int, dict[str, Any]]
Headers = Mapping[str, str]  # case-insensitive (Starlette's), e.g. headers.get("X-A")
Accept = Callable[[bytes, Headers], Answer]
ANSWER_S = 30.0  # an update's handling (database, a reply) before the sender is told 503


def webhook_app(path: str, accept: Accept, allowed: Callable[[Headers], bool]) -> Starlette:
    """An application with one route: ``POST path`` (the query is ignored)."""

    async def post(request: Request) -> JSONResponse:
        if not allowed(request.headers):
            return JSONResponse({"status": "forbidden"}, 403)
        if "content-length" not in request.headers:
            return JSONResponse({"status": "length required"}, 411)
        raw = await request.body()
        try:
            status, answer = await run_in_threadpool(accept, raw, request.headers)
        except Exception:
            log.exception("webhook request on %s failed", path)
            status, answer = 500, {"status": "error"}
        return JSONResponse(answer, status)

    return Starlette(routes=[Route(path, post, methods=["POST"])])


def webhook_listener(
    listen: str,
    path: str,
    accept: Accept,
    *,
    name: str,
    max_body: int,
    max_connections: int,
    deadline_s: float,
    allowed: Callable[[Headers], bool] = lambda headers: True,
) -> Listener:
    """A listener on ``host:port`` for POSTs to ``path``, bound now, served from ``start()``."""
    limits = Limits(
        header_timeout_s=deadline_s,
        body_timeout_s=deadline_s,
        request_timeout_s=deadline_s,
        app_timeout_s=ANSWER_S,
        max_connections=max_connections,
        max_body_bytes=max_body,
    )
    return Listener(webhook_app(path, accept, allowed), limits, listen, name)
