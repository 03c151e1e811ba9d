"""The published contract (docs) agrees with the decoder: examples decode, reasons documented."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from ingest.decode import Decoded, decode
from ingest.reasons import Reason
from tests.ingest.test_decode import VIEW

DOCS = Path(__file__).resolve().parents[2] / "docs"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_json_examples_of_the_integration_guide_decode() -> None:
    text = (DOCS / "device-integration.md").read_text()
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", text, re.S)]
    assert len(blocks) >= 3
    for block in blocks:
        channel = "event" if "type" in block else "telemetry"
        device = "spk-1" if channel == "event" or "readings" in block else "cam-1"
        result = decode(f"ioc/v1/21025/{device}/{channel}", json.dumps(block).encode(), NOW, VIEW)
        assert isinstance(result, Decoded), (block, result)


def test_every_reason_is_documented_and_schema_is_valid_json() -> None:
    text = (DOCS / "device-integration.md").read_text()
    for reason in Reason:
        assert f"| `{reason.value}` |" in text, reason
    schema = json.loads((DOCS / "payload.schema.json").read_text())
    assert set(schema["$defs"]) >= {"Telemetry", "TelemetryBatch", "Event", "Status"}
