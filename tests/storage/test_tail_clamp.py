"""An extreme stored raw row cannot break reads of the rollup views' real-time tail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from tests.storage.conftest import metric_id, write_points

pytestmark = pytest.mark.usefixtures("registry")

VIEWS = ("telemetry_5m", "telemetry_1h", "telemetry_5m_keys", "telemetry_1h_keys")


@pytest.mark.parametrize("extreme", [1.7e308, -1.7e308, 1e200])
def test_views_read_past_an_extreme_raw_row(
    db: psycopg.Connection, registry: dict[str, int], extreme: float
) -> None:
    # Written directly (no ingest bounds), not materialized: only the tail sees them.
    fps = metric_id(db, "fps")
    normal, odd = registry["cam1"], registry["cam2"]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    rows = []
    for i in range(4):
        t = now - timedelta(seconds=10 * i + 1)
        rows.append((t, 25.0, normal, fps))
        rows.append((t, extreme, odd, fps))  # avg() of two of these overflows float8
    write_points(db, rows)
    for view in VIEWS:
        device = "device_id" if not view.endswith("_keys") else "device_key"
        got = dict(
            db.execute(
                f"SELECT {device}, avg FROM {view} WHERE bucket >= %s - interval '2 hours'",
                (now,),
            ).fetchall()
        )
        key = ("cam1", "cam2") if device == "device_id" else (normal, odd)
        assert got[key[0]] == 25.0, view
        assert abs(got[key[1]]) == 1e15, view  # clamped like the materialized rollups
        minmax = db.execute(
            f"SELECT min, max, last FROM {view} WHERE {device} = %s", (key[1],)
        ).fetchone()
        assert minmax == (extreme, extreme, extreme), view  # only the average is clamped
