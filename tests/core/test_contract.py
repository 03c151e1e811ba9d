"""The MQTT contract: the published schema is generated from the models and agrees with them."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from ioc.contract import Batch, Event, Reading, Status, device_topic, encode, parse_topic
from ioc.payload_schema import render

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "payload.schema.json"


def test_committed_schema_is_the_generated_one() -> None:
    assert SCHEMA.read_text() == render(), (
        "docs/payload.schema.json is stale: python -m ioc.payload_schema > docs/payload.schema.json"
    )


@pytest.mark.parametrize(
    "message",
    [
        Reading(ts="2026-06-01T11:59:00Z", seq=1, metrics={"fps": 25.0, "recording": True}),
        Batch(readings=[Reading(ts=1780315140000, seq=2, metrics={"mode": "normal"})]),
        Event(ts="2026-06-01T18:59:00+07:00", seq=3, type="tamper", severity="critical"),
        Status(state="offline"),
    ],
)
def test_model_output_validates_against_the_schema(message: object) -> None:
    jsonschema.validate(json.loads(encode(message)), json.loads(SCHEMA.read_text()))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body", [{"ts": 1, "seq": -1, "metrics": {"x": 1}}, {"ts": 1, "seq": 1, "metrics": {}, "x": 1}]
)
def test_schema_refuses_what_the_models_refuse(body: dict[str, object]) -> None:
    schema = json.loads(SCHEMA.read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(body, schema)


def test_topic_round_trip() -> None:
    topic = device_topic("21025", "cam-1", "event")
    assert parse_topic(topic) == ("21025", "cam-1", "event")
