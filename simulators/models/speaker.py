"""IP/4G loudspeaker cluster: heartbeat, 4G signal walk, power, amplifier, broadcasts."""

from __future__ import annotations

import random
from typing import Any

from simulators.models.base import Event, Model, clamp, diurnal

BATTERY_FULL = 13.6
BATTERY_CUTOFF = 10.5  # the controller shuts down below this voltage
BROADCAST_LENGTH_S = 1800.0
BROADCAST_MB = 7.2  # a 30-minute programme streamed at ~32 kbit/s


class SpeakerModel(Model):
    """Heartbeat every 30 s; plays the scheduled broadcasts and reports each as an event."""

    has_battery = True

    def __init__(self, rng: random.Random, metadata: dict[str, Any], start: float) -> None:
        super().__init__(rng, metadata, start)
        self.rsrp_base = float(metadata.get("rsrp_dbm", rng.uniform(-102, -70)))
        self.walk = 0.0
        self.volume = int(metadata.get("volume", rng.choice((60, 70, 75, 80))))
        self.battery_v = BATTERY_FULL - rng.uniform(0, 0.3)
        self.data_mb = rng.uniform(0, 900)
        self.plan_mb = float(metadata.get("data_plan_mb", 3072))
        self.month_day = 0
        self.playing_until = 0.0
        self.emergency_until = 0.0
        self.last_t = start

    @property
    def battery_dead(self) -> bool:
        """True when a long power cut has drained the battery below the cut-off."""
        return self.battery_v < BATTERY_CUTOFF

    def rsrp(self) -> float:
        """Current RSRP: base level, the ±5 dB random walk and signal faults."""
        penalty = (20 if "weak_signal" in self.faults else 0) + (8 if "storm" in self.faults else 0)
        return self.rsrp_base + self.walk - penalty

    def sample(self, t: float, hour: float, weekday: int, day: int) -> dict[str, Any]:
        """One heartbeat."""
        hours = (t - self.last_t) / 3600
        self.last_t = t
        self.walk = clamp(self.walk + self.jitter(1.0), -5, 5)
        mains = "power_cut" not in self.faults
        if mains:
            self.battery_v = min(BATTERY_FULL, self.battery_v + 0.5 * hours)
        else:
            self.battery_v -= 0.25 * hours
        if day < self.month_day:
            self.data_mb = 0.0
        self.month_day = day
        self.data_mb += 0.02
        playing = t < self.playing_until
        emergency = t < self.emergency_until
        rsrp = self.rsrp()
        quality = clamp((rsrp + 110) / 40, 0, 1)
        return {
            "online": True,
            "rsrp_dbm": round(rsrp, 1),
            "rsrq_db": round(clamp(-19 + 13 * quality + self.jitter(0.7), -30, -3), 1),
            "sinr_db": round(clamp(-2 + 25 * quality + self.jitter(1.5), -20, 30), 1),
            "volume": 100 if emergency else self.volume,
            "state": "emergency" if emergency else "playing" if playing else "idle",
            "mains_ok": mains,
            "battery_v": round(self.battery_v + self.jitter(0.02), 2),
            "amp_ok": "amp_fault" not in self.faults,
            "temp_c": round(
                27 + 12 * diurnal(hour, 14) + (5 if playing else 0) + self.jitter(0.5), 1
            ),
            "data_mb_month": round(self.data_mb, 2),
            "data_plan_mb": self.plan_mb,
        }

    def outcome(self, t: float, schedule_id: str, priority: str) -> Event:
        """The logged outcome of a past programme (the cluster's last log entry)."""
        until, emergency = self.playing_until, self.emergency_until
        event = self.broadcast(t, schedule_id, priority, BROADCAST_LENGTH_S)
        self.playing_until, self.emergency_until = until, emergency
        return event

    def broadcast(self, t: float, schedule_id: str, priority: str, length: float) -> Event:
        """Attempt a scheduled programme; the ``broadcast`` event says how it went."""
        rsrp = self.rsrp()
        p_missed = 0.005 + (0.15 if rsrp < -100 else 0) + (0.1 if self.battery_v < 11.5 else 0)
        if "amp_fault" in self.faults or self.rng.random() < p_missed:
            reason = (
                "amp_fault"
                if "amp_fault" in self.faults
                else "weak_signal"
                if rsrp < -100
                else "no_stream"
            )
            missed = {"schedule_id": schedule_id, "priority": priority, "result": "missed"}
            return (
                "broadcast",
                "critical" if priority == "emergency" else "warning",
                {**missed, "reason": reason, "rsrp_dbm": round(rsrp, 1)},
            )
        delay = self.rng.uniform(120, 900) if self.rng.random() < 0.015 else 0.0
        self.playing_until = t + delay + length
        if priority == "emergency":
            self.emergency_until = self.playing_until
        self.data_mb += BROADCAST_MB * length / 1800
        result = "late" if delay else "executed"
        data: dict[str, Any] = {"schedule_id": schedule_id, "priority": priority, "result": result}
        if delay:
            data["delay_s"] = round(delay)
        return ("broadcast", "warning" if delay else "info", data)

    def on_fault(self, kind: str, started: bool, t: float) -> list[Event]:
        """Amplifier faults and mains loss/restoration are pushed as events."""
        if kind == "amp_fault" and started:
            return [("amp_fault", "critical", {"amp": 1})]
        if kind == "power_cut":
            if started:
                return [("power_lost", "warning", {"battery_v": round(self.battery_v, 2)})]
            return [("power_restored", "info", {"battery_v": round(self.battery_v, 2)})]
        return []
