"""NVR: disks filling until overwrite starts, disk status, recording channels."""

from __future__ import annotations

import random
from typing import Any

from simulators.models.base import Event, Model, clamp

# Overwrite keeps the disk just under full: oldest footage is deleted in chunks.
OVERWRITE_HIGH = 95.0
OVERWRITE_LOW = 93.0


class NvrModel(Model):
    """Reports disk use, disk status, recording and channels every 5 minutes."""

    def __init__(self, rng: random.Random, metadata: dict[str, Any], start: float) -> None:
        super().__init__(rng, metadata, start)
        self.channels = int(metadata.get("channels", rng.choice((8, 16, 16, 32))))
        self.disk_used = rng.uniform(40, 95)
        # % of the array per hour: a 16-channel NVR fills ~8 TB in about 20 days.
        self.fill_per_h = rng.uniform(0.15, 0.3)
        self.last_t = start

    def sample(self, t: float, hour: float, weekday: int, day: int) -> dict[str, Any]:
        """One report; a failed disk stops recording."""
        failed = "disk_failure" in self.faults
        if not failed:
            self.disk_used += self.fill_per_h * (t - self.last_t) / 3600
            if self.disk_used >= OVERWRITE_HIGH:
                self.disk_used = OVERWRITE_LOW + self.rng.uniform(0, 0.5)
        self.last_t = t
        return {
            "online": True,
            "disk_used_pct": round(clamp(self.disk_used, 0, 100), 2),
            "disk_status": "smartfailed" if failed else "normal",
            "recording": not failed,
            "channels_recording": 0 if failed else self.channels,
            "cpu_pct": round(clamp(25 + self.jitter(4), 1, 100), 1),
            "uptime_s": self.uptime(t),
        }

    def on_fault(self, kind: str, started: bool, t: float) -> list[Event]:
        """A disk failure raises ``disk_failure`` and ``recording_stopped``."""
        if kind == "disk_failure" and started:
            return [
                ("disk_failure", "critical", {"disk": 1, "status": "smartfailed"}),
                ("recording_stopped", "critical", {"channels": self.channels}),
            ]
        return []
