"""Incremental 5-minute and 1-hour rollups (plain PostgreSQL) or cagg refreshes (TimescaleDB).

Plain path, per run: (1) move the 5-minute invalidation threshold forward under an exclusive
advisory lock, which waits for writers still holding the shared lock taken by the
``storage_log_late_points`` trigger; (2) aggregate new raw data from the watermark up to the
threshold, one transaction per batch (so a job that was down catches up); (3) re-aggregate the
(bucket, device) pairs logged as dirty by late, duplicate-updated or deleted rows; (4) the same
for hours, computed from the 5-minute rollups, with dirt propagated by step 3.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

from storage.settings import StorageSetup

log = logging.getLogger(__name__)

THRESHOLD_LOCK = 4242400  # shared by writers (trigger), exclusive while moving the threshold
JOB_LOCK = 4242401  # one refresher at a time
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
STEP = {"5m": timedelta(minutes=5), "1h": timedelta(hours=1)}

IS_TIMESCALE = "SELECT ioc_timescaledb()"
TRY_JOB_LOCK = "SELECT pg_try_advisory_lock(%(key)s)"
UNLOCK_JOB = "SELECT pg_advisory_unlock(%(key)s)"
STATE = "SELECT threshold, done FROM storage_rollup_state WHERE resolution = %(res)s"
MOVE_THRESHOLD = """
UPDATE storage_rollup_state SET threshold = %(target)s
WHERE resolution = %(res)s AND (threshold IS NULL OR threshold < %(target)s)
"""
SET_DONE = """
UPDATE storage_rollup_state SET done = %(done)s, refreshed_at = now() WHERE resolution = %(res)s
"""
RAW_START = "SELECT min(time) FROM telemetry_points"
ROLLUP_5M_START = "SELECT min(bucket) FROM telemetry_rollup_5m"
ENSURE_PARTITIONS = "SELECT storage_ensure_partitions(%(parent)s, %(lo)s, %(hi)s, %(step)s)"

# avg() of float8 overflows (an error for the whole job) on values near 1e154; ingest bounds
# values by the catalogue, and the average is clamped in case an older row is extreme.
AGG_RAW = """
SELECT date_bin(interval '5 minutes', p.time, timestamptz '2000-01-01 00:00+00') AS bucket,
       p.device_key, p.metric_id, min(p.value), max(p.value), avg(least(greatest(p.value, -1e15), 1e15)),
       (array_agg(p.value ORDER BY p.time DESC))[1], count(*)
"""
AGG_5M = """
SELECT date_bin(interval '1 hour', r.bucket, timestamptz '2000-01-01 00:00+00') AS bucket,
       r.device_key, r.metric_id, min(r.min), max(r.max), sum(r.avg * r.count) / sum(r.count),
       (array_agg(r.last ORDER BY r.bucket DESC))[1], sum(r.count)
"""
UPSERT = """
ON CONFLICT (device_key, metric_id, bucket) DO UPDATE SET min = excluded.min,
    max = excluded.max, avg = excluded.avg, last = excluded.last, count = excluded.count
