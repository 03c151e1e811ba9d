"""Hikvision ISAPI documents -> our values (pure functions over untrusted XML).

Shapes follow Hikvision's ISAPI core protocol documents (namespace
``http://www.hikvision.com/ver20/XMLSchema``, ``ver10`` on older firmware); lookups ignore the
namespace. Every function raises :class:`collector.protocols.xmlsafe.XmlError` on a document it cannot read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from xml.etree.ElementTree import Element

from collector.checks._disks import Disk
from collector.protocols import xmlsafe
from collector.protocols.xmlsafe import XmlError

# ISAPI hdd/status words -> the catalogue's disk_status labels (raw word kept in events).
DISK_STATUS = {
    "ok": "normal",
    "normal": "normal",
    "idle": "normal",
    "sleeping": "normal",
    "smartfailed": "smartfailed",
    "smart failed": "smartfailed",
    "notexist": "notonline",
    "notonline": "notonline",
    "offline": "notonline",
    "unformatted": "abnormal",
    "uninitialized": "abnormal",
    "formatting": "abnormal",
    "error": "abnormal",
    "abnormal": "abnormal",
}

# eventType (lower case) -> our event type; anything else becomes a generic camera_event.
EVENT_TYPE = {
    "videoloss": "video_loss",
    "shelteralarm": "tamper",
    "tamperdetection": "tamper",
    "diskfull": "storage_failure",
    "diskerror": "storage_failure",
    "hdfull": "storage_failure",
    "hderror": "storage_failure",
    "recordingfailure": "recording_stopped",
    "vmd": "motion",
}


def _root(doc: Element, name: str) -> Element:
    if xmlsafe.local(doc.tag) != name:
        raise XmlError(f"expected <{name}>, got <{xmlsafe.local(doc.tag)[:40]}>")
    return doc


def device_status(doc: Element) -> dict[str, float]:
    """DeviceStatus -> cpu_pct, mem_pct, uptime_s (those the firmware reports)."""
    _root(doc, "DeviceStatus")
    out: dict[str, float] = {}
    cpu = xmlsafe.number(doc, "CPU", "cpuUtilization")
    if cpu is not None:
        out["cpu_pct"] = min(max(cpu, 0.0), 100.0)
    mem = xmlsafe.number(doc, "Memory", "memoryUsage")
    avail = xmlsafe.number(doc, "Memory", "memoryAvailable")
    if mem is not None:
        # memoryUsage is a percentage on cameras, MB on some NVRs (then memoryAvailable is too).
        pct = mem if avail is None else 100.0 * mem / (mem + avail) if mem + avail > 0 else 0.0
        out["mem_pct"] = min(max(pct, 0.0), 100.0)
    up = xmlsafe.number(doc, "deviceUpTime")
    if up is not None and up >= 0:
        out["uptime_s"] = up
    if not out:
        raise XmlError("DeviceStatus without CPU, memory or uptime")
    return out


def device_info(doc: Element) -> dict[str, str]:
    """DeviceInfo -> model, serial, firmware, device_type (those present)."""
    _root(doc, "DeviceInfo")
    fields = {
        "model": "model",
        "serial": "serialNumber",
        "firmware": "firmwareVersion",
        "firmware_build": "firmwareReleasedDate",
        "device_type": "deviceType",
        "mac": "macAddress",
    }
    out = {k: v for k, tag in fields.items() if (v := xmlsafe.text(doc, tag)) is not None}
    if "serial" not in out and "model" not in out:
        raise XmlError("DeviceInfo without model or serialNumber")
    return out


def storage(doc: Element) -> list[Disk]:
    """storage -> the NVR's disks (hddList/hdd), sizes in MB."""
    _root(doc, "storage")
    disks: list[Disk] = []
    hdd_list = xmlsafe.find(doc, "hddList")
    for hdd in xmlsafe.children(hdd_list, "hdd") if hdd_list is not None else ():
        raw = (xmlsafe.text(hdd, "status") or "unknown").lower()
        capacity = xmlsafe.number(hdd, "capacity") or 0.0
        disks.append(
            Disk(
                id=xmlsafe.text(hdd, "id") or str(len(disks) + 1),
                raw_status=raw,
                status=DISK_STATUS.get(raw, "abnormal"),
                total=capacity,
                used=capacity - (xmlsafe.number(hdd, "freeSpace") or 0.0),
            )
        )
    return disks


