"""Shared fixtures of the simulator tests: the demo registry and a small world runner."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devices.registry import Registry, load_file
from simulators.device import Message
from simulators.world import World

DEMO = Path(__file__).resolve().parents[2] / "devices" / "data" / "demo_commune.yaml"
# A Monday 09:00 in Vietnam (02:00 UTC): office hours, daylight.
START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC).timestamp()
WorldFactory = Callable[..., World]


@pytest.fixture(scope="session")
def demo() -> Registry:
    """The demo commune registry (102 devices)."""
    return load_file(DEMO)


def body(message: Message) -> dict[str, Any]:
    """The JSON body of a telemetry/event/readings message."""
    return json.loads(message.payload)


def metrics_of(messages: list[Message], device: str) -> list[dict[str, Any]]:
    """Metrics of a device's live telemetry reports, in order."""
    return [body(m)["metrics"] for m in messages if m.device == device and m.kind == "telemetry"]


def events_of(
    messages: list[Message], device: str, kind: str | None = None
) -> list[dict[str, Any]]:
    """A device's events (optionally of one type)."""
    found = [body(m) for m in messages if m.device == device and m.kind == "event"]
    return [e for e in found if kind is None or e["type"] == kind]


@pytest.fixture
def world(demo: Registry) -> WorldFactory:
    """Factory of demo worlds without random faults (faults come from the test)."""

    def make(seed: int = 1, start: float = START, **kw: Any) -> World:
        kw.setdefault("random_faults", False)
        return World(demo, seed, start, **kw)

    return make
