"""Storage figures for N days of the demo commune: bytes per point, rollup refresh time and the
speed-up of a 30-day dashboard query on rollups versus raw data.

    python bench/storage.py --db postgresql://postgres@localhost/ioc_bench_storage --days 30

Prints one ``name: value`` line per figure, then a JSON summary. ``--skip-seed`` reuses data
already seeded by ``bench/seed_history.py``.
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
from storage import retention, rollups
from storage.settings import StorageSettings

SIZE = """
SELECT sum(pg_total_relation_size(c.oid)), sum(pg_relation_size(c.oid)),
       sum(pg_indexes_size(c.oid))
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = %(t)s::regclass
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


def run(url: str, days: float, registry: Path, skip_seed: bool, runs: int) -> dict[str, object]:
    """Seed (unless told not to), then measure; return the figures."""
    figures: dict[str, object] = {"days": days}
    settings = StorageSettings(retention_raw_days=max(30, int(days) + 1), rollup_lag_s=60)
    with psycopg.connect(url, autocommit=True) as conn:
        if not skip_seed:
            conn.execute(RESET_ROLLUPS)
            with psycopg.connect(url) as tx:
                figures["seed"] = seed(tx, registry, days, replace=True)
        conn.execute("VACUUM ANALYZE telemetry_points")
        row = conn.execute("SELECT count(*) FROM telemetry_points").fetchone()
        points = int(row[0]) if row else 0
        size = conn.execute(SIZE, {"t": "telemetry_points"}).fetchone()
        assert size is not None
        figures["points"] = points
        figures["raw_bytes_per_point"] = round(size[0] / points, 1)
        figures["raw_heap_bytes_per_point"] = round(size[1] / points, 1)
        figures["raw_index_bytes_per_point"] = round(size[2] / points, 1)
        started = time.perf_counter()
        compacted = retention.compact_closed(conn, datetime.now(UTC))
        figures["compact_partitions"] = len(compacted)
        figures["compact_s"] = round(time.perf_counter() - started, 1)
        size = conn.execute(SIZE, {"t": "telemetry_points"}).fetchone()
        assert size is not None
        figures["raw_bytes_per_point_compacted"] = round(size[0] / points, 1)
        figures["raw_index_bytes_per_point_compacted"] = round(size[2] / points, 1)
        figures["compressed_bytes_per_point"] = "n/a (TimescaleDB not installed)"

        conn.execute(RESET_ROLLUPS)
        started = time.perf_counter()
        full = rollups.refresh(conn, settings)
        figures["rollup_full_refresh_s"] = round(time.perf_counter() - started, 2)
        figures["rollup_5m_rows"] = full.new_5m
        figures["rollup_1h_rows"] = full.new_1h
        conn.execute("VACUUM ANALYZE telemetry_rollup_5m, telemetry_rollup_1h")
        for name, table in (("5m", "telemetry_rollup_5m"), ("1h", "telemetry_rollup_1h")):
            rsize = conn.execute(SIZE, {"t": table}).fetchone()
            figures[f"rollup_{name}_bytes"] = int(rsize[0] or 0) if rsize else 0

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
        figures["late_dirty_buckets_5m"] = result.dirty_5m

    figures.update(dashboard(url, runs))
    return figures


def dashboard(url: str, runs: int) -> dict[str, object]:
    """Median time of a 30-day hourly dashboard query on raw data and on the rollups."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE devices, metrics, telemetry_rollup_1h, telemetry_rollup_5m")
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


BATCH_INSERT = """
INSERT INTO telemetry_points (time, value, device_key, metric_id)
SELECT * FROM unnest(%(t)s::timestamptz[], %(v)s::float8[], %(k)s::int[], %(m)s::smallint[])
ON CONFLICT DO NOTHING
"""
MODES = {
    "no_trigger": ("ALTER TABLE telemetry_points DISABLE TRIGGER USER", None),
    "trigger_idle": ("ALTER TABLE telemetry_points ENABLE TRIGGER USER", None),
    "trigger_armed": ("ALTER TABLE telemetry_points ENABLE TRIGGER USER", "threshold"),
}


def trigger_overhead(url: str, rounds: int, batch: int) -> dict[str, object]:
    """Ingest-style batched inserts with the late-data trigger off, idle and armed."""
    figures: dict[str, object] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        keys = [r[0] for r in conn.execute("SELECT key FROM devices ORDER BY key LIMIT 100")]
        state = conn.execute("SELECT threshold FROM storage_rollup_state WHERE resolution = '5m'")
        saved = state.fetchone()
        elapsed = dict.fromkeys(MODES, 0.0)
        start = datetime.now(UTC) + timedelta(hours=2)
        try:
            for r in range(rounds):
                for i, (mode, (ddl, armed)) in enumerate(MODES.items()):
                    conn.execute(ddl)
                    conn.execute(
                        "UPDATE storage_rollup_state SET threshold = %(t)s WHERE resolution = '5m'",
                        {"t": datetime.now(UTC) - timedelta(hours=1) if armed else None},
                    )
                    t0 = start + timedelta(minutes=(r * len(MODES) + i) * 10)
                    rows = [
                        (t0 + timedelta(milliseconds=j), float(j % 25), keys[j % len(keys)], 3)
                        for j in range(batch)
                    ]
                    params = {name: [row[n] for row in rows] for n, name in enumerate("tvkm")}
                    with conn.transaction():
                        began = time.perf_counter()
                        conn.execute(BATCH_INSERT, params)
                        elapsed[mode] += time.perf_counter() - began
        finally:
            conn.execute("ALTER TABLE telemetry_points ENABLE TRIGGER USER")
            conn.execute(
                "UPDATE storage_rollup_state SET threshold = %(t)s WHERE resolution = '5m'",
                {"t": saved[0] if saved else None},
            )
    for mode, seconds in elapsed.items():
        figures[f"insert_rows_per_s_{mode}"] = round(rounds * batch / seconds)
    base = elapsed["no_trigger"]
    figures["trigger_overhead_armed_pct"] = round(100 * (elapsed["trigger_armed"] - base) / base, 1)
    figures["trigger_overhead_idle_pct"] = round(100 * (elapsed["trigger_idle"] - base) / base, 1)
    return figures


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
        figures = trigger_overhead(args.db, rounds=20, batch=5000)
    else:
        figures = run(args.db, args.days, args.registry, args.skip_seed, args.runs)
    for name, value in figures.items():
        print(f"{name}: {json.dumps(value) if isinstance(value, dict) else value}")
    print(json.dumps(figures, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
