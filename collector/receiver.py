"""Vendor webhooks: a platform (e.g. a loudspeaker vendor's, behind carrier NAT) pushes JSON
to ``POST /hooks/{webhook_id}``; the device's ``http_json`` mapping turns it into metrics.

A body that does not map is that device's ``check_error`` (422 with the reason, at most one
event per ``IOC_COLLECTOR_ERROR_REPEAT_S``), never the receiver's. Every hook needs its bearer
token (``webhook_token_env``, compared in constant time). The receiver binds
``IOC_COLLECTOR_WEBHOOK_HOST`` (default loopback) and is served by :mod:`ioc.boundedhttp`:
header and body deadlines, a connection cap, 413 for a body that is too large, at once.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from collector.checks.base import CheckError
from collector.checks.http_json import HttpJsonCheck, HttpJsonParams
from collector.settings import CollectorSettings
from ioc.boundedhttp import BoundedServer, Limits
from ioc.bounds import JSON_SHOW_MAX_DEPTH, check_json

if TYPE_CHECKING:
    from collector.service import Collector

log = logging.getLogger(__name__)
MAX_BODY = 1_048_576
MAX_DOCS = 1000  # readings in one pushed list


def hooks(collector: Collector) -> dict[str, HttpJsonCheck]:
    """Checks that receive webhooks, by their webhook id."""
    out: dict[str, HttpJsonCheck] = {}
    for check in collector.checks:
        if isinstance(check, HttpJsonCheck):
            params = check.params
            assert isinstance(params, HttpJsonParams)
            if params.webhook_id:
                out[params.webhook_id] = check
    return out


def make_app(collector: Collector) -> Starlette:
    """The receiver application."""
    by_id = hooks(collector)

    async def receive(request: Request) -> JSONResponse:
        check = by_id.get(request.path_params["hook"])
        if check is None:
            return JSONResponse({"detail": "unknown webhook id"}, 404)
        params = check.params
        assert isinstance(params, HttpJsonParams)
        try:
            expected = f"Bearer {check.secrets(params.webhook_token_env or '')}"
        except CheckError as exc:
            log.warning("webhook %s refused: %s", params.webhook_id, exc.reason)
            return JSONResponse({"detail": "this hook has no token on the collector"}, 503)
        given = request.headers.get("authorization", "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return JSONResponse({"detail": "missing or wrong bearer token"}, 401)
        body = await _body(request)
        if body is None:
            return JSONResponse({"detail": f"body larger than {MAX_BODY} bytes"}, 413)
        try:
            doc = json.loads(body)
            check_json(doc, max_depth=JSON_SHOW_MAX_DEPTH, max_bytes=MAX_BODY)
            docs = doc if isinstance(doc, list) else [doc]
            samples = [check.map(d) for d in docs[:MAX_DOCS]]
        except (ValueError, UnicodeDecodeError, RecursionError):
            why = f"webhook body of {len(body)} bytes is not JSON (or nested too deeply)"
            collector.scheduler.push_failed(check, "parse", why)
            return JSONResponse({"detail": "body is not JSON, or nested too deeply"}, 400)
        except CheckError as exc:
            collector.scheduler.push_failed(check, exc.kind, f"webhook: {exc.reason}")
            return JSONResponse({"detail": exc.reason}, 422)
        for sample in samples:
            collector.scheduler.pushed(check, sample)
        return JSONResponse({"accepted": len(samples)}, 202)

    from collector.alarmhost_route import alarm_host_route  # Hikvision pushes (h18)

    return Starlette(
        routes=[Route("/hooks/{hook}", receive, methods=["POST"]), alarm_host_route(collector)]
    )


async def _body(request: Request) -> bytes | None:
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > MAX_BODY:
            return None
    return bytes(chunks)


def limits(settings: CollectorSettings) -> Limits:
    """The receiver's bounds, from the settings."""
    return Limits(
        header_timeout_s=settings.collector_receiver_header_timeout_s,
        body_timeout_s=settings.collector_receiver_body_timeout_s,
        app_timeout_s=settings.collector_receiver_body_timeout_s,
        max_connections=settings.collector_receiver_max_connections,
        max_body_bytes=MAX_BODY,
    )


async def serve(collector: Collector, ready: asyncio.Future[int] | None = None) -> None:
    """Serve webhooks and alarm-host pushes until cancelled."""
    settings = collector.settings
    server = BoundedServer(make_app(collector), limits(settings))
    collector.receiver = server
    host, port = settings.collector_webhook_host, settings.collector_webhook_port or 0
    log.info("webhook receiver on %s:%s", host, port)
    if host in ("0.0.0.0", "::", ""):
        log.warning("the receiver listens on every interface (IOC_COLLECTOR_WEBHOOK_HOST=%s)", host)
    await server.serve(host, port, ready)
