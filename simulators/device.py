"""A simulated device's runtime state and the MQTT messages it produces."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from ioc.contract import Event, Reading, device_prefix
from simulators.models.base import Model

# Types whose devices keep readings while they cannot reach the broker (edge storage,
# router logs) and send them as ``{"readings": [...]}`` once they are back.
BUFFERING_TYPES = frozenset({"camera", "nvr", "link"})
BUFFER_LIMIT = 2880
BACKFILL_CHUNK = 100

MessageKind = Literal["telemetry", "event", "readings", "raw", "connect", "disconnect", "status"]


@dataclass(slots=True)
class Message:
    """One thing a device does on the wire at simulated time ``t``.

    ``connect`` / ``disconnect`` are connection changes: over MQTT they become a birth
    (retained ``online``) or a dropped connection whose last will (retained ``offline``) the
    broker publishes; a pure replay yields them as the status messages the broker would carry.
    """

    t: float
    device: str
    kind: MessageKind
    topic: str
    payload: bytes
    retain: bool = False


@dataclass(eq=False)
class SimDevice:
    """Identity, topology and fault state of one device, plus its behaviour model."""

    id: str
    type: str
    commune: str
    site: str | None
    name: str
    parents: list[str]
    interval: float
    model: Model
    buffers: bool
    children: list[SimDevice] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    params: dict[str, Any] = field(default_factory=dict)
    seq: int = 0
    alive: bool = True
    connected: bool = True
    buffer: list[Reading] = field(default_factory=list)
    pending_events: list[Event] = field(default_factory=list)
    held: Message | None = None

    def __post_init__(self) -> None:
        self.base = device_prefix(self.commune, self.id)
        self.model.faults = self.faults

    def topic(self, channel: str) -> str:
        """``ioc/v1/{commune}/{device}/{channel}``."""
        return self.base + channel

    def next_seq(self) -> int:
        """The next message sequence number."""
        self.seq += 1
        return self.seq

    def add_fault(self, key: str) -> bool:
        """Count one more active fault of ``key``; True if it was not active before."""
        self.faults[key] += 1
        return self.faults[key] == 1

    def remove_fault(self, key: str) -> bool:
        """Count one fewer; True if the fault is no longer active at all."""
        if self.faults[key] <= 1:
            self.faults.pop(key, None)
            return True
        self.faults[key] -= 1
        return False

    def keep(self, reading: Reading) -> None:
        """Buffer a reading while unreachable (oldest dropped past the device's capacity)."""
        self.buffer.append(reading)
        if len(self.buffer) > BUFFER_LIMIT:
            del self.buffer[0]
