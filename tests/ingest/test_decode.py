"""Unit tests of the pure decoder, and a bounded fuzzing pass (no crash, always a reason)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.catalogue import all_metrics
from ingest.decode import Decoded, Limits, decode
from ingest.reasons import Reason, Rejected
from ingest.registry import DeviceInfo, build_view
from ioc.contract import parse_topic

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
VIEW = build_view(
    [
        DeviceInfo("cam-1", 1, "camera", "21025"),
        DeviceInfo("spk-1", 2, "speaker", "21025"),
        DeviceInfo("old-1", 3, "camera", "21025", decommissioned=True),
    ],
    {name: i + 1 for i, name in enumerate(all_metrics())},
)
FPS = VIEW.metrics["camera"]["fps"].id
TOPIC = "ioc/v1/21025/cam-1/telemetry"


def run(payload: object, topic: str = TOPIC, limits: Limits = Limits()) -> Decoded | Rejected:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return decode(topic, raw, NOW, VIEW, limits)


def reason(payload: object, topic: str = TOPIC) -> str:
    result = run(payload, topic)
    assert isinstance(result, Rejected), result
    return result.reason.value


def test_single_reading_with_offset_and_epoch_ms() -> None:
    out = run({"ts": "2026-06-01T18:59:00+07:00", "seq": 4, "metrics": {"fps": 25, "online": True}})
    assert isinstance(out, Decoded)
    when = datetime(2026, 6, 1, 11, 59, tzinfo=UTC)
    assert (when, 25.0, 1, FPS) in out.points
    assert out.seen == [(when, 4)]
    epoch = run({"ts": int(when.timestamp() * 1000), "seq": 5, "metrics": {"fps": 1}})
    assert isinstance(epoch, Decoded) and epoch.points[0][0] == when


def test_readings_and_enum_and_bool() -> None:
    out = decode(
        "ioc/v1/21025/spk-1/telemetry",
        json.dumps(
            {
                "readings": [
                    {"ts": "2026-06-01T11:00:00Z", "seq": 1, "metrics": {"state": "emergency"}},
                    {"ts": "2026-06-01T11:01:00Z", "seq": 2, "metrics": {"mains_ok": 0}},
                ]
            }
        ).encode(),
        NOW,
        VIEW,
    )
    assert isinstance(out, Decoded)
    assert [p[1] for p in out.points] == [2.0, 0.0]
    assert len(out.seen) == 2


def test_one_bad_reading_rejects_the_message_and_names_it() -> None:
    result = run(
        {
            "readings": [
                {"ts": "2026-06-01T11:00:00Z", "seq": 1, "metrics": {"fps": 1}},
                {"ts": "2026-06-01T11:01:00Z", "seq": 2, "metrics": {"cpu_pct": 101}},
            ]
        }
    )
    assert isinstance(result, Rejected) and result.reason is Reason.OUT_OF_RANGE
    assert "readings[1]" in result.detail and "cpu_pct" in result.detail


def test_status_plain_takes_arrival_time_and_json_takes_its_own() -> None:
    plain = run(b"offline", "ioc/v1/21025/cam-1/status")
    assert isinstance(plain, Decoded) and plain.status == (False, NOW)
    js = run({"state": "online", "ts": "2026-06-01T11:59:00Z"}, "ioc/v1/21025/cam-1/status")
    assert isinstance(js, Decoded) and js.status == (True, NOW - timedelta(minutes=1))


@pytest.mark.parametrize(
    ("payload", "topic", "expected"),
    [
        ({"ts": 1, "seq": 1, "metrics": {"fps": 1}}, "ioc/v1/21025/cam-1", "bad_topic"),
        ({"ts": 1, "seq": 1, "metrics": {"fps": 1}}, "ioc/v1/21025/cam-1/x", "bad_topic"),
        (
            {"ts": 1, "seq": 1, "metrics": {"fps": 1}},
            "ioc/v1/21025/nope/telemetry",
            "unknown_device",
        ),
        (
            {"ts": 1, "seq": 1, "metrics": {"fps": 1}},
            "ioc/v1/99999/cam-1/telemetry",
            "wrong_commune",
        ),
        (
            {"ts": 1, "seq": 1, "metrics": {"fps": 1}},
            "ioc/v1/21025/old-1/telemetry",
            "decommissioned",
        ),
        (b"\xc3\x28", TOPIC, "invalid_utf8"),
        (b"{", TOPIC, "invalid_json"),
        (b'{"ts": 1780000000000, "seq": 1, "metrics": {"fps": NaN}}', TOPIC, "invalid_number"),
        (
            b'{"ts": 1780000000000, "seq": 1, "metrics": {"fps": -Infinity}}',
            TOPIC,
            "invalid_number",
        ),
        ({"ts": 1, "seq": 1, "metrics": {}}, TOPIC, "schema"),
        ({"ts": 1.5, "seq": 1, "metrics": {"fps": 1}}, TOPIC, "schema"),
        ({"ts": "2026-06-01T11:00:00", "seq": 1, "metrics": {"fps": 1}}, TOPIC, "bad_timestamp"),
        ({"ts": "2026-06-01", "seq": 1, "metrics": {"fps": 1}}, TOPIC, "bad_timestamp"),
        ({"ts": -5, "seq": 1, "metrics": {"fps": 1}}, TOPIC, "bad_timestamp"),
        (
            {"ts": "2026-06-01T13:00:00Z", "seq": 1, "metrics": {"fps": 1}},
            TOPIC,
            "future_timestamp",
        ),
        ({"ts": "2026-01-01T00:00:00Z", "seq": 1, "metrics": {"fps": 1}}, TOPIC, "too_old"),
        (
            {"ts": "2026-06-01T11:00:00Z", "seq": 1, "metrics": {"volume": 3}},
            TOPIC,
            "unknown_metric",
        ),
        ({"ts": "2026-06-01T11:00:00Z", "seq": 1, "metrics": {"fps": -1}}, TOPIC, "out_of_range"),
        ({"ts": "2026-06-01T11:00:00Z", "seq": 1, "metrics": {"fps": True}}, TOPIC, "bad_value"),
        (
            {"ts": "2026-06-01T11:00:00Z", "seq": 1, "metrics": {"online": "yes"}},
            TOPIC,
            "bad_value",
        ),
        (
            {"ts": "2026-06-01T11:00:00Z", "seq": 1, "type": "alien"},
            "ioc/v1/21025/cam-1/event",
            "unknown_event",
        ),
        (
            {"ts": "2026-06-01T11:00:00Z", "seq": 1, "type": "tamper", "severity": "huge"},
            "ioc/v1/21025/cam-1/event",
            "schema",
        ),
        (b'{"state": "online", "ts": "x"}', "ioc/v1/21025/cam-1/status", "bad_timestamp"),
    ],
)
def test_rejections(payload: object, topic: str, expected: str) -> None:
    assert reason(payload, topic) == expected


def test_oversized() -> None:
    result = run(b"x" * 1000, limits=Limits(max_payload_bytes=999))
    assert isinstance(result, Rejected) and result.reason is Reason.OVERSIZED


def test_parse_topic() -> None:
    assert parse_topic("ioc/v1/21025/cam-1/event") == ("21025", "cam-1", "event")
    assert parse_topic("ioc/v1/21025//event") is None
    assert parse_topic("other/v1/21025/cam-1/event") is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
metric_names = st.sampled_from(["fps", "cpu_pct", "online", "stream_up", "disk_status", "x"])


@settings(max_examples=300, deadline=None)
@given(
    topic=st.sampled_from(
        [TOPIC, "ioc/v1/21025/cam-1/event", "ioc/v1/21025/cam-1/status", "ioc/v1/1/cam-1/status"]
    ),
    body=st.one_of(
        st.binary(max_size=64),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.fixed_dictionaries(
            {
                "ts": st.one_of(st.integers(), st.text(max_size=30)),
                "seq": st.integers(),
                "metrics": st.dictionaries(metric_names, json_values, max_size=3),
            }
        ).map(lambda v: json.dumps(v).encode()),
        st.fixed_dictionaries(
            {
                "ts": st.integers(min_value=1780000000000, max_value=1780400000000),
                "seq": st.integers(),
                "type": st.sampled_from(["tamper", "zzz"]),
                "data": json_values,
            }
        ).map(lambda v: json.dumps(v).encode()),
    ),
)
def test_fuzz_never_crashes_and_always_says_why(topic: str, body: bytes) -> None:
    result = decode(topic, body, NOW, VIEW)
    if isinstance(result, Rejected):
        assert result.reason in Reason and result.detail
        assert "undecodable" not in result.detail, result.detail
    else:
        assert all(isinstance(p[1], float) and p[1] == p[1] for p in result.points)
        for ev in result.events:
            json.loads(ev[5])  # storable JSON (no NaN)
