"""The seeded discrete-event simulation of a fleet: reports, broadcasts, faults, topology.

The world knows nothing about MQTT connections or wall time: ``advance(until)`` runs every
event up to simulated time ``until`` and returns the messages devices produced, in order.
Each device draws from its own ``random.Random`` stream, so a seed fixes every value and the
whole fault timeline.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from typing import Any

from devices.registry import DeviceIn, Registry
from ioc.contract import Batch, Event, Reading, encode
from simulators.broadcasts import Broadcasts
from simulators.clock import format_ts, local_time
from simulators.device import BACKFILL_CHUNK, BUFFERING_TYPES, Message, SimDevice
from simulators.faultplan import FaultPlan
from simulators.faults import KINDS, FaultRecord, malformed_payload
from simulators.models import build_model
from simulators.models.link import guess_wan
from simulators.models.speaker import SpeakerModel


class World:
    """All devices of a registry and a time-ordered queue of what happens to them."""

    def __init__(
        self,
        registry: Registry,
        seed: int,
        start: float,
        *,
        random_faults: bool = True,
        fault_rate: float = 1.0,
        time_map: Callable[[float], float] | None = None,
    ) -> None:
        self.seed = seed
        # Drills compress time: events run on the simulated clock, payloads carry the wall
        # clock (``time_map``) so the stack judges fresh data.
        self.time_map = time_map
        self.start = start
        self.now = start
        self._heap: list[tuple[float, int, Callable[[float], None]]] = []
        self._order = 0
        self._out: list[Message] = []
        self.devices: dict[str, SimDevice] = {}
        for spec in registry.devices:
            if not spec.decommissioned:
                self._add(spec)
        for device in self.devices.values():
            for parent in device.parents:
                if parent in self.devices:
                    self.devices[parent].children.append(device)
        self._order_topology()
        self.communes = sorted({d.commune for d in self.devices.values()})
        self.plan = FaultPlan(self, fault_rate if random_faults else 0.0)
        for device in self._ordered:
            self._emit_status(device, start, "connect")
            rng = device.model.rng
            self.at(start + rng.uniform(0, device.interval), self._reporter(device))
        self.broadcasts = Broadcasts(self)
        self.broadcasts.begin(start)
        self.plan.begin(start)

    # -- construction -------------------------------------------------------------------
    def _add(self, spec: DeviceIn) -> None:
        rng = random.Random(f"{self.seed}/device/{spec.id}")
        metadata = dict(spec.metadata)
        if spec.type == "link":
            metadata["wan"] = guess_wan(metadata, spec.id, spec.name)
        self.devices[spec.id] = SimDevice(
            id=spec.id,
            type=spec.type,
            commune=spec.commune,
            site=spec.site,
            name=spec.name,
            parents=spec.parents,
            interval=float(spec.interval),
            model=build_model(spec.type, rng, metadata, self.start),
            buffers=spec.type in BUFFERING_TYPES,
        )

    def _order_topology(self) -> None:
        """Parents before children, so one pass computes reachability."""
        ordered: list[SimDevice] = []
        seen: set[str] = set()

        def visit(device: SimDevice) -> None:
            if device.id in seen:
                return
            seen.add(device.id)
            for parent in device.parents:
                if parent in self.devices:
                    visit(self.devices[parent])
            ordered.append(device)

        for device in self.devices.values():
            visit(device)
        self._ordered = ordered

    # -- the event queue ----------------------------------------------------------------
    def at(self, t: float, action: Callable[[float], None]) -> None:
        """Run ``action(t)`` at simulated time ``t``."""
        self._order += 1
        heapq.heappush(self._heap, (t, self._order, action))

    def next_time(self) -> float:
        """Simulated time of the next queued event (inf when idle)."""
        return self._heap[0][0] if self._heap else float("inf")

    def advance(self, until: float) -> list[Message]:
        """Run every event due up to ``until``; return the messages produced, in order."""
        heap = self._heap
        while heap and heap[0][0] <= until:
            t, _, action = heapq.heappop(heap)
            self.now = t
            action(t)
        self.now = max(self.now, until)
        out, self._out = self._out, []
        return out

    # -- faults -------------------------------------------------------------------------
    def inject(
        self,
        fault: str,
        target: str,
        duration: float | None = None,
        at: float | None = None,
        params: dict[str, Any] | None = None,
        source: str = "inject",
    ) -> FaultRecord:
        """Schedule a fault on a device, site, commune or ``*`` (now unless ``at`` is given)."""
        return self.plan.inject(fault, target, duration, at, params, source)

    @property
    def fault_log(self) -> list[FaultRecord]:
        """Every fault so far, injected or random, in start order."""
        return self.plan.log

    def targets(self, target: str, fault: str) -> list[SimDevice]:
        """Devices a fault hits: a device id, a site id, a commune code or ``*``."""
        kind = KINDS[fault]
        if target in self.devices:
            found = [self.devices[target]]
        elif target == "*":
            found = list(self.devices.values())
        else:
            found = [d for d in self.devices.values() if target in (d.commune, d.site)]
        if not found:
            raise ValueError(f"fault {fault}: unknown target {target!r} (device, site, commune)")
        hit = [d for d in found if kind.types is None or d.type in kind.types]
        if not hit:
            raise ValueError(
                f"fault {fault}: target {target!r} has no device of type "
                f"{' or '.join(sorted(kind.types or ()))}"
            )
        return hit

    def set_flag(self, device: SimDevice, flag: str, on: bool, t: float) -> None:
        """Raise or clear a fault flag on a device and publish what it causes."""
        changed = device.add_fault(flag) if on else device.remove_fault(flag)
        if changed:
            for event in device.model.on_fault(flag, on, t):
                self.event(device, t, *event)

    # -- reachability -------------------------------------------------------------------
    def refresh(self, t: float) -> None:
        """Recompute power and reachability; connection changes, reboots and backfill."""
        for device in self._ordered:
            faults = device.faults
            model = device.model
            if "outage" in faults:
                alive = False
            elif "power_cut" in faults:
                alive = isinstance(model, SpeakerModel) and not model.battery_dead
            else:
                alive = True
            connected = alive and "cut" not in faults and "flap_down" not in faults
            if connected and device.parents:
                known = [self.devices[p] for p in device.parents if p in self.devices]
                connected = not known or any(p.connected for p in known)
            if device.type == "link" and device.parents:
                self._failover(device)
            was_alive, device.alive = device.alive, alive
            if alive and not was_alive:
                device.buffer.clear()
                for event in model.on_boot(t):
                    self.event(device, t, *event)
            if connected != device.connected:
                device.connected = connected
                delay = 0.0 if connected else self._will_delay(device)
                if delay > 0:
                    device.params["will_pending"] = True
                    self.at(t + delay, self._late_will(device))
                elif not (connected and device.params.pop("will_pending", False)):
                    self._emit_status(device, t, "connect" if connected else "disconnect")
                if connected:
                    self._backfill(device, t)

    def _will_delay(self, device: SimDevice) -> float:
        """Seconds until the broker notices a cut device (a cut with ``will_spread``).

        A cut sends no TCP reset: each client is found dead 1.5 x its keep-alive after its
        own last packet, so the wills come spread out; the cut link's own comes last.
        """
        if "cut" in device.faults:
            return float(device.params.get("will_spread", 0.0))
        stack, seen = list(device.parents), set()
        while stack:
            parent = self.devices.get(stack.pop())
            if parent is None or parent.id in seen:
                continue
            seen.add(parent.id)
            spread = parent.params.get("will_spread", 0.0) if "cut" in parent.faults else 0.0
            if spread:
                rng = random.Random(f"{self.seed}/will/{parent.id}/{device.id}")
                return float(rng.uniform(0.0, 0.95 * spread))
            stack.extend(parent.parents)
        return 0.0

    def _late_will(self, device: SimDevice) -> Callable[[float], None]:
        def will(t: float) -> None:
            if device.params.pop("will_pending", False):  # still cut off: the broker gives up
                self._emit_status(device, t, "disconnect")

        return will

    def _failover(self, device: SimDevice) -> None:
        """A multi-homed link reports the WAN of the first parent still connected."""
        model = device.model
        for parent in device.parents:
            p = self.devices.get(parent)
            if p is not None and p.connected:
                model.active_wan = getattr(p.model, "wan", "fiber")  # type: ignore[attr-defined]
                return

    def _backfill(self, device: SimDevice, t: float) -> None:
        readings, device.buffer = device.buffer, []
        for i in range(0, len(readings), BACKFILL_CHUNK):
            payload = encode(Batch(readings=readings[i : i + BACKFILL_CHUNK]))
            self._send(device, t, "readings", "telemetry", payload)
        events, device.pending_events = device.pending_events, []
        for event in events:
            self._send(device, t, "event", "event", encode(event))

    # -- what devices do ----------------------------------------------------------------
    def _reporter(self, device: SimDevice) -> Callable[[float], None]:
        def report(t: float) -> None:
            self.at(t + device.interval, report)
            if not device.alive:
                return
            hour, weekday, day = local_time(t)
            metrics = device.model.sample(t, hour, weekday, day)
            if isinstance(device.model, SpeakerModel) and device.model.battery_dead:
                self.refresh(t)
                return
            reading = Reading(ts=self.stamp(device, t), seq=device.next_seq(), metrics=metrics)
            if device.connected:
                self._send(device, t, "telemetry", "telemetry", encode(reading))
            elif device.buffers:
                device.keep(reading)

        return report

    def stamp(self, device: SimDevice, t: float) -> str:
        """The device's idea of the time: simulated (or mapped) time plus any clock skew."""
        if self.time_map is not None:
            t = self.time_map(t)
        return format_ts(t + device.params.get("skew", 0.0) if device.params else t)

    def event(
        self, device: SimDevice, t: float, kind: str, severity: str | None,
        data: dict[str, Any], stamp: float | None = None,
    ) -> None:  # fmt: skip
        """Push an event now (dated ``stamp`` if given), keep it for later or lose it."""
        if not device.alive:
            return
        event = Event(
            ts=self.stamp(device, t if stamp is None else stamp),
            seq=device.next_seq(),
            type=kind,
            severity=severity or None,
            data=data,
        )
        if device.connected:
            self._send(device, t, "event", "event", encode(event))
        elif device.buffers:
            device.pending_events.append(event)

    def _emit_status(self, device: SimDevice, t: float, kind: str) -> None:
        payload = b"online" if kind == "connect" else b"offline"
        self._out.append(Message(t, device.id, kind, device.topic("status"), payload, True))  # type: ignore[arg-type]

    def _send(self, device: SimDevice, t: float, kind: str, channel: str, payload: bytes) -> None:
        """Emit one message through the device's delivery faults."""
        message = Message(t, device.id, kind, device.topic(channel), payload)  # type: ignore[arg-type]
        faults = device.faults
        if not faults:
            self._out.append(message)
            return
        if "malformed" in faults:
            message.kind = "raw"
            message.payload = malformed_payload(device.model.rng, format_ts(t), device.seq)
        if "out_of_order" in faults:
            if device.held is None:
                device.held = message
                return
            held, device.held = device.held, None
            self._out.extend((message, held))
        else:
            self._out.append(message)
        if "duplicates" in faults:
            self._out.append(message)

    def release_held(self, device: SimDevice) -> None:
        """Deliver a message held back by out-of-order delivery when that fault ends."""
        if device.held is not None:
            self._out.append(device.held)
            device.held = None
