"""Dahua cameras and NVRs over CGI (HTTP digest): the same metrics and events as Hikvision.

``magicBox.cgi?action=getSystemInfo|getDeviceType|getSoftwareVersion`` -> model, serial and
firmware in the sample's meta (``device_changed`` when they change);
``storageDevice.cgi?action=getDeviceAllInfo`` -> disk_status, disk_used_pct, ``disk_failure``
per disk; ``eventManager.cgi?action=attach&codes=[All]&heartbeat=N`` kept open as the event
stream (``Code=VideoLoss;action=Start;index=0`` parts and ``Heartbeat``).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import Field

from collector.checks._events import EventTracker, edge_type, identity_change
from collector.checks._stream import StreamParams, run_event_stream
from collector.checks.base import (
    Check,
    CheckError,
    CheckParams,
    Emit,
    EventOut,
    Sample,
    translates,
)
from collector.protocols.http import DigestClient
from collector.protocols.multipart import Part

# Dahua event codes -> our event types (anything else: camera_event with the raw code).
EVENT_CODE = {
    "videoloss": "video_loss",
    "videoblind": "tamper",
    "videoabnormaldetection": "tamper",
    "scenechange": "tamper",
    "storagefailure": "storage_failure",
    "storagenotexist": "storage_failure",
    "storagelowspace": "storage_failure",
    "storageaccessfailure": "storage_failure",
    "recordfailure": "recording_stopped",
    "videomotion": "motion",
}
# storage State words -> the catalogue's disk_status labels.
DISK_STATE = {
    "success": "normal",
    "normal": "normal",
    "notexist": "notonline",
    "offline": "notonline",
    "error": "abnormal",
    "unformatted": "abnormal",
    "smartfailed": "smartfailed",
}
DISK_RANK = {"normal": 0, "abnormal": 1, "notonline": 2, "smartfailed": 3}
_KEY = re.compile(r"^[A-Za-z0-9_.\[\]]{1,200}$")


def parse_kv(body: bytes, *, max_lines: int = 5000) -> dict[str, str]:
    """Dahua's ``key=value`` lines; ValueError on anything else."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("answer is not UTF-8 text") from None
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines()):
        line = line.strip()
        if not line:
            continue
        if n >= max_lines:
            raise ValueError(f"more than {max_lines} lines")
        key, sep, value = line.partition("=")
        if not sep or not _KEY.match(key):
            raise ValueError(f"not a key=value line: {line[:60]!r}")
        out[key] = value.strip()
    if not out:
        raise ValueError("empty answer")
    return out


def disks(kv: dict[str, str]) -> list[dict[str, Any]]:
    """getDeviceAllInfo -> per disk: name, raw state, mapped status, total and used bytes."""
    found: dict[str, dict[str, Any]] = {}
    for key, value in kv.items():
        m = re.match(r"list\.info\[(\d+)\]\.(?:Detail\[\d+\]\.)?(\w+)$", key)
        if not m:
            continue
        d = found.setdefault(m.group(1), {"total": 0.0, "used": 0.0, "error": False})
        field = m.group(2)
        try:
            if field == "TotalBytes":
                d["total"] += float(value)
            elif field == "UsedBytes":
                d["used"] += float(value)
        except ValueError:
            raise ValueError(f"{key}: not a number") from None
        if field == "IsError" and value.lower() == "true":
            d["error"] = True
        elif field == "State":
            d["raw"] = value
        elif field == "Name":
            d["name"] = value
    out = []
    for idx, d in sorted(found.items()):
        raw = d.get("raw", "Success")
        status = DISK_STATE.get(raw.lower(), "abnormal")
        if d["error"] and status == "normal":
            status = "abnormal"
        out.append(
            {
                "id": d.get("name", idx),
                "raw": raw,
                "status": status,
                "total": d["total"],
                "used": d["used"],
            }
        )
    return out


def events_of_part(tracker: EventTracker, part: Part, now: float) -> list[EventOut]:
    """One attach part (``Code=...;action=Start|Stop|Pulse;index=N``) -> events."""
    text = part.body.decode("utf-8", "replace").strip()
    if not text or text == "Heartbeat":
        return []
    fields = dict(kv.split("=", 1) for kv in text.split(";", 3)[:3] if "=" in kv)
    code, action = fields.get("Code"), fields.get("action", "").lower()
    if not code or action not in ("start", "stop", "pulse"):
        raise ValueError(f"not a Dahua event: {text[:80]!r}")
    etype = EVENT_CODE.get(code.lower(), "camera_event")
    channel = str(int(fields["index"]) + 1) if fields.get("index", "").isdigit() else "0"
    data: dict[str, object] = {"channel": channel, "raw_type": code}
    out = tracker.update(etype, channel, action != "stop", data, now=now)
    return [out] if out is not None else []


class DahuaParams(StreamParams):
    events: bool = True
    heartbeat_s: int = Field(5, ge=1, le=60)


class DahuaCheck(Check):
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
        self._disks: dict[str, str] = {}

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
            self._storage(found, sample)
        sample.events.extend(self.tracker.expire())
        return sample

    def _storage(self, found: list[dict[str, Any]], sample: Sample) -> None:
        if not found:
            return
        worst = max(found, key=lambda d: DISK_RANK[d["status"]])
        sample.metrics["disk_status"] = worst["status"]
        total = sum(d["total"] for d in found if d["status"] == "normal")
        used = sum(d["used"] for d in found if d["status"] == "normal")
        if total > 0:
            sample.metrics["disk_used_pct"] = round(100.0 * used / total, 2)
        sample.meta["disks"] = {str(d["id"]): d["raw"] for d in found}
        for d in found:
            disk_id = str(d["id"])
            was_bad = self._disks.get(disk_id, "normal") != "normal"
            self._disks[disk_id] = d["status"]
            is_bad = d["status"] != "normal"
            if is_bad != was_bad:
                sample.events.append(
                    EventOut(
                        edge_type("disk_failure", is_bad),
                        "critical" if is_bad else "info",
                        {
                            "disk": disk_id,
                            "status": d["raw"],
                            "mapped": d["status"],
                            "state": "active" if is_bad else "inactive",
                        },
                    )
                )

    @translates
    async def stream(self, emit: Emit) -> None:
        if self.params.events:
            path = (
                f"/cgi-bin/eventManager.cgi?action=attach&codes=[All]"
                f"&heartbeat={self.params.heartbeat_s}"
            )
            await run_event_stream(self, path, events_of_part, emit)

    async def close(self) -> None:
        await self.client.aclose()
