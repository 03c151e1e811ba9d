"""Retention and partitions: drop whole expired partitions, create future ones, trim history.

Plain PostgreSQL: a partition is dropped once its whole range is older than the horizon
(detached CONCURRENTLY first, so ingest is never blocked behind an ACCESS EXCLUSIVE lock);
nothing newer than the horizon is ever touched, and raw telemetry is never deleted row by row.
Small history tables (quarantine, status and reachability changes, availability) are trimmed
with DELETE, keeping each device's last change before the horizon so its state stays known.
TimescaleDB: compression and retention policies do the same (``storage.policies``).
Safe to run twice or concurrently: one run at a time holds an advisory lock, others skip.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from storage.rollups import is_timescale
from storage.settings import StorageSetup

log = logging.getLogger(__name__)

RETENTION_LOCK = 4242402

LIST_PARTITIONS = """
SELECT c.relname,
       (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz,
       i.inhdetachpending
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = to_regclass(%(parent)s)
ORDER BY 2
"""
ENSURE_DAILY = "SELECT ioc_ensure_partitions(%(parent)s, %(lo)s, %(hi)s)"
ENSURE_STEP = "SELECT storage_ensure_partitions(%(parent)s, %(lo)s, %(hi)s, %(step)s)"
DELETE_QUARANTINE = """
DELETE FROM quarantine WHERE id IN (
    SELECT id FROM quarantine WHERE last_received_at < %(horizon)s LIMIT 10000)
"""
# Keep the newest change at or before the horizon per device: it is the state at the horizon.
TRIM_CHANGES = """
DELETE FROM {table} c
WHERE c.time < %(horizon)s
  AND EXISTS (SELECT 1 FROM {table} n
              WHERE n.device_id = c.device_id AND n.time > c.time AND n.time <= %(horizon)s)
"""
COMPACTED = "SELECT 1 FROM storage_compacted WHERE partition = %(name)s"
INVALID_INDEXES = """
SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = to_regclass(%(name)s) AND NOT i.indisvalid
"""
INDEX_SIZE = "SELECT pg_indexes_size(to_regclass(%(name)s))"
MARK_COMPACTED = """
INSERT INTO storage_compacted (partition, bytes_before, bytes_after)
VALUES (%(name)s, %(before)s, %(after)s) ON CONFLICT (partition) DO NOTHING
"""
DELETE_AVAILABILITY = "DELETE FROM availability_daily WHERE day < %(day)s"
FORGET_COMPACTED = "DELETE FROM storage_compacted WHERE to_regclass(partition) IS NULL"
DELETE_STALE_DIRTY = "DELETE FROM storage_rollup_dirty WHERE bucket < %(horizon)s"

# (parent table, settings attribute with its retention in days, partition step)
PLAIN_TABLES = (
    ("telemetry_points", "raw", "1 day"),
    ("device_events", "events", "1 day"),
    ("telemetry_rollup_5m", "5m", "1 month"),
    ("telemetry_rollup_1h", "1h", "1 year"),
)


@dataclass
class RetentionResult:
    """What one retention run did."""

    skipped: bool = False
    created: int = 0
    dropped: list[str] = field(default_factory=list)
    compacted: list[str] = field(default_factory=list)
    deleted_rows: dict[str, int] = field(default_factory=dict)


def retention_days(settings: StorageSetup) -> dict[str, int]:
    """Days kept per resolution/table family."""
    return {
        "raw": settings.raw_days,
        "events": settings.retention.events_days,
        "5m": settings.retention.five_minute_days,
        "1h": settings.retention.hourly_days,
    }


def run(
    conn: psycopg.Connection, settings: StorageSetup, now: datetime | None = None
) -> RetentionResult:
    """Create partitions ahead, drop expired ones, trim history (autocommit connection)."""
    if not conn.autocommit:
        raise ValueError("retention.run needs an autocommit connection")
    now = now or datetime.now(UTC)
    row = conn.execute("SELECT pg_try_advisory_lock(%(k)s)", {"k": RETENTION_LOCK}).fetchone()
    if not (row and row[0]):
        log.info("retention already running elsewhere; skipped")
        return RetentionResult(skipped=True)
    try:
        conn.execute(
            "SELECT set_config('lock_timeout', %(t)s, false)",
            {"t": f"{int(settings.retention.lock_timeout_s * 1000)}ms"},
        )
        result = RetentionResult()
        if not is_timescale(conn):
            result.created = ensure_ahead(conn, settings, now)
            days = retention_days(settings)
            for parent, key, _ in PLAIN_TABLES:
                result.dropped += drop_expired(conn, parent, now - timedelta(days=days[key]))
            result.compacted = compact_closed(conn, now - timedelta(days=1))
        result.deleted_rows = trim_history(conn, settings, now)
        return result
    finally:
        conn.execute("SELECT pg_advisory_unlock(%(k)s)", {"k": RETENTION_LOCK})
        conn.execute("RESET lock_timeout")


def ensure_ahead(conn: psycopg.Connection, settings: StorageSetup, now: datetime) -> int:
    """Create daily raw/event partitions and rollup partitions ahead of ``now``."""
    ahead = timedelta(days=settings.retention.partitions_ahead_days or 14)
    created = 0
    for parent, _, step in PLAIN_TABLES:
        if step == "1 day":
            params = {"parent": parent, "lo": now.date(), "hi": (now + ahead).date()}
            row = conn.execute(ENSURE_DAILY, params).fetchone()
        else:
            params = {"parent": parent, "lo": now, "hi": now + ahead, "step": step}
            row = conn.execute(ENSURE_STEP, params).fetchone()
        created += row[0] if row else 0
    return created


def drop_expired(conn: psycopg.Connection, parent: str, horizon: datetime) -> list[str]:
    """Detach and drop every partition of ``parent`` whose upper bound is <= ``horizon``."""
    dropped = []
    for name, upper, pending in conn.execute(LIST_PARTITIONS, {"parent": parent}).fetchall():
        if upper is None or upper > horizon:
            continue
        mode = "FINALIZE" if pending else "CONCURRENTLY"
        conn.execute(
            sql.SQL("ALTER TABLE {} DETACH PARTITION {} " + mode).format(
                sql.Identifier(parent), sql.Identifier(name)
            )
        )
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
        log.info("dropped partition %s (up to %s)", name, upper)
        dropped.append(name)
    return dropped


def compact_closed(conn: psycopg.Connection, before: datetime) -> list[str]:
    """Rebuild the indexes of raw partitions that ended before ``before``, once each."""
    done = []
    parts = conn.execute(LIST_PARTITIONS, {"parent": "telemetry_points"}).fetchall()
    for name, upper, _ in parts:
        if upper is None or upper > before:
            continue
        if conn.execute(COMPACTED, {"name": name}).fetchone():
            continue
        size_before = conn.execute(INDEX_SIZE, {"name": name}).fetchone()
        try:
            conn.execute(sql.SQL("REINDEX TABLE CONCURRENTLY {}").format(sql.Identifier(name)))
        except psycopg.errors.LockNotAvailable:
            # A failed concurrent rebuild leaves invalid "_ccnew" indexes behind: drop them.
            for (index,) in conn.execute(INVALID_INDEXES, {"name": name}).fetchall():
                conn.execute(sql.SQL("DROP INDEX CONCURRENTLY {}").format(sql.Identifier(index)))
            log.warning("compaction of %s postponed: lock not available", name)
            continue
        size_after = conn.execute(INDEX_SIZE, {"name": name}).fetchone()
        conn.execute(
            MARK_COMPACTED,
            {
                "name": name,
                "before": size_before[0] if size_before else 0,
                "after": size_after[0] if size_after else 0,
            },
        )
        log.info("compacted indexes of %s", name)
        done.append(name)
    return done


def trim_history(conn: psycopg.Connection, settings: StorageSetup, now: datetime) -> dict[str, int]:
    """Delete expired quarantine, status/reachability changes and availability rows."""
    deleted: dict[str, int] = {}
    horizon = now - timedelta(days=settings.retention.quarantine_days)
    total = 0
    while (n := conn.execute(DELETE_QUARANTINE, {"horizon": horizon}).rowcount) > 0:
        total += n
    deleted["quarantine"] = total
    horizon = now - timedelta(days=settings.retention.status_days)
    for table in ("device_status_changes", "device_reachability_changes"):
        query = sql.SQL(TRIM_CHANGES).format(table=sql.Identifier(table))
        deleted[table] = conn.execute(query, {"horizon": horizon}).rowcount
    day = (now - timedelta(days=settings.retention.availability_days)).date()
    deleted["availability_daily"] = conn.execute(DELETE_AVAILABILITY, {"day": day}).rowcount
    conn.execute(FORGET_COMPACTED)
    if not is_timescale(conn):
        raw = now - timedelta(days=settings.raw_days)
        conn.execute(DELETE_STALE_DIRTY, {"horizon": raw})
    return deleted
