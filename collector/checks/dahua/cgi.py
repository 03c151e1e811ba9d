"""Dahua CGI answers -> our values: ``key=value`` lines, disks, event-stream parts.

Pure functions over untrusted text; ValueError on anything they cannot read.
"""

from __future__ import annotations

import re
from typing import Any

from collector.checks._disks import Disk
from collector.checks._events import EventTracker
from collector.checks.base import EventOut
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


def disks(kv: dict[str, str]) -> list[Disk]:
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
        out.append(Disk(str(d.get("name", idx)), raw, status, d["total"], d["used"]))
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
