"""Storage figures for N days of the demo commune: bytes per point, rollup refresh time and the
speed-up of a 30-day dashboard query on rollups versus raw data. Both paths: plain PostgreSQL
(partitions, index compaction) and TimescaleDB (hypertable, continuous aggregates, compression).

    python bench/storage.py --db postgresql://postgres@localhost/ioc_bench_storage --days 30

Give it a database that does not exist yet (it is created and migrated): re-seeding an existing
one deletes the old rows first, and their dead tuples inflate the byte figures until a VACUUM
FULL. Prints one ``name: value`` line per figure, then a JSON summary. ``--skip-seed`` reuses data
already seeded by ``bench/seed_history.py``. ``--compare-btree`` also measures what a B-tree on
``telemetry_points (time)`` would add per point (created before seeding, measured, dropped).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.seed_history import DEFAULT_REGISTRY, seed
from bench.storage_trigger import trigger_overhead
from storage import policies, retention, rollups
from storage.settings import (
    AvailabilitySettings,
    ReportSettings,
    RetentionSettings,
    RollupSettings,
    StorageSetup,
)

SIZE = """
SELECT sum(pg_total_relation_size(c.oid)), sum(pg_relation_size(c.oid)),
       sum(pg_indexes_size(c.oid))
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = %(t)s::regclass
"""
# TimescaleDB: sizes of a hypertable (chunks included, compressed ones too).
TS_SIZE = """
SELECT total_bytes, table_bytes + coalesce(toast_bytes, 0), index_bytes
FROM hypertable_detailed_size(%(t)s::regclass)
"""
TS_MATERIALIZED = """
SELECT format('%%I.%%I', materialization_hypertable_schema, materialization_hypertable_name)
FROM timescaledb_information.continuous_aggregates WHERE view_name = %(view)s
"""
# Closed days are compressed (the policy does it after IOC_COMPRESS_AFTER_DAYS).
TS_COMPRESS_BEFORE = """
SELECT count(compress_chunk(c, if_not_compressed => true))
FROM show_chunks('telemetry_points', older_than => %(before)s::timestamptz) c
"""
TS_COMPRESSED = """
SELECT sum(before_compression_total_bytes), sum(after_compression_total_bytes)
FROM chunk_compression_stats('telemetry_points') WHERE compression_status = 'Compressed'
"""
TS_COMPRESSED_POINTS = """
SELECT count(*) FROM telemetry_points WHERE time < (
    SELECT max(range_end) FROM timescaledb_information.chunks
    WHERE hypertable_name = 'telemetry_points' AND is_compressed)
"""
# An index on telemetry_points with all of its partitions' (plain) or chunks' (TimescaleDB).
TIME_INDEX_SIZE = """
SELECT coalesce(sum(pg_relation_size(c.oid)), 0) FROM pg_class c
WHERE c.relkind IN ('i', 'I')
  AND (c.relname LIKE '%%' || %(name)s
       OR c.oid IN (SELECT relid FROM pg_partition_tree(to_regclass(%(name)s))))
"""
RESET_ROLLUPS = """
UPDATE storage_rollup_state SET threshold = NULL, done = NULL, refreshed_at = NULL;
TRUNCATE telemetry_rollup_5m, telemetry_rollup_1h, storage_rollup_dirty;
"""
RAW_QUERY = """
SELECT date_bin(interval '1 hour', p.time, timestamptz '2000-01-01 00:00+00') AS bucket,
       d.id, avg(p.value)
FROM telemetry_points p JOIN devices d ON d.key = p.device_key
WHERE d.commune_code = %(c)s AND d.type = 'camera' AND p.metric_id = %(m)s
  AND p.time >= %(lo)s
GROUP BY 1, 2
"""
# What the Grafana dashboards send (metric id resolved first, keys view, covering index).
ROLLUP_QUERY = """
SELECT bucket, device_key, avg FROM telemetry_1h_keys
WHERE metric_id = %(m)s AND bucket >= %(lo)s
  AND device_key IN (SELECT key FROM devices WHERE commune_code = %(c)s AND type = 'camera')
"""
# The same through the named view (device_id, metric): what an ad-hoc SQL user writes.
VIEW_QUERY = """
SELECT bucket, device_id, avg FROM telemetry_1h
WHERE device_id IN (SELECT id FROM devices WHERE commune_code = %(c)s AND type = 'camera')
  AND metric = 'fps' AND bucket >= %(lo)s
