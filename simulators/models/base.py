"""Shared base of the behaviour models: seeded state, fault flags, events and helpers."""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Any

# An event a model wants published: (type, severity or None, data).
Event = tuple[str, str | None, dict[str, Any]]


def clamp(value: float, low: float, high: float) -> float:
    """``value`` limited to [low, high]."""
    return low if value < low else high if value > high else value


def diurnal(hour: float, peak_hour: float) -> float:
    """A smooth daily wave in [0, 1] that peaks at ``peak_hour`` (local time)."""
    return 0.5 + 0.5 * math.cos((hour - peak_hour) / 24 * 2 * math.pi)


def is_night(hour: float) -> bool:
    """Infrared illumination is on between 18:00 and 06:00."""
    return hour >= 18 or hour < 6


class Model:
    """One device's behaviour: ``sample`` gives the metrics of a report at time ``t``.

    ``faults`` is the device's set of active fault kinds, maintained by the world; models read
    it and return events from ``on_fault`` when a fault starts or ends.
    """

    def __init__(self, rng: random.Random, metadata: dict[str, Any], start: float) -> None:
        self.rng = rng
        self.metadata = metadata
        self.faults: Counter[str] = Counter()
        self.boot_t = start - rng.uniform(3600, 40 * 86400)

    def sample(self, t: float, hour: float, weekday: int, day: int) -> dict[str, Any]:
        """Metrics of one report at simulated time ``t`` (local hour / weekday / day given)."""
        raise NotImplementedError

    def on_fault(self, kind: str, started: bool, t: float) -> list[Event]:
        """Events caused by a fault starting or ending (none by default)."""
        return []

    def on_boot(self, t: float) -> list[Event]:
        """The device came back after losing power: uptime restarts, a reboot event."""
        self.boot_t = t
        return [("reboot", "info", {"reason": "power_restored"})]

    def uptime(self, t: float) -> int:
        """Seconds since the last boot."""
        return max(0, int(t - self.boot_t))

    def jitter(self, sigma: float) -> float:
        """Gaussian noise with standard deviation ``sigma``."""
        return self.rng.gauss(0.0, sigma)
