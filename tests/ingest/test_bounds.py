"""Finite extreme values are bounded per metric by the catalogue and quarantined."""

from __future__ import annotations

import psycopg

from devices.catalogue import CATALOGUE, UNBOUNDED_LIMIT
from ingest.service import IngestService
from tests.ingest.conftest import Publisher, count, iso, now_minus
from tests.util import wait_until


def test_every_number_of_the_catalogue_is_bounded() -> None:
    for device_type in CATALOGUE:
        for metric in device_type.metrics:
            low, high = metric.bounds
            assert -UNBOUNDED_LIMIT <= low < high <= UNBOUNDED_LIMIT, (device_type.name, metric)


def test_extreme_values_are_quarantined_and_cost_only_themselves(
    service: IngestService, publisher: Publisher, db: psycopg.Connection
) -> None:
    extremes = [
        ("ts-cam-01", "fps", 1.7e308),
        ("ts-cam-01", "uptime_s", 1e300),
        ("ts-cam-01", "bitrate_kbps", 10**40),  # an integer too large for a float8 sum
        ("ts-cam-01", "fps_configured", -1.7e308),
        ("ts-uplink", "rtt_ms", 1.7976931348623157e308),
        ("ts-spk-01", "data_plan_mb", 5e307),
        ("ts-spk-01", "rsrp_dbm", -1e20),
    ]
    messages: list[tuple[str, object]] = []
    for i, (device, metric, value) in enumerate(extremes):
        ts = iso(now_minus(100 - i))
        messages.append(
            (
                publisher.topic(device),
                f'{{"ts": "{ts}", "seq": {i}, "metrics": {{"{metric}": {value!r}}}}}',
            )
        )
        messages.append(
            (publisher.topic("ts-nvr-01"), {"ts": ts, "seq": i, "metrics": {"cpu_pct": 10 + i}})
        )
    publisher.send_all(messages)  # type: ignore[arg-type]
    wait_until(
        lambda: count(db, "SELECT count(*) FROM quarantine") == len(extremes),
        10,
        message="every extreme value quarantined",
    )
    wait_until(
        lambda: count(db, "SELECT count(*) FROM telemetry_points") == len(extremes),
        10,
        message="the valid readings written",
    )
    reasons = {r[0] for r in db.execute("SELECT reason FROM quarantine").fetchall()}
    assert reasons == {"out_of_range"}, reasons
    assert count(db, "SELECT count(*) FROM telemetry_points WHERE abs(value) > 1e12") == 0
    # aggregation over everything stored cannot overflow
    db.execute("SELECT avg(value), sum(value), stddev(value) FROM telemetry_points").fetchone()
