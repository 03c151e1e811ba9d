"""Network link (fiber uplink, dedicated government network, 4G, hamlet switch/router)."""

from __future__ import annotations

import random
from typing import Any

from simulators.models.base import Model, clamp

PEAKS = ((8.0, 11.0), (14.0, 17.0))
BANDWIDTH = {"fiber": 100.0, "dedicated": 200.0, "4g": 50.0}


def guess_wan(metadata: dict[str, Any], device_id: str, name: str) -> str:
    """The link's WAN kind: metadata ``wan``, else from its id/name (4g, dedicated, fiber)."""
    if metadata.get("wan") in BANDWIDTH:
        return str(metadata["wan"])
    text = f"{device_id} {name}".lower()
    if "4g" in text:
        return "4g"
    if "gov" in text or "chuyên dùng" in text:
        return "dedicated"
    return "fiber"


class LinkModel(Model):
    """Up/loss/rtt/jitter/utilisation with weekday office peaks; WAN follows failover."""

    def __init__(self, rng: random.Random, metadata: dict[str, Any], start: float) -> None:
        super().__init__(rng, metadata, start)
        self.wan = str(metadata.get("wan", "fiber"))
        self.active_wan = self.wan
        self.bandwidth = float(metadata.get("bandwidth_mbps", BANDWIDTH.get(self.wan, 100.0)))
        self.rtt_base = rng.uniform(25, 45) if self.wan == "4g" else rng.uniform(4, 18)
        self.util_base = rng.uniform(8, 20)

    def sample(self, t: float, hour: float, weekday: int, day: int) -> dict[str, Any]:
        """One report; degradation raises loss, latency and errors."""
        office = weekday < 5 and any(a <= hour < b for a, b in PEAKS)
        util = self.util_base + (self.rng.uniform(35, 60) if office else self.rng.uniform(0, 10))
        degraded = "link_degraded" in self.faults or "storm" in self.faults
        on_4g = self.active_wan == "4g"
        rtt = self.rtt_base + (30 if on_4g and self.wan != "4g" else 0) + abs(self.jitter(2))
        loss = abs(self.jitter(0.15))
        errors = 0.0 if self.rng.random() < 0.97 else round(self.rng.uniform(0.1, 1.0), 2)
        if degraded:
            rtt += self.rng.uniform(120, 300)
            loss += self.rng.uniform(15, 40)
            errors += self.rng.uniform(2, 10)
        return {
            "online": True,
            "up": True,
            "loss_pct": round(clamp(loss, 0, 100), 2),
            "rtt_ms": round(rtt, 1),
            "jitter_ms": round(abs(self.jitter(1.5)) + (25 if degraded else 1), 1),
            "util_in_pct": round(clamp(util + self.jitter(3), 0, 100), 1),
            "util_out_pct": round(clamp(util * 0.4 + self.jitter(2), 0, 100), 1),
            "errors_per_s": round(errors, 2),
            "wan": self.active_wan,
            "bandwidth_mbps": self.bandwidth,
        }