"""
NEW_MINUTES = """
INSERT INTO telemetry_points (time, value, device_key, metric_id)
SELECT t, random() * 25, d.key, tm.metric_id
FROM devices d JOIN device_type_metrics tm ON tm.type = d.type
CROSS JOIN generate_series(%(lo)s::timestamptz, %(hi)s, interval '1 minute') t
ON CONFLICT DO NOTHING
"""
LATE_POINTS = """
INSERT INTO telemetry_points (time, value, device_key, metric_id)
SELECT %(t)s::timestamptz - ((d.key %% 6) * interval '10 minutes') + interval '17 seconds', 1, d.key,
       tm.metric_id
FROM devices d JOIN device_type_metrics tm ON tm.type = d.type
ON CONFLICT DO NOTHING
"""


def _timed(conn: psycopg.Connection, query: str, params: dict[str, object], runs: int) -> float:
    conn.execute(query, params).fetchall()  # warm-up
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        conn.execute(query, params).fetchall()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def _raw_size(conn: psycopg.Connection, ts: bool, table: str) -> tuple[int, int, int]:
    """(total, heap, indexes) bytes of a partitioned table or hypertable."""
    row = conn.execute(TS_SIZE if ts else SIZE, {"t": table}).fetchone()
    return (int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)) if row else (0, 0, 0)


def _rollup_relations(conn: psycopg.Connection, ts: bool) -> dict[str, str]:
    if not ts:
        return {"5m": "telemetry_rollup_5m", "1h": "telemetry_rollup_1h"}
    out = {}
    for res in ("5m", "1h"):
        row = conn.execute(TS_MATERIALIZED, {"view": f"telemetry_cagg_{res}"}).fetchone()
        out[res] = str(row[0]) if row else ""
    return out


def run(
    url: str, days: float, registry: Path, skip_seed: bool, runs: int, compare_btree: bool
) -> dict[str, object]:
    """Seed (unless told not to), then measure; return the figures."""
    figures: dict[str, object] = {"days": days}
    settings = StorageSetup(
        RetentionSettings(raw_days=max(30, int(days) + 1)),
        RollupSettings(lag_s=60),
        AvailabilitySettings(),
        ReportSettings(),
    )
    with psycopg.connect(url, autocommit=True) as conn:
        ts = rollups.is_timescale(conn)
        figures["path"] = "timescaledb" if ts else "plain"
        btree = None
        if compare_btree:  # built while rows arrive, as a live index would be
            conn.execute("CREATE INDEX IF NOT EXISTS bench_time_btree ON telemetry_points (time)")
        if not skip_seed:
            if not ts:
                conn.execute(RESET_ROLLUPS)
            with psycopg.connect(url) as tx:
                figures["seed"] = seed(tx, registry, days, replace=True)
        if compare_btree:
            btree = conn.execute(TIME_INDEX_SIZE, {"name": "bench_time_btree"}).fetchone()
            conn.execute("DROP INDEX bench_time_btree")
        conn.execute("VACUUM ANALYZE telemetry_points")
        row = conn.execute("SELECT count(*) FROM telemetry_points").fetchone()
        points = int(row[0]) if row else 0
        size = _raw_size(conn, ts, "telemetry_points")
        figures["points"] = points
        figures["raw_bytes_per_point"] = round(size[0] / points, 1)
        figures["raw_heap_bytes_per_point"] = round(size[1] / points, 1)
        figures["raw_index_bytes_per_point"] = round(size[2] / points, 1)
        brin = conn.execute(TIME_INDEX_SIZE, {"name": "telemetry_points_time_brin"}).fetchone()
        figures["raw_time_index_brin_bytes_per_point"] = round(int(brin[0]) / points, 2)
        if compare_btree and btree:
            figures["raw_time_index_btree_bytes_per_point"] = round(int(btree[0]) / points, 1)
        started = time.perf_counter()
        if ts:
            # As `ioc maintain` does; only now, so that no policy job (the server's scheduler)
            # compresses a chunk before the raw figures above are taken.
            policies.apply_timescale_policies(conn, settings)
            closed = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            done = conn.execute(TS_COMPRESS_BEFORE, {"before": closed}).fetchone()
            figures["compressed_chunks"] = int(done[0]) if done else 0
            figures["compress_s"] = round(time.perf_counter() - started, 1)
            stats = conn.execute(TS_COMPRESSED).fetchone()
            inside = conn.execute(TS_COMPRESSED_POINTS).fetchone()
            if stats and stats[1] and inside and inside[0]:
                figures["compressed_points"] = int(inside[0])
                figures["uncompressed_bytes_per_point_closed_days"] = round(
                    int(stats[0]) / int(inside[0]), 1
                )
                figures["compressed_bytes_per_point"] = round(int(stats[1]) / int(inside[0]), 2)
            size = _raw_size(conn, ts, "telemetry_points")
            figures["raw_bytes_per_point_after_compression"] = round(size[0] / points, 1)
        else:
            compacted = retention.compact_closed(conn, datetime.now(UTC))
            figures["compact_partitions"] = len(compacted)
            figures["compact_s"] = round(time.perf_counter() - started, 1)
            size = _raw_size(conn, ts, "telemetry_points")
            figures["raw_bytes_per_point_compacted"] = round(size[0] / points, 1)
            figures["raw_index_bytes_per_point_compacted"] = round(size[2] / points, 1)
            figures["compressed_bytes_per_point"] = "n/a (plain PostgreSQL)"
            conn.execute(RESET_ROLLUPS)

        started = time.perf_counter()
        full = rollups.refresh(conn, settings)
        label = "rollup_refresh_s" if ts and skip_seed else "rollup_full_refresh_s"
        figures[label] = round(time.perf_counter() - started, 2)
        relations = _rollup_relations(conn, ts)
        conn.execute(f"VACUUM ANALYZE {relations['5m']}, {relations['1h']}")
        for name, table in relations.items():
            count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            figures[f"rollup_{name}_rows"] = int(count[0]) if count else 0
            rsize = _raw_size(conn, ts, table)
            figures[f"rollup_{name}_bytes"] = rsize[0]
        if not ts:
            assert full.new_5m == figures["rollup_5m_rows"]

        started = time.perf_counter()
        rollups.refresh(conn, settings)
        figures["rollup_noop_refresh_s"] = round(time.perf_counter() - started, 3)
        now = datetime.now(UTC)
        conn.execute(NEW_MINUTES, {"lo": now - timedelta(minutes=5), "hi": now})
        started = time.perf_counter()
        rollups.refresh(conn, settings, now=now + timedelta(minutes=6))
        figures["rollup_incremental_5min_refresh_s"] = round(time.perf_counter() - started, 3)
        late = conn.execute(
            LATE_POINTS, {"t": now - timedelta(hours=min(24.0, days * 12))}
        ).rowcount
        started = time.perf_counter()
        result = rollups.refresh(conn, settings, now=now + timedelta(minutes=6))
        figures["rollup_late_refresh_s"] = round(time.perf_counter() - started, 3)
        figures["late_points"] = late
        if not ts:
            figures["late_dirty_buckets_5m"] = result.dirty_5m

    figures.update(dashboard(url, runs))
    return figures


def dashboard(url: str, runs: int) -> dict[str, object]:
    """Median time of a 30-day hourly dashboard query on raw data and on the rollups."""
    with psycopg.connect(url, autocommit=True) as conn:
        relations = _rollup_relations(conn, rollups.is_timescale(conn))
        conn.execute(f"ANALYZE devices, metrics, {relations['1h']}, {relations['5m']}")
        fps = conn.execute("SELECT id FROM metrics WHERE name = 'fps'").fetchone()
        now = datetime.now(UTC)
        params = {"c": "21025", "m": fps[0] if fps else 0, "lo": now - timedelta(days=30)}
        raw_s = _timed(conn, RAW_QUERY, params, runs)
        rollup_s = _timed(conn, ROLLUP_QUERY, params, runs)
        view_s = _timed(conn, VIEW_QUERY, params, runs)
    return {
        "dashboard_raw_ms": round(raw_s * 1000, 1),
        "dashboard_rollup_ms": round(rollup_s * 1000, 1),
        "dashboard_rollup_named_view_ms": round(view_s * 1000, 1),
        "dashboard_speedup": round(raw_s / rollup_s, 1),
        "dashboard_speedup_named_view": round(raw_s / view_s, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="PostgreSQL URL (created and migrated)")
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--registry", type=Path, default=DEFAULT_REGISTRY)
    parser.add_argument("--skip-seed", action="store_true")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per query (median)")
    parser.add_argument("--queries-only", action="store_true", help="only the dashboard query")
    parser.add_argument(
        "--compare-btree",
        action="store_true",
        help="also measure a B-tree on telemetry_points (time), built while seeding, then dropped",
    )
    parser.add_argument(
        "--trigger-overhead",
        action="store_true",
        help="only measure the late-data trigger's cost on batched inserts (needs seeded devices)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    from ioc.migrate import apply, create_database_if_missing

    create_database_if_missing(args.db)
    apply(args.db)
    if args.queries_only:
        figures = dashboard(args.db, args.runs)
    elif args.trigger_overhead:
        with psycopg.connect(args.db) as conn:
            if rollups.is_timescale(conn):
                print("--trigger-overhead: the late-data trigger exists on plain PostgreSQL only")
                return 2
        figures = trigger_overhead(args.db, rounds=20, batch=5000)
    else:
        figures = run(
            args.db, args.days, args.registry, args.skip_seed, args.runs, args.compare_btree
        )
    for name, value in figures.items():
        print(f"{name}: {json.dumps(value) if isinstance(value, dict) else value}")
    print(json.dumps(figures, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
