"""Issue 23: one device sending distinct invalid payloads fills at most its quarantine budget;
the rest is acknowledged, counted in a metric, and not stored; valid traffic still flows."""

from __future__ import annotations

import psycopg
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.budget import SHARED_FACTOR, QuarantineBudget
from ingest.service import IngestService
from tests.ingest.conftest import Publisher, count, iso, now_minus, test_settings
from tests.util import wait_until


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 20),
    sends=st.lists(st.sampled_from(["a", "b", None]), max_size=300),
)
def test_budget_admits_rows_per_device_per_window(rows: int, sends: list[str | None]) -> None:
    now = [0.0]
    budget = QuarantineBudget(rows, 10.0, clock=lambda: now[0])
    admitted = {"a": 0, "b": 0, None: 0}
    for device in sends:
        admitted[device] += budget.admit(device)
    for device in ("a", "b"):
        assert admitted[device] == min(rows, sends.count(device))
    assert admitted[None] == min(rows * SHARED_FACTOR, sends.count(None))
    now[0] = 10.0  # a new window
    assert budget.admit("a")


def test_budget_tracks_a_bounded_number_of_devices() -> None:
    budget = QuarantineBudget(1, 60.0, max_keys=10)
    assert sum(budget.admit(f"d{i}") for i in range(1000)) <= 10 + SHARED_FACTOR


def test_one_device_cannot_fill_quarantine(
    registry: str, mqtt_url: str, db: psycopg.Connection
) -> None:
    settings_, ingest = test_settings(
        registry, mqtt_url, quarantine_budget=15, quarantine_budget_window_s=3600
    )
    service = IngestService(settings_, ingest).start()
    try:
        wait_until(service.consumer.connected.is_set, 10, message="ingest subscribed")
        pub = Publisher(mqtt_url, ingest.topic_prefix)
        cam = pub.topic("ts-cam-01")
        bad = [(cam, f'{{"ts": 1, "seq": {i}, "garbage_{i}": ') for i in range(200)]
        good = [
            (
                pub.topic("ts-uplink"),
                {"ts": iso(now_minus(60 - i)), "seq": i, "metrics": {"rtt_ms": i}},
            )
            for i in range(20)
        ]
        pub.send_all([m for pair in zip(bad[:20], good, strict=True) for m in pair] + bad[20:])
        wait_until(
            lambda: sum(service.stats.over_budget.values()) == 185,
            15,
            message="over budget counted",
        )
        wait_until(
            lambda: (
                count(db, "SELECT count(*) FROM quarantine WHERE device_id = 'ts-cam-01'") == 15
            ),
            10,
            message="the budget's rows stored",
        )
        wait_until(
            lambda: count(db, "SELECT count(*) FROM telemetry WHERE device_id = 'ts-uplink'") == 20,
            10,
            message="valid traffic stored",
        )
        metric = service.stats.registry.get_sample_value(
            "ioc_ingest_quarantine_over_budget_total", {"reason": "invalid_json"}
        )
        assert metric == 185
        pub.close()
    finally:
        service.stop()