"""
COLUMNS = "(bucket, device_key, metric_id, min, max, avg, last, count)"
NEW_5M = (
    f"INSERT INTO telemetry_rollup_5m {COLUMNS} {AGG_RAW} FROM telemetry_points p "
    "WHERE p.time >= %(lo)s AND p.time < %(hi)s GROUP BY 1, 2, 3 " + UPSERT
)
NEW_1H = (
    f"INSERT INTO telemetry_rollup_1h {COLUMNS} {AGG_5M} FROM telemetry_rollup_5m r "
    "WHERE r.bucket >= %(lo)s AND r.bucket < %(hi)s GROUP BY 1, 2, 3 " + UPSERT
)
TODO_TABLE = """
CREATE TEMP TABLE IF NOT EXISTS storage_todo (bucket timestamptz, device_key integer)
ON COMMIT DELETE ROWS
"""
TAKE_DIRTY = """
WITH d AS (
    DELETE FROM storage_rollup_dirty WHERE resolution = %(res)s AND bucket < %(done)s
    RETURNING bucket, device_key
)
INSERT INTO storage_todo SELECT DISTINCT bucket, device_key FROM d WHERE bucket >= %(horizon)s
"""
TODO_SPAN = "SELECT min(bucket), max(bucket) FROM storage_todo"
DELETE_TODO = """
DELETE FROM {table} r USING storage_todo t
WHERE r.device_key = t.device_key AND r.bucket = t.bucket
"""
# metric_id = ANY(all metrics) lets the primary key (device_key, metric_id, time) seek to each
# series' 5 minutes instead of reading all of the device's rows in the partition.
REDO_5M = (
    f"INSERT INTO telemetry_rollup_5m {COLUMNS} {AGG_RAW} FROM storage_todo t "
    "JOIN telemetry_points p ON p.device_key = t.device_key "
    "AND p.metric_id = ANY((SELECT array_agg(id) FROM metrics)::smallint[]) "
    "AND p.time >= t.bucket AND p.time < t.bucket + interval '5 minutes' GROUP BY 1, 2, 3"
)
# Many dirty pairs (a backfill): one scan of the dirty time range with a hash join is cheaper
# than an index probe per pair.
REDO_5M_BULK = (
    f"INSERT INTO telemetry_rollup_5m {COLUMNS} {AGG_RAW} FROM telemetry_points p "
    "JOIN storage_todo t ON p.device_key = t.device_key "
    "AND date_bin(interval '5 minutes', p.time, timestamptz '2000-01-01 00:00+00') = t.bucket "
    "WHERE p.time >= (SELECT min(bucket) FROM storage_todo) "
    "AND p.time < (SELECT max(bucket) FROM storage_todo) + interval '5 minutes' "
    "GROUP BY 1, 2, 3"
)
REDO_1H_BULK = (
    f"INSERT INTO telemetry_rollup_1h {COLUMNS} {AGG_5M} FROM telemetry_rollup_5m r "
    "JOIN storage_todo t ON r.device_key = t.device_key "
    "AND date_bin(interval '1 hour', r.bucket, timestamptz '2000-01-01 00:00+00') = t.bucket "
    "WHERE r.bucket >= (SELECT min(bucket) FROM storage_todo) "
    "AND r.bucket < (SELECT max(bucket) FROM storage_todo) + interval '1 hour' "
    "GROUP BY 1, 2, 3"
)
BULK_PAIRS = 2000
REDO_1H = (
    f"INSERT INTO telemetry_rollup_1h {COLUMNS} {AGG_5M} FROM storage_todo t "
    "JOIN telemetry_rollup_5m r ON r.device_key = t.device_key "
    "AND r.metric_id = ANY((SELECT array_agg(id) FROM metrics)::smallint[]) "
    "AND r.bucket >= t.bucket AND r.bucket < t.bucket + interval '1 hour' GROUP BY 1, 2, 3"
)
PROPAGATE_TO_1H = """
INSERT INTO storage_rollup_dirty (resolution, bucket, device_key)
SELECT DISTINCT '1h', date_bin(interval '1 hour', bucket, timestamptz '2000-01-01 00:00+00'),
       device_key
