"""Starting and ending faults on the world, and the random fault processes of a fleet."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from ioc.durations import parse_duration
from simulators.clock import format_ts
from simulators.faults import (
    DAY,
    DEVICE_FAULT_RATES,
    KINDS,
    POWER_CUTS_PER_DAY,
    STORM_SHARE,
    STORMS_PER_DAY,
    FaultRecord,
    repair_time,
)

if TYPE_CHECKING:
    from simulators.device import SimDevice
    from simulators.world import World


class FaultPlan:
    """The fault timeline of one world: injected faults and seeded random ones."""

    def __init__(self, world: World, rate: float) -> None:
        self.world = world
        self.rate = rate
        self.log: list[FaultRecord] = []
        self.active: dict[int, FaultRecord] = {}
        self._ids = 0

    def begin(self, start: float) -> None:
        """Queue the first occurrence of every random fault process."""
        if self.rate <= 0:
            return
        for device in self.world.devices.values():
            for kind, per_day, median in DEVICE_FAULT_RATES.get(device.type, ()):
                rng = random.Random(f"{self.world.seed}/{kind}/{device.id}")
                self._random(rng, per_day, kind, device.id, median, start)
        for commune in self.world.communes:
            rng = random.Random(f"{self.world.seed}/power_cut/{commune}")
            self._random(rng, POWER_CUTS_PER_DAY, "power_cut", commune, 0.0, start)
        rng = random.Random(f"{self.world.seed}/storm")
        self._random(rng, STORMS_PER_DAY, "storm", "*", 0.0, start)

    def _random(
        self, rng: random.Random, per_day: float, kind: str, target: str, median: float, t: float
    ) -> None:
        when = t + rng.expovariate(per_day * self.rate / DAY)

        def fire(now: float) -> None:
            if kind == "power_cut":
                duration = rng.uniform(30, 180) * 60
            elif kind == "storm":
                duration = rng.uniform(6, 12) * 3600
            else:
                duration = repair_time(rng, median)
            self.inject(kind, target, duration, now, source="random")
            self._random(rng, per_day, kind, target, median, now + duration)

        self.world.at(when, fire)

    def inject(
        self,
        fault: str,
        target: str,
        duration: float | None,
        at: float | None,
        params: dict[str, Any] | None = None,
        source: str = "inject",
    ) -> FaultRecord:
        """Validate a fault now and queue its start (and end, when it has a duration)."""
        if fault not in KINDS:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(KINDS)}")
        devices = self.world.targets(target, fault)
        self._ids += 1
        start = self.world.now if at is None else at
        record = FaultRecord(
            self._ids,
            fault,
            target,
            start,
            duration,
            dict(params or {}),
            source,
            [d.id for d in devices],
        )
        self.log.append(record)
        self.world.at(start, lambda t: self._start(record, t))
        return record

    def _start(self, record: FaultRecord, t: float) -> None:
        world = self.world
        devices = [world.devices[i] for i in record.devices]
        self.active[record.id] = record
        if record.duration is not None:
            world.at(t + record.duration, lambda now: self._end(record, now))
        fault = record.fault
        if fault == "storm":
            self._storm(record, devices, t)
        elif fault == "flapping":
            self._flap(record, devices, t, down=False)
        elif fault == "emergency_broadcast":
            schedule_id = "emg-" + format_ts(t)[:16].replace("-", "").replace(":", "")
            world.broadcasts.play(devices, t, schedule_id, "emergency", record.duration or 600.0)
        else:
            if fault == "clock_skew":
                skew = parse_duration(record.params.get("skew", "15m")).total_seconds()
                for device in devices:
                    device.params["skew"] = -skew if record.params.get("behind") else skew
            if KINDS[fault].flag == "cut" and "will_spread" in record.params:
                # Found by keep-alive expiry: the wills come over this long, the link's last.
                spread = parse_duration(record.params["will_spread"]).total_seconds()
                for device in devices:
                    device.params["will_spread"] = spread
            flag = KINDS[fault].flag
            for device in devices:
                world.set_flag(device, flag, True, t)
        world.refresh(t)

    def _end(self, record: FaultRecord, t: float) -> None:
        world = self.world
        record.ended = True
        self.active.pop(record.id, None)
        devices = [world.devices[i] for i in record.devices]
        fault = record.fault
        if fault == "storm":
            for device in devices:
                world.set_flag(device, "storm", False, t)
        elif fault == "flapping":
            for device in devices:
                if "flap_down" in device.faults:
                    world.set_flag(device, "flap_down", False, t)
        elif fault != "emergency_broadcast":
            for device in devices:
                world.set_flag(device, KINDS[fault].flag, False, t)
                if fault == "clock_skew" and "clock_skew" not in device.faults:
                    device.params.pop("skew", None)
                if "cut" not in device.faults:
                    device.params.pop("will_spread", None)
                if fault == "out_of_order" and "out_of_order" not in device.faults:
                    world.release_held(device)
        world.refresh(t)

    def _storm(self, record: FaultRecord, devices: list[SimDevice], t: float) -> None:
        rng = random.Random(f"{self.world.seed}/storm-hits/{record.id}")
        length = record.duration or 8 * 3600
        for device in devices:
            self.world.set_flag(device, "storm", True, t)
        for device in devices:
            if rng.random() < STORM_SHARE:
                delay = rng.uniform(0, 0.3) * length
                self.inject(
                    "outage",
                    device.id,
                    rng.uniform(0.3, 1.0) * length + repair_time(rng, 3600),
                    t + delay,
                    source=f"storm#{record.id}",
                )

    def _flap(self, record: FaultRecord, devices: list[SimDevice], t: float, down: bool) -> None:
        """Toggle the devices' connection: down 30-90 s, up 60-180 s, until the fault ends."""
        if record.ended:
            return
        rng = random.Random(f"{self.world.seed}/flap/{record.id}/{t}")
        for device in devices:
            self.world.set_flag(device, "flap_down", down, t)
        if down or t != record.at:
            self.world.refresh(t)
        wait = rng.uniform(30, 90) if down else rng.uniform(60, 180)
        if t == record.at:
            wait = rng.uniform(5, 20)
        self.world.at(t + wait, lambda now: self._flap(record, devices, now, not down))

    def active_count(self) -> int:
        """Faults in progress right now."""
        return len(self.active)
