"""Vendor webhooks: a platform (e.g. a loudspeaker vendor's, behind carrier NAT) pushes JSON
to ``POST /hooks/{webhook_id}``; the device's ``http_json`` mapping turns it into metrics.

A body that does not map is that device's ``check_error`` (422 with the reason), never the
receiver's. The optional bearer token (``webhook_token_env``) is compared in constant time.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
from collections.abc import Generator
from typing import TYPE_CHECKING

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from collector.checks.base import CheckError
from collector.checks.http_json import HttpJsonCheck, HttpJsonParams

if TYPE_CHECKING:
    from collector.service import Collector

log = logging.getLogger(__name__)
MAX_BODY = 1_048_576


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
        if params.webhook_token_env:
            try:
                expected = f"Bearer {check.secrets(params.webhook_token_env)}"
            except CheckError as exc:
                return JSONResponse({"detail": exc.reason}, 503)
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), expected.encode()):
                return JSONResponse({"detail": "missing or wrong bearer token"}, 401)
        body = await _body(request)
        if body is None:
            return JSONResponse({"detail": f"body larger than {MAX_BODY} bytes"}, 413)
        try:
            doc = json.loads(body)
            docs = doc if isinstance(doc, list) else [doc]
            samples = [check.map(d) for d in docs]
        except (ValueError, UnicodeDecodeError):
            collector.scheduler.failed(check, "parse", f"webhook body is not JSON: {body[:60]!r}")
            return JSONResponse({"detail": "body is not JSON"}, 400)
        except CheckError as exc:
            collector.scheduler.failed(check, exc.kind, f"webhook: {exc.reason}")
            return JSONResponse({"detail": exc.reason}, 422)
        for sample in samples:
            collector.scheduler.succeeded(check, sample)
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


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the collector owns SIGTERM/SIGINT


async def serve(collector: Collector) -> None:
    """Serve webhooks until cancelled."""
    settings = collector.settings
    config = uvicorn.Config(
        make_app(collector),
        host=settings.collector_webhook_host,
        port=settings.collector_webhook_port or 0,
        log_config=None,
        access_log=False,
        lifespan="off",
    )
    server = _Server(config)
    log.info("webhook receiver on %s:%s", config.host, config.port)
    try:
        await server.serve()
    finally:
        server.should_exit = True
