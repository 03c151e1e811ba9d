"""The MQTT contract: topic layout, channels and payload models, for every producer and consumer.

Devices, the simulators, the collector, ingest, the credential/ACL writers and the published
JSON Schema (docs/payload.schema.json) all derive from this one module.

    ioc/v1/{commune_code}/{device_id}/{channel}     channel: telemetry | event | status
    ioc/system/ingest/{instance}/status              ingest's own retained birth / last will
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

TOPIC_ROOT = "ioc/v1"
SYSTEM_ROOT = "ioc/system"
Channel = Literal["telemetry", "event", "status"]
CHANNELS: tuple[Channel, ...] = ("telemetry", "event", "status")
ONLINE = "online"
OFFLINE = "offline"

WIRE = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

# A timestamp: RFC 3339 text with an offset, or integer epoch milliseconds.
Timestamp = StrictInt | StrictStr
# A metric value: a number, a boolean, or an enum label.
MetricValue = StrictBool | float | StrictStr


def device_topic(commune: str, device: str, channel: Channel, root: str = TOPIC_ROOT) -> str:
    """The topic a device publishes ``channel`` on."""
    return f"{root}/{commune}/{device}/{channel}"


def device_prefix(commune: str, device: str, root: str = TOPIC_ROOT) -> str:
    """The topic prefix of one device (ends with ``/``), for ACLs and publishers."""
    return f"{root}/{commune}/{device}/"


def subscription(root: str = TOPIC_ROOT) -> str:
    """The wildcard filter matching every device topic under ``root``."""
    return f"{root}/+/+/+"


def parse_topic(topic: str, root: str = TOPIC_ROOT) -> tuple[str, str, Channel] | None:
    """Split ``{root}/{commune}/{device}/{channel}`` into its parts, or None."""
    parts = topic[len(root) + 1 :].split("/") if topic.startswith(root + "/") else []
    if len(parts) != 3 or not parts[0] or not parts[1]:
        return None
    for channel in CHANNELS:
        if parts[2] == channel:
            return parts[0], parts[1], channel
    return None


def ingest_status_topic(instance: str) -> str:
    """Retained birth/last-will topic of one ingest instance."""
    return f"{SYSTEM_ROOT}/ingest/{instance}/status"


def encode(obj: BaseModel | dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON (diacritics kept as they are), unset optional fields left out."""
    if isinstance(obj, BaseModel):
        obj = obj.model_dump(mode="json", exclude_none=True)
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


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
