"""The IOC wall: device counts, open incidents, availability today."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel

from api.models.common import Timestamp


class TypeCounts(BaseModel):
    """Devices of one type per reachability state."""

    type: str
    total: int
    online: int
    stale: int
    offline: int
    unreachable: int
    unknown: int


class SeverityCounts(BaseModel):
    """Open (firing, not suppressed) incidents of one severity."""

    severity: str
    open: int
    unacknowledged: int
    suppressed: int


class TypeAvailability(BaseModel):
    """Share of time devices of one type were up today (unreachable time excluded)."""

    type: str
    percent: float | None
    up_s: float
    down_s: float


class Availability(BaseModel):
    """Availability so far today (local day of the IOC)."""

    day: date
    source: Literal["availability_daily", "reachability_changes"]
    percent: float | None
    by_type: list[TypeAvailability]


class OverviewPublic(BaseModel):
    """What the IOC wall shows for one commune or all visible communes."""

    commune: str | None
    generated_at: Timestamp
    devices: int
    by_type: list[TypeCounts]
    open_incidents: int
    by_severity: list[SeverityCounts]
    availability_today: Availability
