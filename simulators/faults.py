"""Fault kinds, their targets and the random fault processes of a realistic fleet."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

HOUR = 3600.0
DAY = 86400.0


@dataclass(frozen=True)
class FaultKind:
    """A kind of fault: the device flag it sets, the types it applies to, its default length."""

    name: str
    flag: str
    types: frozenset[str] | None  # None: every type
    default_duration: float | None
    doc: str


def _kind(
    name: str, types: tuple[str, ...] | None, duration: float | None, doc: str, flag: str = ""
) -> FaultKind:
    return FaultKind(name, flag or name, frozenset(types) if types else None, duration, doc)


KINDS: dict[str, FaultKind] = {
    k.name: k
    for k in (
        _kind("outage", None, 8 * HOUR, "device dead (no power/hardware): silent, no buffering"),
        _kind("power_cut", None, 2 * HOUR, "mains lost: devices off, loudspeakers on battery"),
        _kind("storm", None, 8 * HOUR, "storm: ~30% of devices out, links degraded, weak 4G"),
        _kind(
            "uplink_cut", ("link",), 30 * 60, "link cut: it and everything behind it silent", "cut"
        ),
        _kind("link_down", ("link",), 30 * 60, "alias of uplink_cut", "cut"),
        _kind("flapping", None, 30 * 60, "connection toggles down/up every 1-4 minutes"),
        _kind("link_degraded", ("link",), 30 * 60, "loss 15-40%, rtt +120-300 ms, errors"),
        _kind("video_loss", ("camera",), 30 * 60, "fps 0, stream_up false, video_loss event"),
        _kind("tamper", ("camera",), 10 * 60, "tamper event"),
        _kind("disk_failure", ("nvr",), 24 * HOUR, "disk smartfailed, recording stops"),
        _kind("amp_fault", ("speaker",), 24 * HOUR, "amplifier fault: broadcasts missed"),
        _kind("weak_signal", ("speaker",), 2 * HOUR, "4G signal 20 dB weaker"),
        _kind(
            "emergency_broadcast",
            ("speaker",),
            10 * 60,
            "province emergency bulletin played now (broadcast event, priority emergency)",
        ),
        _kind("clock_skew", None, HOUR, "payload timestamps off by params.skew (default 15m)"),
        _kind("duplicates", None, 10 * 60, "every message delivered twice"),
        _kind("out_of_order", None, 10 * 60, "messages delivered in swapped pairs"),
        _kind("malformed", None, 5 * 60, "payloads broken in assorted ways (quarantine)"),
    )
}


@dataclass
class FaultRecord:
    """One fault on the timeline: when, what, on which target, and the devices it hit."""

    id: int
    fault: str
    target: str
    at: float
    duration: float | None
    params: dict[str, Any] = field(default_factory=dict)
    source: str = "inject"
    devices: list[str] = field(default_factory=list)
    ended: bool = False

    @property
    def end(self) -> float | None:
        """Simulated end time, or None for an open-ended fault."""
        return None if self.duration is None else self.at + self.duration

    def describe(self, origin: float) -> str:
        """A one-line summary with times relative to ``origin``."""
        length = "∞" if self.duration is None else f"{self.duration / 60:.0f}m"
        return f"+{(self.at - origin) / 60:.1f}m {self.fault} {self.target} for {length}"


def repair_time(rng: random.Random, median: float = 8 * HOUR, cap: float = 72 * HOUR) -> float:
    """Log-normal repair time: median 8 h, tail reaching about 72 h."""
    return min(cap, rng.lognormvariate(math.log(median), 1.1))


# Per-device random faults: (kind, events per day, median duration).
DEVICE_FAULT_RATES: dict[str, tuple[tuple[str, float, float], ...]] = {
    "camera": (("outage", 0.01, 8 * HOUR), ("video_loss", 0.003, 2 * HOUR)),
    "nvr": (("outage", 0.01, 8 * HOUR), ("disk_failure", 0.001, 24 * HOUR)),
    "speaker": (("outage", 0.01, 8 * HOUR), ("amp_fault", 0.002, 24 * HOUR)),
    "link": (("outage", 0.01, 8 * HOUR), ("flapping", 0.002, HOUR)),
}
POWER_CUTS_PER_DAY = 3 / 30  # per commune: a few a month
STORMS_PER_DAY = 1 / 60  # across the simulated province
STORM_SHARE = 0.3


def malformed_payload(rng: random.Random, ts: str, seq: int) -> bytes:
    """One of the broken payloads a misconfigured device sends."""
    choices = (
        b"{not json",
        b"\xff\xfe\x00binary",
        f'{{"ts":"yesterday","seq":{seq},"metrics":{{"fps":1}}}}'.encode(),
        f'{{"seq":{seq},"metrics":{{"fps":"fast"}}}}'.encode(),
        f'{{"ts":"{ts}","seq":{seq},"metrics":{{"warp_factor":9}}}}'.encode(),
        f'{{"ts":"{ts}","seq":{seq},"metrics":{{"fps":NaN}}}}'.encode(),
        f'{{"ts":"{ts}","seq":{seq},"metrics":[1,2,3]}}'.encode(),
    )
    return rng.choice(choices)
