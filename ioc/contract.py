"""The MQTT contract: topic layout, channels and payload models, for every producer and consumer.

Devices, the simulators, the collector, ingest, the credential/ACL writers and the published
JSON Schema (docs/payload.schema.json) all derive from this one module.

    ioc/v1/{commune_code}/{device_id}/{channel}     channel: telemetry | event | status
    ioc/system/ingest/{instance}/status              ingest's own retained birth / last will
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, WithJsonSchema

TOPIC_ROOT = "ioc/v1"
SYSTEM_ROOT = "ioc/system"
Channel = Literal["telemetry", "event", "status"]
CHANNELS: tuple[Channel, ...] = ("telemetry", "event", "status")
ONLINE = "online"
OFFLINE = "offline"

WIRE = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

# Marks a shared part in generated JSON Schema; ioc/payload_schema.py turns it into a $ref.
SHARED = "x-ioc-shared"
# The shared parts refer to their definitions in the published schema (ioc/payload_schema.py).
# A timestamp: RFC 3339 text with an offset, or integer epoch milliseconds.
Timestamp = Annotated[StrictInt | StrictStr, WithJsonSchema({SHARED: "Timestamp"})]
# A metric value: a number, a boolean, or an enum label.
MetricValue = Annotated[StrictBool | float | StrictStr, WithJsonSchema({SHARED: "MetricValue"})]
Seq = Annotated[StrictInt, Field(ge=0, le=2**63 - 1), WithJsonSchema({SHARED: "Seq"})]


def device_topic(commune: str, device: str, channel: Channel, root: str = TOPIC_ROOT) -> str:
    """The topic a device publishes ``channel`` on."""
    return f"{root}/{commune}/{device}/{channel}"


def device_prefix(commune: str, device: str, root: str = TOPIC_ROOT) -> str:
    """The topic prefix of one device (ends with ``/``), for ACLs and publishers."""
    return f"{root}/{commune}/{device}/"


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
    """Compact UTF-8 JSON (diacritics kept as they are), optional fields left at default left out."""
    if isinstance(obj, BaseModel):
        obj = obj.model_dump(mode="json", exclude_defaults=True)
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


class Reading(BaseModel):
    """One timestamped set of metric values."""

    model_config = WIRE
    ts: Timestamp
    seq: Seq
    metrics: dict[str, MetricValue] = Field(min_length=1, max_length=200)


class Batch(BaseModel):
    """Readings buffered while the device could not publish (oldest first is customary).

    One bad reading rejects the whole message.
    """

    model_config = WIRE
    readings: list[Reading] = Field(min_length=1, max_length=1000)


class Event(BaseModel):
    """Something that happened on the device at one moment."""

    model_config = WIRE
    ts: Timestamp
    seq: Seq
    type: StrictStr = Field(
        min_length=1, max_length=64, description="An event type of the device's type (catalogue)."
    )
    severity: Literal["info", "warning", "critical"] | None = None
    data: dict[str, Any] = Field(
        default_factory=dict, description="Free-form details (finite numbers only)."
    )


class Status(BaseModel):
    """Retained connection state (the JSON form; plain `online` / `offline` text also works).

    Devices normally publish the plain text `online` as their birth message and register
    `offline` as their last will; both take the broker→ingest arrival time. The JSON form may
    carry the device's own time, and a birth its MQTT keep-alive (the alert engine waits up to
    1.5 x that for the device's will before judging the devices behind it).
    """

    model_config = WIRE
    state: Literal["online", "offline"]
    ts: Timestamp | None = None
    keepalive_s: StrictInt | None = Field(
        None, ge=1, le=65535, description="The MQTT keep-alive the device connected with (s)."
    )