def channels_online(doc: Element) -> dict[str, dict[str, str | bool]]:
    """InputProxyChannelStatusList -> channel id -> {online, ip}."""
    _root(doc, "InputProxyChannelStatusList")
    out: dict[str, dict[str, str | bool]] = {}
    for ch in xmlsafe.children(doc, "InputProxyChannelStatus"):
        cid = xmlsafe.text(ch, "id")
        if cid is None:
            raise XmlError("InputProxyChannelStatus without id")
        # <online> sits directly under the channel; older firmware only has it in the descriptor.
        direct = next(xmlsafe.children(ch, "online"), None)
        word = direct.text if direct is not None else xmlsafe.text(ch, "online")
        online = (word or "false").strip().lower() == "true"
        entry: dict[str, str | bool] = {"online": online}
        ip = xmlsafe.text(ch, "sourceInputPortDescriptor", "ipAddress")
        if ip:
            entry["ip"] = ip
        out[cid] = entry
    return out


def streaming_channels(doc: Element) -> dict[str, dict[str, float]]:
    """StreamingChannelList -> channel id -> {fps, bitrate_kbps} as configured."""
    _root(doc, "StreamingChannelList")
    out: dict[str, dict[str, float]] = {}
    for ch in xmlsafe.children(doc, "StreamingChannel"):
        cid = xmlsafe.text(ch, "id")
        if cid is None:
            continue
        cfg: dict[str, float] = {}
        fps = xmlsafe.number(ch, "Video", "maxFrameRate")
        if fps is not None:
            cfg["fps"] = fps / 100.0  # ISAPI gives frames per 100 s
        mode = (xmlsafe.text(ch, "Video", "videoQualityControlType") or "").upper()
        cbr = xmlsafe.number(ch, "Video", "constantBitRate")
        vbr = xmlsafe.number(ch, "Video", "vbrUpperCap")
        rate = vbr if mode == "VBR" and vbr is not None else cbr if cbr is not None else vbr
        if rate is not None:
            cfg["bitrate_kbps"] = rate
        out[cid] = cfg
    return out


@dataclass(frozen=True, slots=True)
class Alert:
    raw_type: str
    type: str
    active: bool
    channel: str
    ts: float | None
    data: dict[str, object]


def alert(doc: Element) -> Alert:
    """EventNotificationAlert -> an Alert (our type, active flag, channel, device time)."""
    _root(doc, "EventNotificationAlert")
    raw_type = xmlsafe.text(doc, "eventType")
    state = (xmlsafe.text(doc, "eventState") or "").lower()
    if raw_type is None or state not in ("active", "inactive"):
        raise XmlError("EventNotificationAlert without eventType or eventState")
    channel = xmlsafe.text(doc, "channelID") or xmlsafe.text(doc, "dynChannelID") or "0"
    ts = None
    stamp = xmlsafe.text(doc, "dateTime")
    if stamp:
        try:
            parsed = datetime.fromisoformat(stamp)
            ts = parsed.timestamp() if parsed.tzinfo is not None else None
        except ValueError:
            ts = None
    our = EVENT_TYPE.get(raw_type.lower(), "camera_event")
    data: dict[str, object] = {"channel": channel, "raw_type": raw_type}
    for key, tag in (
        ("description", "eventDescription"),
        ("ip", "ipAddress"),
        ("mac", "macAddress"),
    ):
        value = xmlsafe.text(doc, tag)
        if value:
            data[key] = value[:200]
    return Alert(raw_type, our, state == "active", channel, ts, data)