FROM storage_todo
WHERE bucket < (SELECT done FROM storage_rollup_state WHERE resolution = '1h')
"""
CAGG_REFRESH = "CALL refresh_continuous_aggregate(%(view)s, %(lo)s, %(hi)s)"
# A refresh window must stay where its source still holds data: refreshing a range whose raw
# chunks were dropped by retention recomputes it from nothing and deletes its rollups. One hour
# inside the retention horizon, so a retention run racing the refresh cannot drop a chunk of it.
CAGG_MARGIN = timedelta(hours=1)


@dataclass
class RefreshResult:
    """What one refresh did."""

    skipped: bool = False
    new_5m: int = 0
    new_1h: int = 0
    dirty_5m: int = 0
    dirty_1h: int = 0
    done_5m: datetime | None = None
    done_1h: datetime | None = None


def floor_to(ts: datetime, step: timedelta) -> datetime:
    """The start of the bucket of width ``step`` (aligned on 2000-01-01 UTC) holding ``ts``."""
    return ts - (ts - ORIGIN) % step


def is_timescale(conn: psycopg.Connection) -> bool:
    """True when the database runs TimescaleDB."""
    row = conn.execute(IS_TIMESCALE).fetchone()
    return bool(row and row[0])


def refresh(
    conn: psycopg.Connection, settings: StorageSetup, now: datetime | None = None
) -> RefreshResult:
    """Bring the 5-minute and hourly rollups up to date; skip when another run holds the lock.

    Needs an autocommit connection: each step commits on its own.
    """
    if not conn.autocommit:
        raise ValueError("rollups.refresh needs an autocommit connection")
    now = now or datetime.now(UTC)
    target = floor_to(now - timedelta(seconds=settings.rollup.lag_s), STEP["5m"])
    if not _locked(conn, JOB_LOCK):
        log.info("rollup refresh already running elsewhere; skipped")
        return RefreshResult(skipped=True)
    try:
        if is_timescale(conn):
            return _refresh_caggs(conn, settings, now, target)
        result = RefreshResult()
        result.new_5m, result.dirty_5m, result.done_5m = _refresh_5m(conn, settings, now, target)
        result.new_1h, result.dirty_1h, result.done_1h = _refresh_1h(conn, settings, now)
        return result
    finally:
        conn.execute(UNLOCK_JOB, {"key": JOB_LOCK})


def _locked(conn: psycopg.Connection, key: int) -> bool:
    row = conn.execute(TRY_JOB_LOCK, {"key": key}).fetchone()
    return bool(row and row[0])


def _state(conn: psycopg.Connection, res: str) -> tuple[datetime | None, datetime | None]:
    row = conn.execute(STATE, {"res": res}).fetchone()
    return (row[0], row[1]) if row else (None, None)


def _refresh_5m(
    conn: psycopg.Connection, settings: StorageSetup, now: datetime, target: datetime
) -> tuple[int, int, datetime]:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%(key)s)", {"key": THRESHOLD_LOCK})
        conn.execute(MOVE_THRESHOLD, {"res": "5m", "target": target})
    _, done = _state(conn, "5m")
    if done is None:
        row = conn.execute(RAW_START).fetchone()
        done = floor_to(row[0], STEP["5m"]) if row and row[0] else target
    new = 0
    batch = timedelta(hours=settings.rollup.batch_hours)
    while done < target:
        hi = min(target, done + batch)
        with conn.transaction():
            _ensure(conn, "telemetry_rollup_5m", done, hi, "1 month")
            new += conn.execute(NEW_5M, {"lo": done, "hi": hi}).rowcount
            conn.execute(SET_DONE, {"res": "5m", "done": hi})
        done = hi
    with conn.transaction():
        conn.execute(SET_DONE, {"res": "5m", "done": done})
    raw_days = settings.raw_days
    horizon = now - timedelta(days=raw_days)
    dirty = _redo(
        conn, "5m", done, horizon, "telemetry_rollup_5m", REDO_5M, REDO_5M_BULK, PROPAGATE_TO_1H
    )
    return new, dirty, done


def _refresh_1h(
    conn: psycopg.Connection, settings: StorageSetup, now: datetime
) -> tuple[int, int, datetime | None]:
    _, done_5m = _state(conn, "5m")
    _, done = _state(conn, "1h")
    if done_5m is None:
        return 0, 0, done
    target = floor_to(done_5m, STEP["1h"])
    if done is None:
        row = conn.execute(ROLLUP_5M_START).fetchone()
        done = floor_to(row[0], STEP["1h"]) if row and row[0] else target
    new = 0
    batch = timedelta(days=max(1, settings.rollup.batch_hours // 24) * 7)
    while done < target:
        hi = min(target, done + batch)
        with conn.transaction():
            _ensure(conn, "telemetry_rollup_1h", done, hi, "1 year")
            new += conn.execute(NEW_1H, {"lo": done, "hi": hi}).rowcount
            conn.execute(SET_DONE, {"res": "1h", "done": hi})
        done = hi
    with conn.transaction():
        conn.execute(SET_DONE, {"res": "1h", "done": done})
    horizon = now - timedelta(days=settings.retention.five_minute_days)
    dirty = _redo(conn, "1h", done, horizon, "telemetry_rollup_1h", REDO_1H, REDO_1H_BULK, None)
    return new, dirty, done


def _redo(
    conn: psycopg.Connection,
    res: str,
    done: datetime,
    horizon: datetime,
    table: str,
    redo: str,
    bulk: str,
    propagate: str | None,
) -> int:
    """Re-aggregate the dirty (bucket, device) pairs below the watermark, in one transaction."""
    with conn.transaction():
        conn.execute(TODO_TABLE)
        taken = conn.execute(TAKE_DIRTY, {"res": res, "done": done, "horizon": horizon}).rowcount
        if taken:
            span = conn.execute(TODO_SPAN).fetchone()
            if span and span[0] is not None:
                step = "1 month" if res == "5m" else "1 year"
                _ensure(conn, table, span[0], span[1], step)
            conn.execute(DELETE_TODO.format(table=table))  # table is one of two constants
            conn.execute(bulk if taken > BULK_PAIRS else redo)
            if propagate:
                conn.execute(propagate)
    if taken:
        log.info("re-aggregated %d dirty %s bucket(s)", taken, res)
    return taken


def _ensure(conn: psycopg.Connection, parent: str, lo: datetime, hi: datetime, step: str) -> None:
    conn.execute(ENSURE_PARTITIONS, {"parent": parent, "lo": lo, "hi": hi, "step": step})


def cagg_start_offsets(settings: StorageSetup) -> dict[str, timedelta]:
    """How far back each continuous aggregate is refreshed (``ioc maintain`` and policies).

    5-minute: inside raw retention. Hourly (computed from the 5-minute aggregate): inside the
    shorter of raw and 5-minute retention.
    """
    raw = timedelta(days=settings.raw_days)
    five = timedelta(days=settings.retention.five_minute_days)
    return {
        "telemetry_cagg_5m": raw - CAGG_MARGIN,
        "telemetry_cagg_1h": min(raw, five) - CAGG_MARGIN,
    }


def _refresh_caggs(
    conn: psycopg.Connection, settings: StorageSetup, now: datetime, target: datetime
) -> RefreshResult:
    """TimescaleDB: refresh both continuous aggregates over bounded windows up to the target.

    Only invalidated ranges inside the window are recomputed, so a wide window costs little;
    ingest accepts a late reading only within raw retention, which the window covers (but for
    its oldest hour, kept clear of a racing retention run).
    """
    offsets = cagg_start_offsets(settings)
    ends = {"telemetry_cagg_5m": target, "telemetry_cagg_1h": floor_to(target, STEP["1h"])}
    for view, step in (("telemetry_cagg_5m", STEP["5m"]), ("telemetry_cagg_1h", STEP["1h"])):
        lo = floor_to(now - offsets[view], step) + step  # whole buckets inside the window
        hi = ends[view]
        if hi - lo < step:
            continue
        try:
            # CALL refresh_continuous_aggregate refuses a transaction block: autocommit only.
            conn.execute(CAGG_REFRESH, {"view": view, "lo": lo, "hi": hi})
        except psycopg.errors.LockNotAvailable:
            # The refresh policy (TimescaleDB's scheduler) is refreshing it right now.
            log.info("%s is being refreshed by its policy; skipped", view)
            return RefreshResult(skipped=True)
    for res, view in (("5m", "telemetry_cagg_5m"), ("1h", "telemetry_cagg_1h")):
        conn.execute(SET_DONE, {"res": res, "done": ends[view]})  # what operators look at
    return RefreshResult(done_5m=ends["telemetry_cagg_5m"], done_1h=ends["telemetry_cagg_1h"])
