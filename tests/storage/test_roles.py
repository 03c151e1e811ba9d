"""Least-privilege roles: ingest writes late rows that reach the rollups, Grafana reads the views.

Plain: the late row goes through the late-data trigger into the dirty log. TimescaleDB: it
goes into a compressed chunk (as ingest writes: staged, then INSERT ... ON CONFLICT DO NOTHING).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from storage import policies, rollups
from tests.storage.conftest import metric_id, run_jobs, storage_setup, timescale, write_points

SETTINGS = storage_setup(rollup={"lag_s": 0}, retention={"raw_days": 30})
COMPRESSED = """
SELECT count(*) FROM timescaledb_information.chunks
WHERE hypertable_name = 'telemetry_points' AND is_compressed
"""
INSERT_AS_INGEST = """
INSERT INTO telemetry_points (time, value, device_key, metric_id)
SELECT * FROM (VALUES (%(time)s::timestamptz, 1::float8, %(key)s::int, %(metric)s::smallint)) v
ON CONFLICT DO NOTHING
"""


def test_ingest_role_writes_late_rows_and_grafana_reads_views(
    db: psycopg.Connection, registry: dict[str, int]
) -> None:
    fps = metric_id(db, "fps")
    now = datetime.now(UTC)
    late = now - timedelta(hours=1)
    if timescale(db):
        late = now - timedelta(days=3)
        write_points(db, [(late - timedelta(minutes=1), 2.0, registry["cam2"], fps)])
        policies.apply_timescale_policies(db, SETTINGS)
        run_jobs(db, "policy_compression")
        assert db.execute(COMPRESSED).fetchone() == (1,)
    rollups.refresh(db, SETTINGS, now=now)  # arms the threshold
    db.execute("SET ROLE ioc_ingest")
    params = {"time": late, "key": registry["cam1"], "metric": fps}
    db.execute(INSERT_AS_INGEST, params)
    db.execute(INSERT_AS_INGEST, params)  # a redelivery changes nothing
    db.execute("RESET ROLE")
    if not timescale(db):
        assert db.execute("SELECT count(*) FROM storage_rollup_dirty").fetchone() == (1,)
    rollups.refresh(db, SETTINGS, now=now)  # late rows show after it
    db.execute("SET ROLE ioc_grafana")
    try:
        for view in ("telemetry_5m", "telemetry_1h", "availability_daily"):
            db.execute(f"SELECT * FROM {view} LIMIT 1").fetchall()
        row = db.execute(
            "SELECT count(*), sum(count) FROM telemetry_5m WHERE device_id = 'cam1'"
        ).fetchone()
        assert row == (1, 1)
        row = db.execute("SELECT count(*) FROM telemetry WHERE device_id = 'cam1'").fetchone()
        assert row == (1,)
    finally:
        db.execute("RESET ROLE")
