"""Least-privilege roles: ingest writes through the late-data trigger, Grafana reads the views."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from storage import rollups
from storage.settings import StorageSettings
from tests.storage.conftest import metric_id


def test_ingest_role_logs_late_rows_and_grafana_reads_views(
    db: psycopg.Connection, registry: dict[str, int]
) -> None:
    fps = metric_id(db, "fps")
    now = datetime.now(UTC)
    rollups.refresh(
        db, StorageSettings(rollup_lag_s=0, retention_raw_days=30), now=now
    )  # arms the threshold
    db.execute("SET ROLE ioc_ingest")
    db.execute(
        "INSERT INTO telemetry_points (time, value, device_key, metric_id) VALUES (%s, 1, %s, %s)",
        (now - timedelta(hours=1), registry["cam1"], fps),
    )
    db.execute("RESET ROLE")
    assert db.execute("SELECT count(*) FROM storage_rollup_dirty").fetchone() == (1,)
    rollups.refresh(
        db, StorageSettings(rollup_lag_s=0, retention_raw_days=30), now=now
    )  # late rows show after it
    db.execute("SET ROLE ioc_grafana")
    try:
        for view in ("telemetry_5m", "telemetry_1h", "availability_daily"):
            db.execute(f"SELECT * FROM {view} LIMIT 1").fetchall()
        row = db.execute("SELECT count(*) FROM telemetry_5m WHERE device_id = 'cam1'").fetchone()
        assert row == (1,)
    finally:
        db.execute("RESET ROLE")
