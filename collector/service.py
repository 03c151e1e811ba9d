"""The collector process: inventory → scheduler → outbox → forwarder, plus its own heartbeat."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import signal
import time
from dataclasses import dataclass
from typing import Any

from collector.checks.base import Check, EventOut, Sample
from collector.checks.ping import icmp_mode
from collector.forward import Forwarder
from collector.inventory import Inventory, WatchedDevice
from collector.outbox import Outbox
from collector.push import PushContext
from collector.receiver import build, serve
from collector.scheduler import Scheduler, build_checks
from collector.secrets import SecretStore
from collector.settings import CollectorSettings
from ioc import __version__
from ioc.boundedhttp import BoundedServer
from ioc.errors import IocError
from ioc.mqttclient import MqttTarget
from ioc.redact import redact

log = logging.getLogger(__name__)


class CollectorConfigError(IocError):
    """The collector cannot start with this inventory or these settings."""


@dataclass(frozen=True)
class Identity:
    """Which device this collector is."""

    id: str
    commune: str


def identify(inventory: Inventory, collector_id: str | None) -> Identity:
    """Find this collector in the inventory (a device of type ``collector``)."""
    collectors = [d for d in inventory.devices if d.type == "collector"]
    if collector_id is None:
        if len(collectors) != 1:
            names = ", ".join(d.id for d in collectors) or "none"
            raise CollectorConfigError(
                f"say which collector this is (--id / IOC_COLLECTOR_ID); inventory has: {names}"
            )
        collector_id = collectors[0].id
    for device in collectors:
        if device.id == collector_id:
            return Identity(device.id, device.commune)
    raise CollectorConfigError(
        f"collector {collector_id!r} is not in the inventory: add a device of type collector"
    )


def inventory_digest(inventory: Inventory) -> str:
    """A short hash of the inventory's devices: equal on every collector given the same one."""
    body = json.dumps([d.model_dump(mode="json") for d in inventory.devices], sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def confined(watched: list[WatchedDevice], me: Identity) -> list[WatchedDevice]:
    """Only the devices of the collector's own commune: it holds that commune's secrets, and
    another commune's inventory entry must not make it probe anything."""
    kept = [w for w in watched if w.target.commune == me.commune]
    for w in watched:
        if w.target.commune != me.commune:
            log.error(
                "device %s of commune %s is not watched: collector %s serves commune %s",
                w.target.device_id, w.target.commune, me.id, me.commune,
            )  # fmt: skip
    return kept


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds (the device time of a reading)."""
    return int(time.time() * 1000)


class Collector:
    """Everything one collector runs, on one event loop."""

    def __init__(
        self,
        inventory: Inventory,
        me: Identity,
        settings: CollectorSettings,
        target: MqttTarget,
        secrets: SecretStore,
    ) -> None:
        self.me = me
        self.settings = settings
        self.secrets = secrets
        self.watched = confined(inventory.watched_by(me.id), me)
        self.receiver: BoundedServer | None = None
        self.inventory_hash = inventory_digest(inventory)
        self._reported: tuple[str, str] | None = None  # version and hash last heartbeat sent
        self.started = time.time()
        self.outbox = Outbox(
            settings.state_dir / f"{me.id}.outbox.sqlite",
            max_age_s=settings.max_age_days * 86400,
            max_bytes=settings.max_bytes,
        )
        self.forwarder = Forwarder(
            self.outbox,
            target,
            client_id=f"{settings.client_prefix}{me.id}",
            commune=me.commune,
            collector_id=me.id,
            replay_rate=settings.replay_rate,
        )
        self.closed = False
        self.checks: list[Check] = build_checks(self.watched, secrets)
        self.scheduler = Scheduler(
            self.checks,
            self.record,
            settings.jitter,
            scrub=self.scrub,
            repeat_s=settings.error_repeat_s,
        )

    def scrub(self, text: str) -> str:
        """A text bound for logs or the wire without secrets: the collector's own secret values
        and whatever :func:`ioc.redact.redact` recognises (URL credentials, tokens, ...)."""
        for value in self.secrets.values():
            text = text.replace(value, "***")
        return redact(text)

    def record(self, check: Check, sample: Sample) -> None:
        """Store a sample's reading and events in the outbox and wake the forwarder."""
        t = check.target
        self.store(t.device_id, t.commune, sample)

    def store(self, device_id: str, commune: str, sample: Sample) -> None:
        """Stamp and buffer one sample of one device."""
        if self.closed:
            return  # shutting down: the poll that finished late is simply not recorded
        ts = now_ms()
        if sample.metrics:
            self.outbox.add(
                device_id, commune, "telemetry", {"ts": ts, "metrics": dict(sample.metrics)}
            )
        for ev in sample.events:
            fields: dict[str, Any] = {
                "ts": int(ev.ts * 1000) if ev.ts else ts,
                "type": ev.type,
                "data": ev.data,
            }
            if ev.severity:
                fields["severity"] = ev.severity
            self.outbox.add(device_id, commune, "event", fields)
        self.forwarder.notify()

    def heartbeat(self) -> None:
        """The collector's own metrics, buffered like any reading."""
        health = self.scheduler.health
        dropped = self.outbox.dropped_pending
        sample = Sample(
            metrics={
                "online": True,
                "devices_watched": float(len(self.watched)),
                "devices_polled": float(
                    health.devices_polled(
                        max(c.interval_s for c in self.checks) * 1.5 if self.checks else 60
                    )
                ),
                "checks_failing": float(len(health.errors)),
                "poll_lag_s": round(health.lag_p99(), 3),
                "buffer_depth": float(self.outbox.depth),
                "buffer_bytes": float(self.outbox.bytes),
                "buffer_dropped": float(self.outbox.counter("dropped")),
                "push_errors": float(health.push_errors),
                "receiver_refused": float(self.receiver.refused if self.receiver else 0),
            }
        )
        if dropped:
            self.outbox.dropped_pending = 0
            sample.events.append(EventOut("buffer_dropped", "warning", {"count": dropped}))
        ident = (__version__, self.inventory_hash)
        if ident != self._reported:  # the fleet view: which version, which inventory
            # Stamped with the process's start (when this version began running): the
            # heartbeat's own time stays unique to its reading.
            data = {"version": ident[0], "inventory_hash": ident[1]}
            sample.events.append(EventOut("collector_version", "info", data, ts=self.started))
            self._reported = ident
        self.store(self.me.id, self.me.commune, sample)

    def push_context(self) -> PushContext:
        """What the push routes get: the scheduler as their sink, the checks, the secrets."""
        return PushContext(self.scheduler, self.checks, self.settings, self.secrets)

    async def serve_pushes(self, ready: asyncio.Future[int] | None = None) -> None:
        """Serve the receiver's routes (webhooks, alarm-host pushes) until cancelled."""
        self.receiver = build(self.push_context())
        await serve(self.receiver, self.settings, ready)

    async def _heartbeats(self) -> None:
        while True:
            self.outbox.expire()
            self.heartbeat()
            await asyncio.sleep(self.settings.heartbeat_s)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set (or SIGTERM/SIGINT)."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop.set)
        if any(c.name == "ping" for c in self.checks):
            log.info("ICMP: %s", icmp_mode())
        log.info(
            "collector %s: %d device(s), %d check(s); %d buffered row(s)",
            self.me.id,
            len(self.watched),
            len(self.checks),
            self.outbox.depth,
        )
        self.forwarder.start()
        tasks: list[asyncio.Task[Any]] = [
            asyncio.create_task(self.scheduler.run(), name="scheduler"),
            asyncio.create_task(self.forwarder.run(), name="forwarder"),
            asyncio.create_task(self._heartbeats(), name="heartbeat"),
        ]
        if self.settings.webhook_port is not None:
            tasks.append(asyncio.create_task(self.serve_pushes(), name="webhooks"))
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([*tasks, waiter], return_when=asyncio.FIRST_COMPLETED)
        log.info("collector %s stopping", self.me.id)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        log.info("collector %s: polling stopped", self.me.id)
        self.closed = True
        self.forwarder.stop()
        self.outbox.close()
        for task in done:
            error = None if task is waiter else task.exception()
            if error is not None:
                raise error
