"""Hikvision "alarm host" push: devices POST ``EventNotificationAlert`` XML to the collector.

NVRs and cameras configured under Configuration → Network → Advanced → Alarm Host (ISAPI
``/ISAPI/Event/notification/httpHosts``) POST the same XML the alertStream carries, as a plain
``application/xml`` body or as ``multipart/form-data`` with a picture. :class:`AlarmHost` turns
one request into (device id, Sample), trusting the TCP peer's address (the XML's
``ipAddress`` only when the peer is a watched NVR); :func:`serve` is a small bounded asyncio
HTTP/1.1 server for it (body ≤ 256 KiB, headers and body within a few seconds, one request per
connection). In the collector the route is :mod:`collector.checks.hikvision.route`.
Unknown senders and unreadable bodies are rejected with a reason (4xx) and reported through
``on_reject`` so the collector can quarantine them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from collector.checks._events import EventTracker
from collector.checks.base import Sample
from collector.checks.hikvision import isapi
from collector.protocols import xmlsafe
from collector.protocols.multipart import MultipartError, MultipartReader, boundary_of

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024
MAX_HEADER = 16 * 1024


class Rejected(Exception):
    """The pushed request is not something we accept; ``status`` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class Sender:
    device_id: str
    commune: str
    address: str
    type: str = ""


class AlarmHost:
    """Which device sent a pushed alert, and what it starts or ends."""

    def __init__(self, senders: Iterable[Sender], clear_after_s: float = 120.0) -> None:
        self.by_address = {s.address: s for s in senders}
        self.trackers: dict[str, EventTracker] = {}
        self.clear_after_s = clear_after_s

    def handle(self, peer: str, content_type: str, body: bytes) -> tuple[Sender, Sample]:
        """One pushed request -> its sender and the events it starts or ends."""
        xml = _xml_of(content_type, body)
        try:
            doc = xmlsafe.parse(xml, max_bytes=64_000)
            alert = isapi.alert(doc)
        except xmlsafe.XmlError as exc:
            raise Rejected(400, f"unreadable alert: {exc}") from None
        # The TCP peer is who sent it. Only an NVR (a watched device of type nvr) may speak for
        # another device, named by the XML's ipAddress (a camera on its PoE ports, same commune).
        sender = self.by_address.get(peer)
        if sender is None:
            raise Rejected(403, f"unknown sender {peer}")
        claimed = self.by_address.get(str(alert.data.get("ip", "")))
        if sender.type == "nvr" and claimed is not None and claimed.commune == sender.commune:
            sender = claimed
        tracker = self.trackers.setdefault(sender.device_id, EventTracker(self.clear_after_s))
        sample = Sample(events=tracker.expire())
        ev = tracker.update(alert.type, alert.channel, alert.active, alert.data, ts=alert.ts)
        if ev is not None:
            sample.events.append(ev)
        return sender, sample

    def expire(self) -> list[tuple[Sender, Sample]]:
        """Clear conditions whose devices never pushed ``inactive``."""
        out = []
        for sender in self.by_address.values():
            tracker = self.trackers.get(sender.device_id)
            if tracker is not None and (events := tracker.expire()):
                out.append((sender, Sample(events=events)))
        return out


def _xml_of(content_type: str, body: bytes) -> bytes:
    if not content_type.lower().startswith("multipart/"):
        return body
    try:
        reader = MultipartReader(boundary_of(content_type), max_part_bytes=MAX_BODY)
        parts = reader.feed(body + b"\r\n")
    except MultipartError as exc:
        raise Rejected(400, f"unreadable multipart: {exc}") from None
    for part in parts:
        if "xml" in part.content_type or part.body.lstrip().startswith(b"<"):
            return part.body
    raise Rejected(400, "multipart without an XML part")


OnSample = Callable[[Sender, Sample], None]
OnReject = Callable[[str, str, bytes], None]  # peer, reason, first bytes of the body


async def serve(
    host: str,
    port: int,
    alarm: AlarmHost,
    on_sample: OnSample,
    on_reject: OnReject | None = None,
    *,
    timeout_s: float = 5.0,
    ready: asyncio.Future[int] | None = None,
) -> None:
    """Serve POSTs until cancelled; ``ready`` gets the bound port."""

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = str(writer.get_extra_info("peername", ("?", 0))[0])
        status, reason, body = 200, "OK", b""
        try:
            async with asyncio.timeout(timeout_s):
                ctype, body = await _read_request(reader)
            sender, sample = alarm.handle(peer, ctype, body)
            if sample.events:
                on_sample(sender, sample)
        except Rejected as exc:
            status, reason = exc.status, exc.reason
        except TimeoutError:
            status, reason = 408, f"request not complete within {timeout_s:g} s"
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            status, reason = 400, "connection closed mid-request"
        if status != 200:
            log.warning("alarm host: %s from %s", reason, peer)
            if on_reject is not None:
                on_reject(peer, reason, body[:2000])
        text = reason.encode()
        with contextlib.suppress(ConnectionError):
            writer.write(
                b"HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                b"Connection: close\r\n\r\n%s"
                % (status, b"OK" if status == 200 else b"Error", len(text), text)
            )
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(client, host, port, limit=MAX_HEADER)
    if ready is not None:
        ready.set_result(server.sockets[0].getsockname()[1])
    async with server:
        await server.serve_forever()


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method = lines[0].split(" ", 1)[0]
    if method not in ("POST", "PUT"):
        raise Rejected(405, f"method {method[:10]} not allowed")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    length = headers.get("content-length", "")
    if not length.isdigit():
        raise Rejected(411, "Content-Length required")
    if int(length) > MAX_BODY:
        raise Rejected(413, f"body of {length} bytes exceeds {MAX_BODY}")
    return headers.get("content-type", ""), await reader.readexactly(int(length))
