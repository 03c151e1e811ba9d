"""``POST /hooks/{webhook_id}``: vendor webhooks for ``http_json`` devices.

A platform (e.g. a loudspeaker vendor's, behind carrier NAT) pushes JSON; the device's
``http_json`` mapping turns it into metrics. A body that does not map is that device's
``check_error`` (422 with the reason, at most one event per ``IOC_COLLECTOR_ERROR_REPEAT_S``),
never the receiver's. Every hook needs its bearer token (``webhook_token_env``, compared in
constant time).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Iterable

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from collector.checks.base import Check, CheckError
from collector.checks.http_json.check import HttpJsonCheck, HttpJsonParams
from collector.push import PushContext
from ioc.bounds import JSON_SHOW_MAX_DEPTH, check_json

log = logging.getLogger(__name__)
MAX_BODY = 1_048_576
MAX_DOCS = 1000  # readings in one pushed list


def hooks(checks: Iterable[Check]) -> dict[str, HttpJsonCheck]:
    """Checks that receive webhooks, by their webhook id."""
    out: dict[str, HttpJsonCheck] = {}
    for check in checks:
        if isinstance(check, HttpJsonCheck):
            params = check.params
            assert isinstance(params, HttpJsonParams)
            if params.webhook_id:
                out[params.webhook_id] = check
    return out


def webhook_routes(ctx: PushContext) -> list[BaseRoute]:
    """The webhook route for this collector's ``http_json`` devices."""
    by_id = hooks(ctx.checks)
    sink = ctx.sink

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
            sink.push_failed(check, "parse", why)
            return JSONResponse({"detail": "body is not JSON, or nested too deeply"}, 400)
        except CheckError as exc:
            sink.push_failed(check, exc.kind, f"webhook: {exc.reason}")
            return JSONResponse({"detail": exc.reason}, 422)
        for sample in samples:
            sink.pushed(check, sample)
        return JSONResponse({"accepted": len(samples)}, 202)

    return [Route("/hooks/{hook}", receive, methods=["POST"])]


async def _body(request: Request) -> bytes | None:
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > MAX_BODY:
            return None
    return bytes(chunks)
