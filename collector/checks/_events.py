"""Event state shared by the camera checks: active/inactive pairs, timeouts, our vocabulary.

Devices report an event as *active* (often repeated every second while it lasts) and later
*inactive*; some never send inactive. :class:`EventTracker` turns that into one event when a
condition starts (``video_loss``, ``state: active``) and one when it ends (``video_loss_cleared``,
``state: inactive``, ``cleared_by: device | timeout``). The end has its own type so an alert
rule can name it as its ``clear_event`` without matching on data (devices that speak MQTT
directly send ``video_loss`` without any ``state``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from collector.checks.base import EventOut, Severity

IDENTITY = ("model", "serial", "firmware")


def identity_change(before: dict[str, str] | None, now: dict[str, str]) -> EventOut | None:
    """``device_changed`` when a device's model, serial or firmware differs from the last poll.

    A new serial means the device was swapped, a new firmware that it was re-flashed.
    """
    if before is None:
        return None
    changed = {
        k: {"old": before.get(k), "new": now.get(k)}
        for k in IDENTITY
        if before.get(k) != now.get(k)
    }
    if not changed:
        return None
    what = (
        "swapped" if "serial" in changed else "re-flashed" if "firmware" in changed else "changed"
    )
    return EventOut("device_changed", "warning", {"what": what, "changes": changed})


def edge_type(etype: str, active: bool) -> str:
    """The event type of a condition starting (``etype``) or ending (``etype_cleared``)."""
    return etype if active else f"{etype}_cleared"


# Our event types (the catalogue's vocabulary) and how bad each is.
SEVERITY: dict[str, Severity] = {
    "video_loss": "critical",
    "tamper": "critical",
    "storage_failure": "critical",
    "recording_stopped": "critical",
    "motion": "info",
    "camera_event": "warning",
}


@dataclass(slots=True)
class _Active:
    first: float
    last: float
    data: dict[str, object]


class EventTracker:
    """Edge detection of device events keyed by (type, channel)."""

    def __init__(self, clear_after_s: float = 120.0, *, max_active: int = 1000) -> None:
        self.clear_after_s = clear_after_s
        self.max_active = max_active
        self._active: dict[tuple[str, str], _Active] = {}

    def active(self) -> list[tuple[str, str]]:
        """Keys of the conditions currently active."""
        return list(self._active)

    def update(
        self,
        etype: str,
        channel: str,
        active: bool,
        data: dict[str, object],
        *,
        ts: float | None = None,
        now: float | None = None,
    ) -> EventOut | None:
        """Record one notification; an EventOut when it starts or ends a condition."""
        now = time.monotonic() if now is None else now
        key = (etype, channel)
        current = self._active.get(key)
        if active:
            if current is not None:
                current.last = now
                return None
            if len(self._active) >= self.max_active:
                return None  # a device flooding distinct channels costs only itself
            self._active[key] = _Active(now, now, data)
            return EventOut(etype, SEVERITY.get(etype, "warning"), {**data, "state": "active"}, ts)
        if current is None:
            return None  # inactive without a start: a heartbeat or a repeat
        del self._active[key]
        return EventOut(
            edge_type(etype, False),
            "info",
            {**data, "state": "inactive", "cleared_by": "device"},
            ts,
        )

    def expire(self, now: float | None = None) -> list[EventOut]:
        """Clear conditions the device never ended within ``clear_after_s``."""
        now = time.monotonic() if now is None else now
        out = []
        for key, cur in list(self._active.items()):
            if now - cur.last >= self.clear_after_s:
                del self._active[key]
                out.append(
                    EventOut(
                        edge_type(key[0], False),
                        "info",
                        {**cur.data, "state": "inactive", "cleared_by": "timeout"},
                    )
                )
        return out
