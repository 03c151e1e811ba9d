"""Wire models of the payload contract (docs/payload.schema.json is the published form)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

WIRE = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

# A timestamp: RFC 3339 text with an offset, or integer epoch milliseconds.
Timestamp = StrictInt | StrictStr
# A metric value: a number, a boolean, or an enum label.
MetricValue = StrictBool | float | StrictStr


class Reading(BaseModel):
    """One timestamped set of metric values."""

    model_config = WIRE
    ts: Timestamp
    seq: StrictInt = Field(ge=0, le=2**63 - 1)
    metrics: dict[str, MetricValue] = Field(min_length=1, max_length=200)


class Batch(BaseModel):
    """Readings a device buffered while it could not publish."""

    model_config = WIRE
    readings: list[Reading] = Field(min_length=1, max_length=1000)


class Event(BaseModel):
    """Something that happened on the device at one moment."""

    model_config = WIRE
    ts: Timestamp
    seq: StrictInt = Field(ge=0, le=2**63 - 1)
    type: StrictStr = Field(min_length=1, max_length=64)
    severity: Literal["info", "warning", "critical"] | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class Status(BaseModel):
    """JSON form of the retained status (plain `online` / `offline` text is also accepted)."""

    model_config = WIRE
    state: Literal["online", "offline"]
    ts: Timestamp | None = None
