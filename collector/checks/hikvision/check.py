"""Hikvision cameras and NVRs over ISAPI (HTTP digest, MD5 or SHA-256).

Polls ``System/status`` (cpu_pct, mem_pct, uptime_s), ``System/deviceInfo`` (model, serial,
firmware in the sample's meta; ``device_changed`` when they change, ``reboot`` when uptime goes
back), on NVRs ``ContentMgmt/Storage`` (disk_status, disk_used_pct, ``disk_failure`` per disk)
and ``ContentMgmt/InputProxy/channels/status`` (channels_recording, ``channel_offline`` per
camera), and on cameras ``Streaming/channels`` (fps_configured, bitrate_configured_kbps).
:meth:`HikvisionCheck.stream` keeps ``Event/notification/alertStream`` open (see
:mod:`collector.checks._stream`); the same XML pushed to an "alarm host" goes through
:func:`events_of_xml` (see :mod:`collector.checks.hikvision.alarmhost`).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from pydantic import Field

from collector.checks._disks import DiskWatch
from collector.checks._events import IDENTITY, EventTracker, edge_type, identity_change
from collector.checks._stream import (
    EventStreamCheck,
    StreamParams,
    run_event_stream,
)
from collector.checks.base import (
    CheckError,
    CheckParams,
    Emit,
    EventOut,
    Sample,
    translates,
)
from collector.checks.hikvision import isapi
from collector.protocols import xmlsafe
from collector.protocols.http import DigestClient
from collector.protocols.multipart import Part

log = logging.getLogger(__name__)

ALERT_STREAM = "/ISAPI/Event/notification/alertStream"


def events_of_part(tracker: EventTracker, part: Part, now: float) -> list[EventOut]:
    """The events one alertStream part starts or ends; attached pictures are skipped."""
    ctype = part.content_type
    if ctype and "xml" not in ctype and "text" not in ctype:
        return []
    return events_of_xml(tracker, part.body, now)


def events_of_xml(tracker: EventTracker, body: bytes, now: float | None = None) -> list[EventOut]:
    """Parse one EventNotificationAlert; XmlError when it is not one."""
    alert = isapi.alert(xmlsafe.parse(body, max_bytes=64_000))
    out = tracker.update(alert.type, alert.channel, alert.active, alert.data, ts=alert.ts, now=now)
    return [out] if out is not None else []


class HikvisionParams(StreamParams):
    channel: str = Field("101", max_length=16)  # the streaming channel whose config we report
    alert_stream: bool = True


class HikvisionCheck(EventStreamCheck):
    name: ClassVar[str] = "hikvision"
    Params: ClassVar[type[CheckParams]] = HikvisionParams
    params: HikvisionParams

    def __init__(self, target: Any, params: CheckParams, secrets: Any) -> None:
        super().__init__(target, params, secrets)
        p = self.params
        scheme = "https" if p.https else "http"
        self.client = DigestClient(
            f"{scheme}://{target.address}:{p.port}",
            p.username,
            lambda: secrets(p.password_env),
            timeout_s=p.timeout_s,
            verify_tls=p.verify_tls,
        )
        self.is_nvr = p.nvr if p.nvr is not None else target.type == "nvr"
        self._identity: dict[str, str] | None = None
        self._uptime: float | None = None
        self.disks = DiskWatch()
        self._channels: dict[str, bool] = {}
        self.tracker = EventTracker(p.event_clear_s)
        self.stream_alive = False

    async def _xml(self, path: str, *, missing_ok: bool = False) -> Any:
        body = await self.client.get(path, missing_ok=missing_ok)
        if body is None:
            return None
        try:
            return xmlsafe.parse(body)
        except xmlsafe.XmlError as exc:
            raise CheckError(f"{path}: {exc}", kind="parse") from None

    @translates
    async def poll(self) -> Sample:
        sample = Sample()
        try:
            await self._poll_into(sample)
        except xmlsafe.XmlError as exc:
            raise CheckError(str(exc), kind="parse") from None
        return sample

    async def _poll_into(self, sample: Sample) -> None:
        status = isapi.device_status(await self._xml("/ISAPI/System/status"))
        sample.metrics.update(status)
        up = status.get("uptime_s")
        if up is not None and self._uptime is not None and up < self._uptime:
            sample.events.append(EventOut("reboot", "info", {"uptime_s": up}))
        self._uptime = up if up is not None else self._uptime

        info = isapi.device_info(await self._xml("/ISAPI/System/deviceInfo"))
        sample.meta.update(info)
        self._identity_change(info, sample)

        if self.is_nvr:
            await self._nvr(sample)
        else:
            doc = await self._xml("/ISAPI/Streaming/channels", missing_ok=True)
            if doc is not None:
                cfg = isapi.streaming_channels(doc).get(self.params.channel, {})
                if "fps" in cfg:
                    sample.metrics["fps_configured"] = cfg["fps"]
                if "bitrate_kbps" in cfg:
                    sample.metrics["bitrate_configured_kbps"] = cfg["bitrate_kbps"]
        sample.events.extend(self.tracker.expire())

    def _identity_change(self, info: dict[str, str], sample: Sample) -> None:
        now = {k: info[k] for k in IDENTITY if k in info}
        before, self._identity = self._identity, now
        if (event := identity_change(before, now)) is not None:
            sample.events.append(event)

    async def _nvr(self, sample: Sample) -> None:
        doc = await self._xml("/ISAPI/ContentMgmt/Storage", missing_ok=True)
        if doc is not None:
            self.disks.observe(isapi.storage(doc), sample)
        doc = await self._xml("/ISAPI/ContentMgmt/InputProxy/channels/status", missing_ok=True)
        if doc is not None:
            chans = isapi.channels_online(doc)
            online = sum(1 for c in chans.values() if c["online"])
            sample.metrics["channels_recording"] = online
            if chans:
                sample.metrics["recording"] = online > 0
            sample.meta["channels"] = chans
            for cid, entry in chans.items():
                now_on = bool(entry["online"])
                before_on = self._channels.get(cid, True)
                self._channels[cid] = now_on
                if now_on != before_on:
                    sample.events.append(
                        EventOut(
                            edge_type("channel_offline", not now_on),
                            "warning" if not now_on else "info",
                            {
                                "channel": cid,
                                "ip": entry.get("ip"),
                                "state": "inactive" if now_on else "active",
                            },
                        )
                    )

    @property
    def streams(self) -> bool:
        return self.params.alert_stream

    @translates
    async def stream(self, emit: Emit) -> None:
        await run_event_stream(self, ALERT_STREAM, events_of_part, emit)

    async def close(self) -> None:
        await self.client.aclose()
