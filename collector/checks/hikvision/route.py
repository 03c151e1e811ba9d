"""``POST /hikvision`` on the collector's webhook receiver: Hikvision alarm-host pushes.

Plugs :class:`collector.checks.hikvision.alarmhost.AlarmHost` into the receiver (:mod:`collector.receiver`).
Who may push: a peer inside ``IOC_COLLECTOR_PUSH_ALLOW`` (networks), or any peer presenting
the shared secret named by ``IOC_COLLECTOR_PUSH_SECRET_ENV`` (as the HTTP Basic password the
NVR's alarm-host settings send, or a bearer token); with neither configured every push is
refused (403). The sender is the TCP peer (the XML's address only from a watched NVR).

Pushed events are recorded for the device but never change its poll check's health (a forged
"inactive" cannot mark a failing camera healthy); an unreadable push from a known device is a
``check_error`` event at most once per ``IOC_COLLECTOR_ERROR_REPEAT_S``, counted always; an
unknown sender gets 403 and a log line at most once per that interval per address.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from collector.checks.base import Check, CheckError, Sample
from collector.checks.hikvision.alarmhost import MAX_BODY, AlarmHost, Rejected, Sender
from collector.push import PushContext
from collector.throttle import Throttle

log = logging.getLogger(__name__)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(text: str) -> list[Network]:
    """``IOC_COLLECTOR_PUSH_ALLOW``: comma-separated addresses or CIDRs (ValueError if not)."""
    return [
        ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip()
    ]


def presented_secret(authorization: str) -> str | None:
    """The secret in an ``Authorization`` header: a bearer token or a Basic password."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2]
    return None


def push_allowed(ctx: PushContext, peer: str, authorization: str) -> str | None:
    """Why a push from ``peer`` is refused, or None when it may be handled."""
    settings = ctx.settings
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        address = None
    if address is not None and any(address in net for net in networks(settings.push_allow)):
        return None
    name = settings.push_secret_env
    if name:
        try:
            expected = ctx.secrets(name)
        except CheckError as exc:
            return f"the push secret is not set on the collector: {exc.reason}"
        given = presented_secret(authorization)
        if given is not None and hmac.compare_digest(given.encode(), expected.encode()):
            return None
        return "missing or wrong push secret"
    if not settings.push_allow:
        return "alarm-host pushes are off (set IOC_COLLECTOR_PUSH_ALLOW or _PUSH_SECRET_ENV)"
    return f"address {peer} is not in IOC_COLLECTOR_PUSH_ALLOW"


def alarm_host_routes(ctx: PushContext, path: str = "/hikvision") -> list[BaseRoute]:
    """The receiver route for devices of this collector that have a ``hikvision`` check."""
    checks: dict[str, Check] = {c.target.device_id: c for c in ctx.checks if c.name == "hikvision"}
    sink = ctx.sink
    alarm = AlarmHost(
        [
            Sender(c.target.device_id, c.target.commune, c.target.address, c.target.type)
            for c in checks.values()
        ]
    )
    quiet = Throttle(ctx.settings.error_repeat_s)

    def record(sender: Sender, sample: Sample) -> None:
        if sample.events:
            sink.pushed(checks[sender.device_id], sample)

    def refuse(peer: str, status: int, reason: str) -> JSONResponse:
        sink.push_refused()
        if quiet.allow(peer):
            log.warning("alarm host push from %s refused: %s", peer, reason)
        return JSONResponse({"detail": reason}, status)

    async def receive(request: Request) -> JSONResponse:
        peer = request.client.host if request.client else ""
        refused = push_allowed(ctx, peer, request.headers.get("authorization", ""))
        if refused:
            return refuse(peer, 403, refused)
        body = await request.body()
        if len(body) > MAX_BODY:
            return refuse(peer, 413, f"body larger than {MAX_BODY} bytes")
        for sender, expired in alarm.expire():
            record(sender, expired)
        try:
            sender, sample = alarm.handle(
                peer, request.headers.get("content-type", ""), bytes(body)
            )
        except Rejected as exc:
            known = alarm.by_address.get(peer)
            if known is not None and exc.status == 400:
                sink.push_failed(checks[known.device_id], "parse", f"alarm host push: {exc.reason}")
                return JSONResponse({"detail": exc.reason}, exc.status)
            return refuse(peer, exc.status, exc.reason)
        record(sender, sample)
        return JSONResponse({"accepted": len(sample.events)}, 200)

    return [Route(path, receive, methods=["POST", "PUT"])]
