"""The published JSON Schema of device payloads, generated from the contract's models.

``python -m ioc.payload_schema > docs/payload.schema.json`` regenerates the committed file; a
test checks that the committed file equals this output.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic.json_schema import models_json_schema

from ioc import contract
from ioc.contract import TOPIC_ROOT, Batch, Event, Reading, Status

# Published names of the models (the docs speak of telemetry, not readings).
NAMES = {"Reading": "Telemetry", "Batch": "TelemetryBatch", "Event": "Event", "Status": "Status"}

DESCRIPTION = (
    "JSON payloads, UTF-8. Publish with QoS 1. Which schema applies depends on the topic's "
    "channel: `telemetry` → Telemetry or TelemetryBatch, `event` → Event, `status` → Status (or "
    "the plain text `online` / `offline`, which is not JSON). Numbers must be finite: NaN and "
    "Infinity are rejected. Metric names and event types come from the device catalogue "
    "(docs/device-integration.md). Unknown fields are rejected."
)

# The shared parts the models refer to (ioc.contract's Timestamp, Seq and MetricValue). The
# decoder checks the timestamp's text form and range itself (ingest/decode.py).
SHARED: dict[str, Any] = {
    "Timestamp": {
        "description": "When the reading was taken, by the device's clock: RFC 3339 date-time "
        "WITH an offset (e.g. 2026-06-01T18:59:00+07:00 or 2026-06-01T11:59:00Z), or integer "
        "milliseconds since the Unix epoch. Not more than 5 minutes ahead of the server "
        "(IOC_INGEST_MAX_FUTURE_S) and not older than the raw retention "
        "(IOC_RAW_RETENTION_DAYS, 30 days).",
        "oneOf": [
            {
                "type": "string",
                "format": "date-time",
                "pattern": r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
            },
            {"type": "integer", "minimum": 0, "maximum": 253402300799999},
        ],
    },
    "Seq": {
        "description": "Per-device message counter, +1 for every message (reset to 0 on reboot "
        "is fine). Gaps are counted per device.",
        "type": "integer",
        "minimum": 0,
        "maximum": 2**63 - 1,
    },
    "MetricValue": {
        "description": "A finite number; `true`/`false` (or 0/1) for bool metrics; the label "
        '(e.g. "normal") for enum metrics.',
        "oneOf": [{"type": "number"}, {"type": "boolean"}, {"type": "string", "maxLength": 64}],
    },
}


def _tidy(node: Any) -> Any:
    """Published names in refs, one-line descriptions, no pydantic-generated titles."""
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    if contract.SHARED in node:
        return {"$ref": f"#/$defs/{node[contract.SHARED]}"}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "$ref":
            name = value.rsplit("/", 1)[1]
            value = f"#/$defs/{NAMES.get(name, name)}"
        elif key == "description":
            value = re.sub(r"\s+", " ", value).strip()
        out[key] = _tidy(value)
    return out


def payload_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of every device payload, as published in the docs."""
    models = (Reading, Batch, Event, Status)
    _, generated = models_json_schema([(model, "validation") for model in models])
    defs = {NAMES[name]: body for name, body in generated["$defs"].items()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://ioc.example.vn/schemas/ioc-v1-payload.json",
        "title": f"Commune IOC device payloads (topic {TOPIC_ROOT}/{{commune}}/{{device}}/{{channel}})",
        "description": DESCRIPTION,
        "oneOf": [{"$ref": f"#/$defs/{NAMES[m.__name__]}"} for m in models],
        "$defs": _tidy(SHARED | defs),
    }


def render() -> str:
    """The committed file's text."""
    return json.dumps(payload_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
