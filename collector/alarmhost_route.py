"""``POST /hikvision`` on the collector's webhook receiver: Hikvision alarm-host pushes.

Plugs :class:`collector.alarmhost.AlarmHost` into the receiver (:mod:`collector.receiver`):
the pushed events are recorded like the device's ``hikvision`` check results; an unreadable
push from a known device is that check's ``check_error`` with the reason (quarantine path),
an unknown sender gets 403 and a log line.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from collector.alarmhost import MAX_BODY, AlarmHost, Rejected, Sender
from collector.checks.base import Check, Sample

if TYPE_CHECKING:
    from collector.service import Collector

log = logging.getLogger(__name__)


def alarm_host_route(collector: Collector, path: str = "/hikvision") -> Route:
    """The receiver route for devices of this collector that have a ``hikvision`` check."""
    checks: dict[str, Check] = {
        c.target.device_id: c for c in collector.checks if c.name == "hikvision"
    }
    alarm = AlarmHost(
        [Sender(c.target.device_id, c.target.commune, c.target.address) for c in checks.values()]
    )

    def record(sender: Sender, sample: Sample) -> None:
        if sample.events:
            collector.scheduler.succeeded(checks[sender.device_id], sample)

    async def receive(request: Request) -> JSONResponse:
        peer = request.client.host if request.client else ""
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return JSONResponse({"detail": f"body larger than {MAX_BODY} bytes"}, 413)
        for sender, expired in alarm.expire():
            record(sender, expired)
        try:
            sender, sample = alarm.handle(
                peer, request.headers.get("content-type", ""), bytes(body)
            )
        except Rejected as exc:
            known = alarm.by_address.get(peer)
            if known is not None and exc.status == 400:
                collector.scheduler.failed(
                    checks[known.device_id], "parse", f"alarm host push: {exc.reason}"
                )
            else:
                log.warning("alarm host push from %s rejected: %s", peer, exc.reason)
            return JSONResponse({"detail": exc.reason}, exc.status)
        record(sender, sample)
        return JSONResponse({"accepted": len(sample.events)}, 200)

    return Route(path, receive, methods=["POST", "PUT"])
