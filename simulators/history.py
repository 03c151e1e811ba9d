"""Replay the simulation without a broker: the messages a fleet would publish, in order.

Other areas (storage, grafana, demo) seed databases "by the simulator" with this; the
signature is stable.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from devices.registry import Registry
from simulators.clock import to_datetime
from simulators.world import World

STEP = 3600.0


def messages(
    registry: Registry,
    start: datetime,
    end: datetime,
    seed: int = 0,
    *,
    random_faults: bool = True,
    fault_rate: float = 1.0,
) -> Iterator[tuple[str, bytes, datetime]]:
    """Yield ``(topic, payload, ts)`` for every message of ``[start, end)`` in time order.

    Status messages (``online`` births, ``offline`` last wills) are included as the broker
    would deliver them; ``ts`` is the simulated time the message was sent.
    """
    world = World(
        registry, seed, start.timestamp(), random_faults=random_faults, fault_rate=fault_rate
    )
    yield from replay(world, end.timestamp())


def replay(world: World, end: float) -> Iterator[tuple[str, bytes, datetime]]:
    """Run an existing world up to ``end`` (epoch seconds), yielding its messages."""
    t = world.now
    while t < end:
        t = min(t + STEP, end)
        for message in world.advance(t - 1e-9 if t == end else t):
            yield message.topic, message.payload, to_datetime(message.t)
