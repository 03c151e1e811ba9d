"""IP camera: frame rate and bitrate around the configured values, IR noise at night."""

from __future__ import annotations

import random
from typing import Any

from simulators.models.base import Event, Model, clamp, diurnal, is_night


class CameraModel(Model):
    """Reports online, stream_up, fps, bitrate, cpu/mem and uptime every interval."""

    def __init__(self, rng: random.Random, metadata: dict[str, Any], start: float) -> None:
        super().__init__(rng, metadata, start)
        self.fps_conf = float(metadata.get("fps", rng.choice((15, 20, 25, 25))))
        self.bitrate_conf = float(metadata.get("bitrate_kbps", rng.choice((2048, 3072, 4096))))
        self.cpu_base = rng.uniform(18, 45)
        self.mem_base = rng.uniform(30, 55)

    def sample(self, t: float, hour: float, weekday: int, day: int) -> dict[str, Any]:
        """One report; video loss means fps 0 and stream down."""
        video = "video_loss" not in self.faults
        night = is_night(hour)
        # IR illumination adds sensor noise: the encoder spends ~30% more bits at night.
        bitrate = self.bitrate_conf * (1.3 if night else 1.0) * (1 + self.jitter(0.05))
        fps = self.fps_conf - abs(self.jitter(0.3))
        activity = diurnal(hour, 14)
        return {
            "online": True,
            "stream_up": video,
            "fps": round(clamp(fps, 0, 240), 2) if video else 0.0,
            "fps_configured": self.fps_conf,
            "bitrate_kbps": round(max(0.0, bitrate)) if video else 0,
            "bitrate_configured_kbps": self.bitrate_conf,
            "cpu_pct": round(clamp(self.cpu_base + 15 * activity + self.jitter(3), 1, 100), 1),
            "mem_pct": round(clamp(self.mem_base + self.jitter(1.5), 5, 100), 1),
            "uptime_s": self.uptime(t),
        }

    def on_fault(self, kind: str, started: bool, t: float) -> list[Event]:
        """Video loss starts with a critical ``video_loss`` event and ends with its clearing."""
        if kind == "video_loss":  # the end too, as the collector's camera checks report it
            if started:
                return [("video_loss", "critical", {"channel": 1})]
            return [("video_loss_cleared", "info", {"channel": 1})]
        if kind == "tamper" and started:
            return [("tamper", "critical", {"kind": "covered"})]
        return []
