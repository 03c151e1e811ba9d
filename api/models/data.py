"""Device state, telemetry series and events."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.models.common import ShownJson, Timestamp


class LatestValue(BaseModel):
    """The newest value of one metric."""

    metric: str
    value: float
    time: Timestamp
    unit: str


class AlertBrief(BaseModel):
    """An open alert in a device's state."""

    id: int
    rule: str
    severity: str
    state: str
    summary: str
    started_at: Timestamp
    suppressed: bool
    acknowledged: bool


class DeviceStatePublic(BaseModel):
    """What a device is doing now."""

    device_id: str
    type: str
    commune_code: str
    state: str
    state_since: Timestamp | None
    health: str = Field(description="healthy, degraded, failed or unknown (see devices).")
    symptom: str | None = None
    root_cause_id: str | None
    online: bool | None
    last_seen: Timestamp | None
    decommissioned_at: Timestamp | None
    latest: list[LatestValue]
    open_alerts: list[AlertBrief]


class Point(BaseModel):
    """One bucket of a downsampled series."""

    time: Timestamp
    avg: float
    min: float
    max: float
    last: float
    count: int


class Series(BaseModel):
    """The points of one metric."""

    metric: str
    unit: str
    points: list[Point]


class TelemetryPublic(BaseModel):
    """Downsampled telemetry of a device."""

    device_id: str
    from_: Timestamp = Field(serialization_alias="from")
    to: Timestamp
    step_s: int
    source: Literal["raw", "telemetry_5m", "telemetry_1h"]
    series: list[Series]


class EventPublic(BaseModel):
    """An event pushed by a device."""

    time: Timestamp
    device_id: str
    seq: int
    type: str
    severity: str | None
    data: ShownJson
    received_at: Timestamp


class EventsPublic(BaseModel):
    """A page of events, newest first."""

    data: list[EventPublic]
    count: int
    limit: int
    offset: int
