"""An extreme stored value (from before ingest bounded values) cannot stop the rollups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from storage import rollups
from tests.storage.conftest import materialized, metric_id, storage_setup, timescale, write_points

pytestmark = pytest.mark.usefixtures("registry")

SETTINGS = storage_setup(retention={"raw_days": 30}, rollup={"lag_s": 0, "batch_hours": 1})
BASE = (datetime.now(UTC) - timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)


def test_rollups_survive_an_extreme_row(db: psycopg.Connection, registry: dict[str, int]) -> None:
    fps = metric_id(db, "fps")
    normal, extreme = sorted(registry.values())[:2]
    rows = []
    for i in range(10):
        t = BASE + timedelta(seconds=30 * i + 1)
        rows.append((t, 25.0, normal, fps))
        rows.append((t, 1.7e308, extreme, fps))  # avg() of two of these overflows float8
    write_points(db, rows)
    result = rollups.refresh(db, SETTINGS, now=BASE + timedelta(hours=1, minutes=5))
    if not timescale(db):  # TimescaleDB: the continuous aggregate's avg is clamped the same way
        assert result.new_5m == 2  # one bucket per device
    table = materialized(db, "5m")
    avg = db.execute(
        f"SELECT avg FROM {table} WHERE device_key = %s ORDER BY bucket LIMIT 1", (normal,)
    ).fetchone()
    assert avg == (25.0,)
