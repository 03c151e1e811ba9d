"""The collector's push receiver: the routes the check kinds contribute, on one bounded server.

Each check kind that devices push to lists its route factory in :data:`collector.registry.ROUTES`
(``/hooks/{id}`` for ``http_json`` webhooks, ``/hikvision`` for alarm hosts); the routes get a
:class:`collector.push.PushContext`, never the collector. The receiver binds
``IOC_COLLECTOR_WEBHOOK_HOST`` (default loopback) and is served by :mod:`ioc.boundedhttp`:
header and body deadlines, a connection cap, 413 for a body that is too large, at once.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.applications import Starlette

from collector.checks.http_json.route import MAX_BODY
from collector.push import PushContext
from collector.registry import ROUTES
from collector.settings import CollectorSettings
from ioc.boundedhttp import BoundedServer, Limits

log = logging.getLogger(__name__)


def make_app(ctx: PushContext) -> Starlette:
    """The receiver application: every check kind's routes."""
    return Starlette(routes=[route for factory in ROUTES.values() for route in factory(ctx)])


def limits(settings: CollectorSettings) -> Limits:
    """The receiver's bounds, from the settings."""
    return Limits(
        header_timeout_s=settings.receiver_header_timeout_s,
        body_timeout_s=settings.receiver_body_timeout_s,
        app_timeout_s=settings.receiver_body_timeout_s,
        max_connections=settings.receiver_max_connections,
        max_body_bytes=MAX_BODY,
    )


def build(ctx: PushContext) -> BoundedServer:
    """The receiver's server (not listening yet)."""
    return BoundedServer(make_app(ctx), limits(ctx.settings))


async def serve(
    server: BoundedServer, settings: CollectorSettings, ready: asyncio.Future[int] | None = None
) -> None:
    """Serve pushes until cancelled."""
    host, port = settings.webhook_host, settings.webhook_port or 0
    log.info("webhook receiver on %s:%s", host, port)
    if host in ("0.0.0.0", "::", ""):
        log.warning("the receiver listens on every interface (IOC_COLLECTOR_WEBHOOK_HOST=%s)", host)
    await server.serve(host, port, ready)
