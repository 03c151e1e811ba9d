"""The registry as ingest sees it: devices and the metrics/events of their types, cached."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import psycopg

from devices.catalogue import CATALOGUE

SELECT_DEVICES = """
SELECT id, key, type, commune_code, decommissioned_at IS NOT NULL FROM devices
"""
SELECT_DEVICE = SELECT_DEVICES + " WHERE id = %(id)s"
SELECT_METRICS = "SELECT name, id FROM metrics"


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What ingest needs to know about one device."""

    id: str
    key: int
    type: str
    commune: str
    decommissioned: bool = False


@dataclass(frozen=True, slots=True)
class MetricInfo:
    """A metric of a device type with its database id and validation rules."""

    id: int
    name: str
    kind: str
    enum_index: dict[str, int] = field(default_factory=dict)
    min: float | None = None
    max: float | None = None
    numeric: bool = field(init=False)  # a gauge or counter: any number in [lo, hi]
    lo: float = field(init=False)
    hi: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "numeric", self.kind in ("gauge", "counter"))
        object.__setattr__(self, "lo", -math.inf if self.min is None else self.min)
        object.__setattr__(self, "hi", math.inf if self.max is None else self.max)


@dataclass(frozen=True)
class RegistryView:
    """An immutable snapshot: devices by id, metrics and event types by device type."""

    devices: dict[str, DeviceInfo]
    metrics: dict[str, dict[str, MetricInfo]]
    events: dict[str, frozenset[str]]


def build_view(devices: list[DeviceInfo], metric_ids: dict[str, int]) -> RegistryView:
    """Combine registry rows and metric ids with the catalogue's rules."""
    metrics: dict[str, dict[str, MetricInfo]] = {}
    for device_type in CATALOGUE:
        metrics[device_type.name] = {
            m.name: MetricInfo(
                id=metric_ids[m.name],
                name=m.name,
                kind=m.kind,
                enum_index={label: i for i, label in enumerate(m.enum_values)},
                min=m.bounds[0],
                max=m.bounds[1],
            )
            for m in device_type.metrics
            if m.name in metric_ids
        }
    events = {t.name: frozenset(t.events) for t in CATALOGUE}
    return RegistryView({d.id: d for d in devices}, metrics, events)


def load_view(conn: psycopg.Connection) -> RegistryView:
    """Read the registry and metric ids from the database."""
    devices = [DeviceInfo(*row) for row in conn.execute(SELECT_DEVICES).fetchall()]
    metric_ids: dict[str, int] = dict(conn.execute(SELECT_METRICS).fetchall())
    conn.rollback()
    return build_view(devices, metric_ids)


def load_device(conn: psycopg.Connection, device_id: str) -> DeviceInfo | None:
    """Read one device (a device imported since the last full load), or None."""
    row = conn.execute(SELECT_DEVICE, {"id": device_id}).fetchone()
    conn.rollback()
    return DeviceInfo(*row) if row else None
