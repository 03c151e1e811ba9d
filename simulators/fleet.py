"""The world over MQTT in (accelerated) real time: connections, births, last wills, faults.

Connection modes:

* ``device``: every device has its own client (client id = device id), a retained ``online``
  birth after connecting and a retained ``offline`` last will.
* ``site``: the devices behind a site's hub (a hamlet switch or router) share the hub's
  connection (client id = hub id), as a site gateway would. The broker holds one last will
  per connection, so only the hub's ``offline`` fires when the gateway's link dies; devices
  behind it are then seen through report age and topology. While the gateway is up it
  publishes a device's retained ``online`` / ``offline`` itself when the device comes and
  goes (like Sparkplug's DBIRTH/DDEATH).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ioc.contract import Reading, encode
from ioc.mqttclient import MqttTarget
from simulators.clock import SimClock, format_ts
from simulators.device import Message, SimDevice
from simulators.faults import FaultRecord
from simulators.transport import Conn, Mux
from simulators.world import World

Mode = Literal["device", "site"]


@dataclass
class Progress:
    """A snapshot for the progress line."""

    sim_time: float
    devices: int
    connected: int
    connections: int
    sent: int
    acked: int
    faults: int
    rate: float
    lag_s: float = 0.0

    def line(self) -> str:
        """One human line."""
        return (
            f"{format_ts(self.sim_time)[:19]} devices {self.connected}/{self.devices} connected "
            f"({self.connections} conns) sent {self.sent} acked {self.acked} "
            f"faults {self.faults} rate {self.rate:.1f} msg/s lag {self.lag_s:.2f}s"
        )


def plan_connections(world: World, mode: Mode) -> dict[str, str]:
    """Device id → client id of the connection it publishes on."""
    owner = {d.id: d.id for d in world.devices.values()}
    if mode == "device":
        return owner
    by_site: dict[str | None, list[SimDevice]] = {}
    for device in world.devices.values():
        by_site.setdefault(device.site, []).append(device)
    for site, devices in by_site.items():
        if site is None:
            continue
        in_site = {d.id for d in devices}
        best: tuple[int, str] | None = None
        for hub in (d for d in devices if d.type == "link"):
            below = _descendants(hub, in_site)
            if below and (best is None or len(below) > best[0]):
                best = (len(below), hub.id)
                for dev_id in below:
                    owner[dev_id] = hub.id
    return owner


def _descendants(hub: SimDevice, allowed: set[str]) -> set[str]:
    """Devices in ``allowed`` that are cut off whenever ``hub`` is (all their paths cross it)."""
    found: set[str] = set()
    stack = [c for c in hub.children if len(c.parents) == 1]
    while stack:
        device = stack.pop()
        if device.id in allowed and device.id not in found:
            found.add(device.id)
            stack.extend(c for c in device.children if len(c.parents) == 1)
    return found


class Fleet:
    """Publishes a world's messages over MQTT; ``inject`` adds faults from any thread."""

    def __init__(
        self, world: World, clock: SimClock, target: MqttTarget, mode: Mode = "device",
        keepalive: int = 30, max_inflight: int = 100, client_prefix: str = "",
    ) -> None:  # fmt: skip
        self.world = world
        self.clock = clock
        self.mux = Mux(target, keepalive, max_inflight)
        self.lock = threading.Lock()
        owner = plan_connections(world, mode)
        self.conns: dict[str, Conn] = {}
        self.conn_of: dict[str, Conn] = {}
        for device in world.devices.values():
            hub = world.devices[owner[device.id]]
            conn = self.conns.get(hub.id)
            if conn is None:
                conn = Conn(hub.id, hub.topic("status"), self._birth, prefix=client_prefix)
                self.conns[hub.id] = conn
            conn.members.append(device)
            self.conn_of[device.id] = conn
        self.rate_sent = 0
        self._load_next = 0
        self.tap: Callable[[Message], None] | None = None
        self.max_lag = 0.0  # worst wall-clock delay of a due event since the last progress

    def inject(
        self, fault: str, target: str, duration: float | None = None,
        params: dict[str, Any] | None = None,
    ) -> FaultRecord:  # fmt: skip
        """Start a fault now (simulated time); safe to call while ``run`` is running."""
        with self.lock:
            return self.world.inject(fault, target, duration, self.clock.now(), params)

    def _birth(self, conn: Conn) -> None:
        for device in conn.members:
            if device.connected:
                self.mux.publish(conn, device.topic("status"), b"online", retain=True)

    def handle(self, message: Message) -> None:
        """Put one world message on the wire."""
        conn = self.conn_of[message.device]
        if self.tap is not None:
            self.tap(message)
        if message.kind == "connect":
            if message.device == conn.client_id:
                self.mux.open(conn)
            elif conn.up:
                self.mux.publish(conn, message.topic, b"online", retain=True)
        elif message.kind == "disconnect":
            if message.device == conn.client_id:
                self.mux.drop(conn, will=True)
            elif conn.up:
                self.mux.publish(conn, message.topic, b"offline", retain=True)
        else:
            self.mux.publish(conn, message.topic, message.payload, message.retain)

    def progress(self, rate: float) -> Progress:
        """Current counters."""
        devices = self.world.devices.values()
        return Progress(
            self.clock.now(),
            len(devices),
            sum(1 for d in devices if d.connected and self.conn_of[d.id].up),
            sum(1 for c in self.conns.values() if c.up),
            self.mux.sent,
            self.mux.acked,
            self.world.plan.active_count(),
            rate,
            self.max_lag,
        )

    def run(
        self,
        duration: float | None = None,
        stop: threading.Event | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        progress_every: float = 10.0,
        rate: float | None = None,
        on_tick: Callable[[float], None] | None = None,
    ) -> Progress:
        """Run until ``duration`` wall seconds pass or ``stop`` is set; return final counters.

        ``rate`` (messages/s) switches to load mode: periodic telemetry is replaced by
        round-robin reports from connected devices at that rate; events and status stay.
        """
        wall0 = time.time()
        end = wall0 + duration if duration is not None else float("inf")
        next_progress = wall0 + progress_every
        last_sent, last_wall = 0, wall0
        load_devices = list(self.world.devices.values())
        while not (stop is not None and stop.is_set()) and time.time() < end:
            with self.lock:
                sim_now = self.clock.now()
                late = (sim_now - self.world.next_time()) / self.clock.speed
                self.max_lag = max(self.max_lag, late)
                for message in self.world.advance(sim_now):
                    if rate and message.kind == "telemetry":
                        continue
                    self.handle(message)
            if on_tick is not None:
                on_tick(self.clock.now())
            timeout = min(0.05, self.clock.wall_of(self.world.next_time()) - time.time())
            if rate:
                self._load(load_devices, rate, time.time() - wall0)
                timeout = min(timeout, 0.002)
            self.mux.poll(max(0.0, timeout))
            now = time.time()
            if now >= next_progress:
                achieved = (self.mux.sent - last_sent) / (now - last_wall)
                last_sent, last_wall = self.mux.sent, now
                next_progress = now + progress_every
                if on_progress is not None:
                    on_progress(self.progress(achieved))
                self.max_lag = 0.0
        elapsed = max(1e-9, time.time() - wall0)
        return self.progress(self.mux.sent / elapsed)

    def _load(self, devices: list[SimDevice], rate: float, elapsed: float) -> None:
        """Publish the reports due by now to keep ``rate`` messages per second."""
        due = int(rate * elapsed) - self.rate_sent
        budget = min(due, max(50, int(rate * 0.05)))
        sim_now = self.clock.now()
        for _ in range(max(0, budget)):
            device = devices[self._load_next % len(devices)]
            self._load_next += 1
            if not device.connected:
                continue
            conn = self.conn_of[device.id]
            stamp = max(sim_now, device.params.get("load_t", 0.0) + 0.001)
            device.params["load_t"] = stamp
            metrics = device.model.sample(stamp, 12.0, 2, 15)
            payload = encode(Reading(ts=format_ts(stamp), seq=device.next_seq(), metrics=metrics))
            self.mux.publish(conn, device.topic("telemetry"), payload)
            self.rate_sent += 1

    def drain(self, timeout: float = 5.0) -> int:
        """Wait (bounded) for outstanding publish acknowledgements; return how many remain."""
        deadline = time.time() + timeout
        while self.mux.pending() > 0 and time.time() < deadline:
            self.mux.poll(0.05)
        return self.mux.pending()

    def close(self, will: bool = True) -> None:
        """Disconnect every device (their last wills fire when ``will``)."""
        self.mux.close(will)
