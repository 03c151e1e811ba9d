"""Fuzzing the ingest decoder (Hypothesis, bounded): no input crashes it, every rejection has
a documented reason code, and what it accepts is well-formed."""

from __future__ import annotations

import json
import math
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from devices.catalogue import CATALOGUE, all_metrics
from ingest.decode import Decoded, Limits, decode
from ingest.reasons import Reason, Rejected
from ingest.registry import DeviceInfo, RegistryView, build_view

# Bounded so the suite stays fast; raise IOC_FUZZ_EXAMPLES for a longer hunt.
EXAMPLES = int(os.environ.get("IOC_FUZZ_EXAMPLES", "400"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NOW = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)
DEVICES = [DeviceInfo(f"{t.name}-1", i + 1, t.name, "21025") for i, t in enumerate(CATALOGUE)] + [
    DeviceInfo("old-1", 99, "camera", "21025", decommissioned=True)
]
VIEW: RegistryView = build_view(DEVICES, {name: i + 1 for i, name in enumerate(all_metrics())})
METRICS = sorted(all_metrics())
EVENTS = sorted({e for t in CATALOGUE for e in t.events})

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
)
json_any = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
timestamps = st.one_of(
    st.integers(min_value=-(2**64), max_value=2**64),
    st.integers(
        min_value=int((NOW - timedelta(days=40)).timestamp() * 1000),
        max_value=int((NOW + timedelta(days=1)).timestamp() * 1000),
    ),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.datetimes(
        min_value=datetime(2026, 5, 1), max_value=datetime(2026, 6, 2), timezones=st.just(UTC)
    ).map(lambda d: d.isoformat()),
    st.text(max_size=40),
    json_leaf,
)
metric_values = st.one_of(st.booleans(), st.integers(), st.floats(), st.text(max_size=12), json_any)
readings = st.fixed_dictionaries(
    {
        "ts": timestamps,
        "seq": st.one_of(st.integers(min_value=-5, max_value=2**64), json_leaf),
        "metrics": st.dictionaries(
            st.sampled_from(METRICS) | st.text(max_size=12), metric_values, max_size=6
        ),
    },
    optional={"extra": json_any},
)
events = st.fixed_dictionaries(
    {
        "ts": timestamps,
        "seq": st.integers(min_value=-5, max_value=2**64),
        "type": st.sampled_from(EVENTS) | st.text(max_size=10),
    },
    optional={"severity": st.sampled_from(["info", "warning", "critical", "x"]), "data": json_any},
)
CAMERA_METRICS = sorted(m.name for m in CATALOGUE[0].metrics)
recent = st.one_of(
    st.integers(
        min_value=int((NOW - timedelta(days=2)).timestamp() * 1000),
        max_value=int((NOW + timedelta(minutes=4)).timestamp() * 1000),
    ),
    st.datetimes(
        min_value=datetime(2026, 5, 30),
        max_value=datetime(2026, 6, 1, 6, 4),
        timezones=st.timezones(),
    ).map(lambda d: d.isoformat()),
)
plausible = st.fixed_dictionaries(
    {
        "ts": recent,
        "seq": st.integers(min_value=0, max_value=2**40),
        "metrics": st.dictionaries(
            st.sampled_from(CAMERA_METRICS),
            st.one_of(st.floats(), st.integers(), st.booleans(), st.sampled_from(["normal", "x"])),
            min_size=1,
            max_size=4,
        ),
    }
)
structured = st.one_of(
    plausible,
    st.fixed_dictionaries({"readings": st.lists(plausible, min_size=1, max_size=3)}),
    readings,
    st.fixed_dictionaries({"readings": st.lists(readings, max_size=3)}),
    events,
    st.fixed_dictionaries({"state": st.sampled_from(["online", "offline", "?"]), "ts": timestamps}),
    json_any,
)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True, ensure_ascii=False).encode()


payloads = st.one_of(
    structured.map(_dumps),
    st.binary(max_size=300),
    st.sampled_from([b"online", b"offline", b"", b"{", b"null", b"\xff\xfe", b"NaN"]),
    st.text(max_size=80).map(str.encode),
)
topics = st.one_of(
    st.builds(
        "ioc/v1/{}/{}/{}".format,
        st.sampled_from(["21025", "21026", "", "+", "#"]),
        st.sampled_from([d.id for d in DEVICES] + ["nobody", ""]),
        st.sampled_from(["telemetry", "event", "status", "cmd", ""]),
    ),
    st.text(max_size=60),
)
received = st.datetimes(
    min_value=datetime(2026, 5, 1), max_value=datetime(2026, 7, 1), timezones=st.just(UTC)
)


def check(topic: str, payload: bytes, received_at: datetime) -> Decoded | Rejected:
    result = decode(topic, payload, received_at, VIEW, Limits(max_payload_bytes=4096))
    if isinstance(result, Rejected):
        assert isinstance(result.reason, Reason)
        assert result.reason in set(Reason)
        assert isinstance(result.detail, str) and result.detail
        event(f"rejected: {result.reason.value}")
        return result
    event(f"accepted: {result.channel}")
    assert isinstance(result, Decoded)
    commune, device_id, channel = topic.split("/")[2:5]
    assert result.device.id == device_id and result.device.commune == commune
    assert not result.device.decommissioned
    assert result.channel == channel
    for time, value, device_key, metric_id in result.points:
        assert time.tzinfo is not None and math.isfinite(value)
        assert device_key == result.device.key and metric_id >= 1
    for row in result.events:
        assert row[0].tzinfo is not None and row[1] == device_id
        json.loads(row[5])
    return result


@FUZZ
@given(topic=topics, payload=payloads, received_at=received)
def test_decoder_never_crashes_and_always_gives_a_reason(
    topic: str, payload: bytes, received_at: datetime
) -> None:
    check(topic, payload, received_at)


@FUZZ
@given(payload=payloads)
def test_own_device_topics_with_hostile_payloads(payload: bytes) -> None:
    for channel in ("telemetry", "event", "status"):
        check(f"ioc/v1/21025/camera-1/{channel}", payload, NOW)


def test_spoofed_and_decommissioned_topics_are_rejected_with_their_reason() -> None:
    body = _dumps({"ts": NOW.isoformat(), "seq": 1, "metrics": {"fps": 25}})
    cases = {
        "ioc/v1/21026/camera-1/telemetry": Reason.WRONG_COMMUNE,
        "ioc/v1/21025/old-1/telemetry": Reason.DECOMMISSIONED,
        "ioc/v1/21025/nobody/telemetry": Reason.UNKNOWN_DEVICE,
        "ioc/v1/21025/camera-1/cmd": Reason.BAD_TOPIC,
    }
    for topic, reason in cases.items():
        result = decode(topic, body, NOW, VIEW)
        assert isinstance(result, Rejected) and result.reason is reason, topic
    assert isinstance(decode("ioc/v1/21025/camera-1/telemetry", body, NOW, VIEW), Decoded)
