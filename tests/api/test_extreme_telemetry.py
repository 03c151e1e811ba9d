"""One extreme stored point (written before ingest bounded values) costs no telemetry read."""

from __future__ import annotations

from datetime import timedelta

import pytest


@pytest.mark.parametrize("step", [60, 1800, 7200])  # raw, telemetry_5m, telemetry_1h
def test_telemetry_reads_past_an_extreme_row(client, world, as_user, db, step):
    db.execute(
        "INSERT INTO telemetry_points (time, value, device_key, metric_id) "
        "SELECT %(t)s - make_interval(secs => g), 1.7e308, d.key, m.id "
        "FROM generate_series(1, 4) g, devices d, metrics m "
        "WHERE d.id = 'a-cam-1' AND m.name = 'fps'",
        {"t": world.now},
    )
    params = {
        "metric": "fps",
        "from": (world.now - timedelta(hours=2 if step == 60 else 48)).isoformat(),
        "to": (world.now + timedelta(minutes=1)).isoformat(),
        "step": step,
    }
    r = client.get("/api/v1/devices/a-cam-1/telemetry", params=params, headers=as_user("operator"))
    assert r.status_code == 200, r.text
    points = r.json()["series"][0]["points"]
    assert max(p["max"] for p in points) == 1.7e308
    assert max(p["avg"] for p in points) <= 1e15  # clamped, as the rollups do
