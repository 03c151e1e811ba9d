"""Rollups equal aggregates computed from raw data: fresh, late, duplicate, after downtime.

Both paths: plain rollup tables, or TimescaleDB continuous aggregates (their materialized rows
are compared the same way).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from storage import rollups
from tests.storage.conftest import materialized, metric_id, storage_setup, timescale, write_points
from tests.util import wait_until

pytestmark = pytest.mark.usefixtures("registry")

SETTINGS = storage_setup(retention={"raw_days": 30}, rollup={"lag_s": 0, "batch_hours": 1})
RAW_5M = """
SELECT date_bin(interval '5 minutes', time, timestamptz '2000-01-01 00:00+00'), device_key,
       metric_id, min(value), max(value), avg(value), (array_agg(value ORDER BY time DESC))[1],
       count(*)
FROM telemetry_points WHERE time < %(hi)s GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""
RAW_1H = """
SELECT date_bin(interval '1 hour', time, timestamptz '2000-01-01 00:00+00'), device_key,
       metric_id, min(value), max(value), avg(value), (array_agg(value ORDER BY time DESC))[1],
       count(*)
FROM telemetry_points WHERE time < %(hi)s GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""
TABLE = """
SELECT bucket, device_key, metric_id, min, max, avg, last, count FROM {}
WHERE bucket < %(hi)s ORDER BY 1, 2, 3
"""
VIEW_5M = """
SELECT r.bucket, d.key, m.id, r.min, r.max, r.avg, r.last, r.count
FROM telemetry_5m r JOIN devices d ON d.id = r.device_id JOIN metrics m ON m.name = r.metric
ORDER BY 1, 2, 3
"""
BASE = (datetime.now(UTC) - timedelta(days=2)).replace(hour=0, minute=0, second=0, microsecond=0)


def _close(a: list[tuple], b: list[tuple]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x[:3] == y[:3]
        assert x[3:] == pytest.approx(y[3:], rel=1e-9)


def _points(keys: dict[str, int], fps: int, start: datetime, minutes: int, step_s: int = 60):
    for i in range(minutes * 60 // step_s):
        t = start + timedelta(seconds=i * step_s + 7)
        for n, key in enumerate(sorted(keys.values())):
            yield (t, float((i * 7 + n * 3) % 25), key, fps)


def _check(db: psycopg.Connection, upto: datetime) -> None:
    hi = {"hi": upto}
    _close(
        db.execute(TABLE.format(materialized(db, "5m")), hi).fetchall(),
        db.execute(RAW_5M, hi).fetchall(),
    )
    _close(
        db.execute(
            TABLE.format(materialized(db, "1h")), {"hi": rollups.floor_to(upto, rollups.STEP["1h"])}
        ).fetchall(),
        db.execute(RAW_1H, {"hi": rollups.floor_to(upto, rollups.STEP["1h"])}).fetchall(),
    )


def test_rollups_equal_raw_aggregates_and_view_includes_tail(
    db: psycopg.Connection, registry: dict[str, int]
) -> None:
    fps = metric_id(db, "fps")
    write_points(db, _points(registry, fps, BASE, 180))
    now = BASE + timedelta(hours=2, minutes=2)
    result = rollups.refresh(db, SETTINGS, now=now)
    assert result.done_5m == BASE + timedelta(hours=2)
    assert result.done_1h == BASE + timedelta(hours=2)
    _check(db, result.done_5m)
    # The view = materialized rows + the tail aggregated from raw, so it equals raw everywhere.
    everything = datetime.now(UTC) + timedelta(days=1)
    _close(db.execute(VIEW_5M).fetchall(), db.execute(RAW_5M, {"hi": everything}).fetchall())
    count = db.execute("SELECT count(*) FROM telemetry_1h").fetchone()
    assert count == (3 * len(registry),)


def test_late_duplicate_updated_and_deleted_points_are_reaggregated(
    db: psycopg.Connection, registry: dict[str, int]
) -> None:
    fps = metric_id(db, "fps")
    write_points(db, _points(registry, fps, BASE, 180))
    now = BASE + timedelta(hours=3)
    rollups.refresh(db, SETTINGS, now=now)
    cam = registry["cam1"]
    # late: a reading in an already materialized bucket
    write_points(db, [(BASE + timedelta(minutes=12, seconds=31), 99.0, cam, fps)])
    # duplicate: redelivery changes nothing
    db.execute(
        "INSERT INTO telemetry_points (time, value, device_key, metric_id) "
        "VALUES (%s, 1.0, %s, %s) ON CONFLICT DO NOTHING",
        (BASE + timedelta(seconds=7), cam, fps),
    )
    # corrected value (upsert) and deleted point in other old buckets
    db.execute(
        "INSERT INTO telemetry_points (time, value, device_key, metric_id) VALUES (%s, -5, %s, %s) "
        "ON CONFLICT (device_key, metric_id, time) DO UPDATE SET value = excluded.value",
        (BASE + timedelta(minutes=70, seconds=7), cam, fps),
    )
    db.execute(
        "DELETE FROM telemetry_points WHERE device_key = %s AND time = %s",
        (registry["spk"], BASE + timedelta(minutes=130, seconds=7)),
    )
    plain = not timescale(db)
    if plain:  # TimescaleDB keeps its own invalidation log
        dirty = db.execute("SELECT count(*) FROM storage_rollup_dirty").fetchone()
        assert dirty == (3,)
    result = rollups.refresh(db, SETTINGS, now=now)
    if plain:
        assert result.dirty_5m == 3
        assert result.dirty_1h == 3
    _check(db, now)
    assert db.execute("SELECT count(*) FROM storage_rollup_dirty").fetchone() == (0,)


def test_catches_up_after_downtime_in_batches(
    db: psycopg.Connection, registry: dict[str, int]
) -> None:
    fps = metric_id(db, "fps")
    write_points(db, _points(registry, fps, BASE, 60))
    rollups.refresh(db, SETTINGS, now=BASE + timedelta(hours=1))
    # the job is down for 5 hours while data keeps arriving
    write_points(db, _points(registry, fps, BASE + timedelta(hours=1), 300))
    now = BASE + timedelta(hours=6)
    result = rollups.refresh(db, SETTINGS, now=now)
    _check(db, now)
    again = rollups.refresh(db, SETTINGS, now=now)
    _check(db, now)
    if not timescale(db):  # plain: counted batches (TimescaleDB refreshes what is invalid)
        assert result.new_5m == 60 * len(registry)
        assert (again.new_5m, again.dirty_5m, again.new_1h, again.dirty_1h) == (0, 0, 0, 0)


def test_second_refresher_skips(db: psycopg.Connection, db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (rollups.JOB_LOCK,))
        assert rollups.refresh(db, SETTINGS).skipped


def test_writer_in_flight_during_threshold_move_is_not_lost(
    db: psycopg.Connection, db_url: str, registry: dict[str, int]
) -> None:
    fps = metric_id(db, "fps")
    write_points(db, _points(registry, fps, BASE, 60))
    rollups.refresh(db, SETTINGS, now=BASE + timedelta(minutes=30))
    writer = psycopg.connect(db_url)
    # an uncommitted write into a bucket the next refresh is about to materialize
    write_points(writer, [(BASE + timedelta(minutes=40, seconds=1), 77.0, registry["cam2"], fps)])
    done = threading.Event()

    def refresh_in_thread() -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            rollups.refresh(conn, SETTINGS, now=BASE + timedelta(hours=1))
        done.set()

    thread = threading.Thread(target=refresh_in_thread)
    thread.start()
    # Plain: the refresh waits for the writer's shared advisory lock. TimescaleDB may go on
    # (its invalidation log catches the row at commit) or wait for the writer's lock.
    wait_until(
        lambda: (
            done.is_set()
            or db.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone() != (0,)
        ),
        message="refresh finished or waiting for the in-flight writer",
    )
    if not timescale(db):
        assert not done.is_set()
    writer.commit()
    writer.close()
    thread.join(timeout=30)
    assert done.is_set()
    rollups.refresh(db, SETTINGS, now=BASE + timedelta(hours=1))
    _check(db, BASE + timedelta(hours=1))


@pytest.mark.timescaledb
def test_timescale_continuous_aggregates_equal_raw(
    db: psycopg.Connection, registry: dict[str, int]
) -> None:
    if db.execute("SELECT ioc_timescaledb()").fetchone() != (True,):
        pytest.skip("TimescaleDB extension not installed on this server (plain PostgreSQL path)")
    fps = metric_id(db, "fps")
    write_points(db, _points(registry, fps, BASE, 180))
    result = rollups.refresh(db, SETTINGS, now=BASE + timedelta(hours=3))
    assert result.done_5m == BASE + timedelta(hours=3)
    everything = datetime.now(UTC) + timedelta(days=1)
    _close(db.execute(VIEW_5M).fetchall(), db.execute(RAW_5M, {"hi": everything}).fetchall())
    late = (BASE + timedelta(minutes=12, seconds=31), 99.0, registry["cam1"], fps)
    write_points(db, [late])
    rollups.refresh(db, SETTINGS, now=BASE + timedelta(hours=3))
    _close(db.execute(VIEW_5M).fetchall(), db.execute(RAW_5M, {"hi": everything}).fetchall())
