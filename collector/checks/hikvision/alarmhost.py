"""Hikvision "alarm host" push: devices POST ``EventNotificationAlert`` XML to the collector.

NVRs and cameras configured under Configuration → Network → Advanced → Alarm Host (ISAPI
``/ISAPI/Event/notification/httpHosts``) POST the same XML the alertStream carries, as a plain
``application/xml`` body or as ``multipart/form-data`` with a picture. :class:`AlarmHost` turns
one request into (device id, Sample), trusting the TCP peer's address (the XML's
``ipAddress`` only when the peer is a watched NVR). It is served by the collector's receiver
(:mod:`collector.checks.hikvision.route` on :mod:`ioc.boundedhttp`: body ≤ 256 KiB, headers
and body within their deadlines, one request per connection). Unknown senders and unreadable
bodies are rejected with a reason (:class:`Rejected`, its HTTP status).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from collector.checks._events import EventTracker
from collector.checks.base import Sample
from collector.checks.hikvision import isapi
from collector.protocols import xmlsafe
from collector.protocols.multipart import MultipartError, MultipartReader, boundary_of

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024


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
