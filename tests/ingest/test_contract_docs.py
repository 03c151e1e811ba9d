"""The published contract (docs) agrees with the decoder: examples decode, reasons documented."""

from __future__ import annotations

import json
import re
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from ingest.decode import Decoded, decode
from ingest.reasons import Reason
from ingest.service import IngestService
from tests.ingest.conftest import count, test_settings
from tests.ingest.test_decode import VIEW
from tests.plugins.broker import Mosquitto
from tests.util import wait_until

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


def test_mosquitto_pub_examples_land_within_two_seconds(
    registry: str, own_broker: Mosquitto, db: psycopg.Connection
) -> None:
    text = (DOCS / "device-integration.md").read_text()
    script = re.findall(r"```sh\n(.*?)```", text, re.S)[0]
    assert script.count("mosquitto_pub") == 3
    script = script.replace("-h localhost", f"-h 127.0.0.1 -p {own_broker.port}")
    settings, ingest = test_settings(registry, own_broker.url, topic_prefix="ioc/v1")
    with IngestService(settings, ingest) as service:
        wait_until(service.consumer.connected.is_set, 10, message="connected")
        subprocess.run(["bash", "-ec", script], check=True, timeout=20)
        sent = time.monotonic()
        wait_until(
            lambda: (
                count(db, "SELECT count(*) FROM telemetry WHERE device_id = 'ts-cam-01'") == 3
                and count(db, "SELECT count(*) FROM device_events WHERE device_id = 'ts-cam-01'")
                == 1
                and count(db, "SELECT count(*) FROM device_status WHERE online") == 1
            ),
            2,
            message="the guide's messages stored within 2 s",
        )
        assert time.monotonic() - sent < 2
    assert count(db, "SELECT count(*) FROM quarantine") == 0
    event = db.execute("SELECT data FROM device_events").fetchone()
    assert event == ({"zone": "cổng chính"},)
