"""Hikvision alarm-host pushes over real sockets, on the receiver's bounded server.

The route with its access rules is tested in ``tests/collector/test_trust_boundaries.py``;
here :class:`AlarmHost` behind a minimal route on :mod:`ioc.boundedhttp` (the collector's server).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from collector.checks.base import Sample
from collector.checks.hikvision.alarmhost import MAX_BODY, AlarmHost, Rejected, Sender
from ioc.boundedhttp import BoundedServer, Limits

from .conftest import run

Got = list[tuple[Sender, Sample]]


def serve(host: AlarmHost, got: Got, rejected: list[tuple[str, str]], timeout_s: float) -> Any:
    """Serve ``host`` on a free loopback port until cancelled; returns (task, port future)."""

    async def receive(request: Request) -> PlainTextResponse:
        peer = request.client.host if request.client else ""
        try:
            sender, sample = host.handle(
                peer, request.headers.get("content-type", ""), await request.body()
            )
        except Rejected as exc:
            rejected.append((peer, exc.reason))
            return PlainTextResponse(exc.reason, exc.status)
        if sample.events:
            got.append((sender, sample))
        return PlainTextResponse("OK")

    app = Starlette(routes=[Route("/alarm", receive, methods=["POST", "PUT"])])
    limits = Limits(header_timeout_s=timeout_s, body_timeout_s=timeout_s, max_body_bytes=MAX_BODY)
    ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(BoundedServer(app, limits).serve("127.0.0.1", 0, ready))
    return task, ready


def alert(event: str, state: str, ip: str = "10.0.0.5", channel: str = "1") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><EventNotificationAlert version="2.0" '
        'xmlns="http://www.hikvision.com/ver20/XMLSchema">'
        f"<ipAddress>{ip}</ipAddress><portNo>80</portNo><protocol>HTTP</protocol>"
        f"<channelID>{channel}</channelID><dateTime>2026-01-02T03:04:05+07:00</dateTime>"
        f"<activePostCount>1</activePostCount><eventType>{event}</eventType>"
        f"<eventState>{state}</eventState><eventDescription>x</eventDescription>"
        "</EventNotificationAlert>"
    ).encode()


async def exchange(
    requests: list[tuple[dict[str, str], bytes]],
) -> tuple[list[tuple[Sender, Sample]], list[tuple[str, str]], list[int]]:
    host = AlarmHost(
        [Sender("cam-05", "21025", "10.0.0.5"), Sender("nvr-01", "21025", "127.0.0.1", "nvr")],
        clear_after_s=60,
    )
    got: Got = []
    rejected: list[tuple[str, str]] = []
    task, ready = serve(host, got, rejected, timeout_s=1.0)
    port = await ready
    codes = []
    async with httpx.AsyncClient() as client:
        for headers, body in requests:
            resp = await client.post(
                f"http://127.0.0.1:{port}/alarm", content=body, headers=headers
            )
            codes.append(resp.status_code)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return got, rejected, codes


XML = {"Content-Type": "application/xml"}


def test_push_starts_and_ends_events() -> None:
    got, rejected, codes = run(
        exchange(
            [
                (XML, alert("videoloss", "active")),
                (XML, alert("videoloss", "active")),
                (XML, alert("videoloss", "inactive")),
                (XML, alert("tamperdetection", "active", ip="192.0.2.1")),  # from the NVR's address
            ]
        )
    )
    assert codes == [200, 200, 200, 200] and rejected == []
    assert [(s.device_id, e.type, e.data["state"]) for s, x in got for e in x.events] == [
        ("cam-05", "video_loss", "active"),
        ("cam-05", "video_loss_cleared", "inactive"),
        ("nvr-01", "tamper", "active"),
    ]


def test_multipart_push_with_picture() -> None:
    body = (
        b'--MIME_boundary\r\nContent-Disposition: form-data; name="MoveDetection.xml"\r\n'
        b"Content-Type: application/xml\r\n\r\n"
        + alert("shelteralarm", "active")
        + b"\r\n--MIME_boundary\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8pic\xff\xd9\r\n"
        b"--MIME_boundary--\r\n"
    )
    got, _, codes = run(
        exchange([({"Content-Type": "multipart/form-data; boundary=MIME_boundary"}, body)])
    )
    assert codes == [200]
    assert got[0][1].events[0].type == "tamper"


@pytest.mark.parametrize(
    ("headers", "body", "code", "reason"),
    [
        (XML, b"<EventNotificationAlert><eventType>", 400, "unreadable"),
        (XML, b"<DeviceInfo/>", 400, "unreadable"),
        (XML, alert("videoloss", "active", ip="203.0.113.9"), 200, ""),
        (XML, b"x" * 300_000, 413, ""),  # refused by the server before the route
        (
            {"Content-Type": "multipart/form-data; boundary=b"},
            b"--b\r\n\r\nno xml\r\n--b--",
            400,
            "without an XML part",
        ),
    ],
    ids=["garbage", "wrong-document", "peer-fallback", "huge", "multipart-no-xml"],
)
def test_bad_pushes_are_rejected_with_reason(
    headers: dict[str, str], body: bytes, code: int, reason: str
) -> None:
    got, rejected, codes = run(exchange([(headers, body)]))
    assert codes == [code]
    if code == 413:
        assert got == [] and rejected == []
    elif code != 200:
        assert got == [] and reason in rejected[0][1]
    else:  # an unknown ipAddress from a known peer address is attributed to the peer
        assert got[0][0].device_id == "nvr-01"


def test_unknown_sender_is_forbidden() -> None:
    host = AlarmHost([Sender("cam-05", "21025", "10.0.0.5")])
    with pytest.raises(Exception, match="unknown sender") as err:
        host.handle("198.51.100.7", "application/xml", alert("videoloss", "active", ip="1.2.3.4"))
    assert getattr(err.value, "status", None) == 403


def test_slow_client_times_out() -> None:
    async def go() -> Any:
        rejected: list[tuple[str, str]] = []
        task, ready = serve(AlarmHost([]), [], rejected, timeout_s=0.5)
        port = await ready
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /alarm HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return answer, rejected

    answer, rejected = run(go())
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"not complete" in answer and rejected == []
