"""Quarantine reason codes: the small, documented set every rejected message carries."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Reason(StrEnum):
    """Why a message was quarantined instead of stored (see docs/device-integration.md)."""

    BAD_TOPIC = "bad_topic"  # not ioc/v1/{commune}/{device}/{telemetry|event|status}
    UNKNOWN_DEVICE = "unknown_device"  # device id not in the registry
    WRONG_COMMUNE = "wrong_commune"  # device registered under another commune
    DECOMMISSIONED = "decommissioned"  # device is decommissioned
    OVERSIZED = "oversized"  # payload larger than IOC_INGEST_MAX_PAYLOAD_BYTES
    INVALID_UTF8 = "invalid_utf8"  # payload is not UTF-8
    INVALID_JSON = "invalid_json"  # payload is not JSON
    SCHEMA = "schema"  # JSON of the wrong shape (missing/extra/mistyped fields)
    INVALID_NUMBER = "invalid_number"  # NaN or Infinity
    BAD_TIMESTAMP = "bad_timestamp"  # unparsable or without a timezone offset
    FUTURE_TIMESTAMP = "future_timestamp"  # beyond now + IOC_INGEST_MAX_FUTURE_S
    TOO_OLD = "too_old"  # older than the raw retention (no partition to hold it)
    UNKNOWN_METRIC = "unknown_metric"  # metric not in the catalogue for the device type
    BAD_VALUE = "bad_value"  # value of the wrong kind (text for a gauge, unknown enum label)
    OUT_OF_RANGE = "out_of_range"  # value outside the catalogue's min/max
    UNKNOWN_EVENT = "unknown_event"  # event type not in the catalogue for the device type
    UNDECODABLE = "undecodable"  # judging it raised (e.g. JSON nested too deeply)
    WRITE_FAILED = "write_failed"  # valid, but the database refused it even on its own


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that goes to quarantine: the reason code and a human detail."""

    reason: Reason
    detail: str
    device_id: str | None = None
