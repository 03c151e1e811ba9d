"""Dahua cameras and NVRs over CGI (HTTP digest): the same metrics and events as Hikvision.

``magicBox.cgi?action=getSystemInfo|getDeviceType|getSoftwareVersion`` -> model, serial and
firmware in the sample's meta (``device_changed`` when they change);
``storageDevice.cgi?action=getDeviceAllInfo`` -> disk_status, disk_used_pct, ``disk_failure``
per disk; ``eventManager.cgi?action=attach&codes=[All]&heartbeat=N`` kept open as the event
stream (``Code=VideoLoss;action=Start;index=0`` parts and ``Heartbeat``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from collector.checks._disks import DiskWatch
from collector.checks._events import EventTracker, identity_change
from collector.checks._stream import (
    EventStreamCheck,
    StreamParams,
    run_event_stream,
)
from collector.checks.base import (
    CheckError,
    CheckParams,
    Emit,
    Sample,
    translates,
)
from collector.checks.dahua.cgi import disks, events_of_part, parse_kv
from collector.protocols.http import DigestClient


class DahuaParams(StreamParams):
    events: bool = True
    heartbeat_s: int = Field(5, ge=1, le=60)


class DahuaCheck(EventStreamCheck):
    name: ClassVar[str] = "dahua"
    Params: ClassVar[type[CheckParams]] = DahuaParams
    params: DahuaParams

    def __init__(self, target: Any, params: CheckParams, secrets: Any) -> None:
        super().__init__(target, params, secrets)
        p = self.params
        self.client = DigestClient(
            f"{'https' if p.https else 'http'}://{target.address}:{p.port}",
            p.username,
            lambda: secrets(p.password_env),
            timeout_s=p.timeout_s,
            verify_tls=p.verify_tls,
        )
        self.is_nvr = p.nvr if p.nvr is not None else target.type == "nvr"
        self.tracker = EventTracker(p.event_clear_s)
        self.stream_alive = False
        self._identity: dict[str, str] | None = None
        self.disks = DiskWatch()

    async def _kv(self, path: str) -> dict[str, str]:
        body = await self.client.get(path)
        assert body is not None
        try:
            return parse_kv(body)
        except ValueError as exc:
            raise CheckError(f"{path}: {exc}", kind="parse") from None

    @translates
    async def poll(self) -> Sample:
        sample = Sample()
        info = await self._kv("/cgi-bin/magicBox.cgi?action=getSystemInfo")
        ident = {"serial": info.get("serialNumber", ""), "model": info.get("deviceType", "")}
        version = await self._kv("/cgi-bin/magicBox.cgi?action=getSoftwareVersion")
        ident["firmware"] = version.get("version", "")
        if not ident["serial"]:
            raise CheckError("getSystemInfo without serialNumber", kind="parse")
        sample.meta.update(ident)
        if (event := identity_change(self._identity, ident)) is not None:
            sample.events.append(event)
        self._identity = ident
        if self.is_nvr:
            kv = await self._kv("/cgi-bin/storageDevice.cgi?action=getDeviceAllInfo")
            try:
                found = disks(kv)
            except ValueError as exc:
                raise CheckError(f"getDeviceAllInfo: {exc}", kind="parse") from None
            self.disks.observe(found, sample)
        sample.events.extend(self.tracker.expire())
        return sample

    @property
    def streams(self) -> bool:
        return self.params.events

    @translates
    async def stream(self, emit: Emit) -> None:
        path = (
            f"/cgi-bin/eventManager.cgi?action=attach&codes=[All]"
            f"&heartbeat={self.params.heartbeat_s}"
        )
        await run_event_stream(self, path, events_of_part, emit)

    async def close(self) -> None:
        await self.client.aclose()
