"""5-minute and hourly rollups outlive raw retention (both paths, through `ioc maintain`).

TimescaleDB: a continuous aggregate refreshed over a range whose raw chunks were dropped is
recomputed from nothing and loses its rows; every refresh window (``ioc maintain`` and the
policies) therefore stays inside raw retention.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from click.testing import CliRunner

from ioc.cli import cli
from storage import policies, retention, rollups
from tests.storage.conftest import (
    materialized,
    metric_id,
    run_jobs,
    storage_setup,
    timescale,
    write_points,
)

SETTINGS = storage_setup(retention={"raw_days": 7}, rollup={"lag_s": 0})
ROLLUP = """
SELECT bucket, device_id, metric, min, max, avg, last, count FROM {view}
WHERE bucket >= %(lo)s AND bucket < %(hi)s ORDER BY 1, 2, 3
"""
ALL_POLICIES = (
    "policy_compression",
    "policy_retention",
    "policy_refresh_continuous_aggregate",
)


def _rollups(db: psycopg.Connection, lo: datetime, hi: datetime) -> dict[str, list[tuple]]:
    return {
        view: db.execute(ROLLUP.format(view=view), {"lo": lo, "hi": hi}).fetchall()
        for view in ("telemetry_5m", "telemetry_1h")
    }


def test_rollups_outlive_raw_retention(
    db: psycopg.Connection,
    db_url: str,
    registry: dict[str, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fps = metric_id(db, "fps")
    now = datetime.now(UTC)
    old = (now - timedelta(days=10)).replace(minute=0, second=0, microsecond=0)
    keys = sorted(registry.values())
    write_points(
        db,
        [
            (old + timedelta(minutes=i, seconds=5), float(i % 17 + n), key, fps)
            for i in range(180)
            for n, key in enumerate(keys)
        ],
    )
    write_points(db, [(now - timedelta(minutes=30), 1.0, key, fps) for key in keys])
    # Rolled up while the old data was recent.
    rollups.refresh(db, SETTINGS, now=old + timedelta(hours=3, minutes=1))
    before = _rollups(db, old, old + timedelta(hours=3))
    assert len(before["telemetry_5m"]) == 36 * len(keys)
    assert len(before["telemetry_1h"]) == 3 * len(keys)

    # Raw retention (7 days) drops the old raw data.
    if timescale(db):
        policies.apply_timescale_policies(db, SETTINGS)
        assert run_jobs(db, "policy_retention")
    else:
        assert retention.run(db, SETTINGS).dropped
    gone = db.execute(
        "SELECT count(*) FROM telemetry_points WHERE time < %s", (now - timedelta(days=8),)
    )
    assert gone.fetchone() == (0,)

    # `ioc maintain` (and, on TimescaleDB, every policy job) runs again afterwards.
    monkeypatch.setenv("IOC_DATABASE_URL", db_url)
    monkeypatch.setenv("IOC_RETENTION_RAW_DAYS", "7")
    monkeypatch.setenv("IOC_ROLLUP_LAG_S", "0")
    result = CliRunner().invoke(cli, ["maintain", "--once"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    if timescale(db):
        assert len(run_jobs(db, *ALL_POLICIES)) == 7
    rollups.refresh(db, SETTINGS)

    after = _rollups(db, old, old + timedelta(hours=3))
    assert after == before
    # The materialized rows themselves are there, not a re-aggregation of raw data.
    for res in ("5m", "1h"):
        row = db.execute(
            f"SELECT count(*) FROM {materialized(db, res)} WHERE bucket < %s",
            (old + timedelta(hours=3),),
        ).fetchone()
        assert row == (len(before[f"telemetry_{res}"]),)
    recent = db.execute(
        "SELECT count(*) FROM telemetry_5m WHERE bucket > %s", (now - timedelta(hours=1),)
    ).fetchone()
    assert recent == (len(keys),)
