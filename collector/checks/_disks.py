"""Recorder disks, the same for every NVR vendor: ``disk_status`` (the worst disk),
``disk_used_pct`` (over the healthy disks), the raw word per disk in the sample's meta, and a
``disk_failure`` event when a disk turns bad or good again.

A vendor's parser maps its own status words to the catalogue's labels and gives :class:`Disk`;
:class:`DiskWatch` (one per check) does the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.checks._events import edge_type
from collector.checks.base import EventOut, Sample

# The catalogue's disk_status labels, from good to worst.
DISK_RANK = {"normal": 0, "abnormal": 1, "notonline": 2, "smartfailed": 3}


@dataclass(frozen=True, slots=True)
class Disk:
    id: str
    raw_status: str  # the vendor's word, kept in events and meta
    status: str  # catalogue label (DISK_RANK)
    total: float  # capacity and use in one unit per vendor (MB, bytes)
    used: float


class DiskWatch:
    """One recorder's disks between polls."""

    def __init__(self) -> None:
        self._status: dict[str, str] = {}  # disk id -> label last seen

    def observe(self, disks: list[Disk], sample: Sample) -> None:
        """Add the disks' metrics, meta and edge events to ``sample``."""
        if not disks:
            return
        worst = max(disks, key=lambda d: DISK_RANK.get(d.status, 1))
        sample.metrics["disk_status"] = worst.status
        total = sum(d.total for d in disks if d.status == "normal")
        used = sum(d.used for d in disks if d.status == "normal")
        if total > 0:
            sample.metrics["disk_used_pct"] = round(100.0 * used / total, 2)
        sample.meta["disks"] = {d.id: d.raw_status for d in disks}
        for d in disks:
            was_bad = self._status.get(d.id, "normal") != "normal"
            self._status[d.id] = d.status
            is_bad = d.status != "normal"
            if is_bad != was_bad:
                sample.events.append(
                    EventOut(
                        edge_type("disk_failure", is_bad),
                        "critical" if is_bad else "info",
                        {
                            "disk": d.id,
                            "status": d.raw_status,
                            "mapped": d.status,
                            "state": "active" if is_bad else "inactive",
                        },
                    )
                )
