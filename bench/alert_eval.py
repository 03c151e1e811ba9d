"""Alert engine evaluation time for a large fleet, on a throwaway database.

Builds N devices (communes of 100: uplink → 4 hamlet switches → NVRs, cameras, loudspeakers)
with fresh status and every catalogue metric in ``device_latest``, then times
``AlertEngine.evaluate_once`` with the default rules: steady ticks (nothing changes), a storm
tick (10 % of the communes lose their uplink: last wills of ~1,000 devices), the steady ticks
that follow, and the recovery tick. Prints one figure per line and a JSON summary::

    python bench/alert_eval.py --server postgresql://postgres@127.0.0.1:5432/postgres --devices 10000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg_pool import ConnectionPool
from throwaway import throwaway_database

from alerts.engine import AlertEngine
from alerts.settings import AlertSettings
from devices.catalogue import TYPES
from devices.database import prepare_database

REGISTRY_SQL = """
INSERT INTO communes (code, name) SELECT (10000 + c)::text, 'Xã ' || c FROM generate_series(0, %(communes)s - 1) c;
INSERT INTO sites (id, commune_code, name)
    SELECT 's' || c, (10000 + c)::text, 'UBND ' || c FROM generate_series(0, %(communes)s - 1) c;
INSERT INTO devices (id, type, commune_code, site_id, parent_id, name, interval_s)
SELECT 'c' || c || '-d' || j,
       CASE WHEN j < 5 THEN 'link' WHEN j < 10 THEN 'nvr' WHEN j < 70 THEN 'camera' ELSE 'speaker' END,
       (10000 + c)::text, 's' || c,
       CASE WHEN j = 0 THEN NULL WHEN j < 5 THEN 'c' || c || '-d0' ELSE 'c' || c || '-d' || (1 + j %% 4) END,
       'Thiết bị ' || j,
       CASE WHEN j < 5 THEN 60 WHEN j < 10 THEN 300 WHEN j < 70 THEN 60 ELSE 30 END
FROM generate_series(0, %(communes)s - 1) c, generate_series(0, 99) j;
INSERT INTO device_parents (device_id, parent_id) SELECT id, parent_id FROM devices WHERE parent_id IS NOT NULL;
"""
STATUS_SQL = """
INSERT INTO device_status (device_id, online, status_time, last_seen, last_received_at)
SELECT id, true, %(t)s, %(t)s, %(t)s FROM devices
ON CONFLICT (device_id) DO UPDATE SET online = true, last_received_at = %(t)s, last_seen = %(t)s
"""
LATEST_SQL = """
INSERT INTO device_latest_points (device_key, metric_id, time, value)
SELECT d.key, mm.id, %(t)s, m.value FROM devices d
JOIN unnest(%(types)s::text[], %(metrics)s::text[], %(values)s::float8[]) AS m(type, metric, value)
    ON m.type = d.type
JOIN metrics mm ON mm.name = m.metric
ON CONFLICT (device_key, metric_id) DO UPDATE SET time = excluded.time, value = excluded.value
"""
# Normal values: bools 1, enums index 0, gauges mid-range, configured = actual.
NORMAL = {
    "fps": 25,
    "fps_configured": 25,
    "bitrate_kbps": 2000,
    "bitrate_configured_kbps": 2000,
    "uptime_s": 86400,
    "rsrp_dbm": -80,
    "rsrq_db": -8,
    "sinr_db": 15,
    "battery_v": 13,
    "temp_c": 35,
    "data_mb_month": 100,
    "data_plan_mb": 1000,
    "rtt_ms": 20,
    "jitter_ms": 2,
    "errors_per_s": 0,
    "volume": 50,
    "bandwidth_mbps": 100,
}


def normal_values() -> tuple[list[str], list[str], list[float]]:
    types, metrics, values = [], [], []
    for t in TYPES.values():
        for m in t.metrics:
            value = NORMAL.get(
                m.name, 1.0 if m.kind == "bool" else 0.0 if m.kind == "enum" else 40.0
            )
            types.append(t.name)
            metrics.append(m.name)
            values.append(float(value))
    return types, metrics, values


def parts(label: str, engine: AlertEngine) -> None:
    """The slowest parts of the engine's last evaluation."""
    assert engine.last_result is not None
    slowest = sorted(engine.last_result.timings.items(), key=lambda kv: -kv[1])[:4]
    for part, seconds in slowest:
        print(f"{label}_part_{part}_s: {seconds:.4f}")


def tick(engine: AlertEngine, now: datetime) -> float:
    return engine.evaluate_once(now).seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--devices", type=int, default=10000)
    parser.add_argument("--ticks", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="Keep the database (for EXPLAIN).")
    args = parser.parse_args()
    communes = max(1, args.devices // 100)
    with throwaway_database(args.server, "alerts", keep=args.keep) as url:
        prepare_database(url, back_days=2, ahead_days=2, create=False)
        now = datetime.now(UTC)
        with psycopg.connect(url) as conn:
            for statement in filter(str.strip, REGISTRY_SQL.split(";")):
                conn.execute(statement, {"communes": communes})
            conn.execute(STATUS_SQL, {"t": now})
            types, metrics, values = normal_values()
            conn.execute(
                LATEST_SQL, {"t": now, "types": types, "metrics": metrics, "values": values}
            )
            conn.commit()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            points = conn.execute("SELECT count(*) FROM device_latest").fetchone()
        pool = ConnectionPool(url, min_size=1, max_size=2, open=True)
        engine = AlertEngine(
            AlertSettings(pipeline_silence_s=0, pipeline_heartbeat_s=0),
            pool,
        )
        figures: dict[str, float] = {
            "devices": communes * 100,
            "latest_rows": points[0] if points else 0,
            "rules": len(engine.rules),
        }
        s = timedelta(seconds=1)
        tick(engine, now + s)  # warm-up: first reachability rows
        steady = [tick(engine, now + (2 + i) * s) for i in range(args.ticks)]
        parts("steady", engine)
        # Storm: 10 % of communes lose their uplink; all their devices send last wills.
        storm_communes = max(1, communes // 10)
        t_storm = now + (3 + args.ticks) * s
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "UPDATE device_status SET online = false, status_time = %(t)s, last_received_at = %(t)s"
                " WHERE device_id LIKE ANY(%(p)s)",
                {"t": t_storm, "p": [f"c{c}-%" for c in range(storm_communes)]},
            )
        result = engine.evaluate_once(t_storm)
        parts("storm", engine)
        figures["storm_tick_s"] = result.seconds
        figures["storm_firing"] = len(result.transitions.firing)
        figures["storm_unreachable"] = len(result.reachability.unreachable)
        after = [tick(engine, t_storm + (1 + i) * s) for i in range(args.ticks)]
        parts("open_alerts", engine)
        t_back = t_storm + (2 + args.ticks) * s
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(STATUS_SQL, {"t": t_back})
            conn.execute(
                LATEST_SQL, {"t": t_back, "types": types, "metrics": metrics, "values": values}
            )
        result = engine.evaluate_once(t_back)
        figures["recovery_tick_s"] = result.seconds
        figures["recovery_resolved"] = len(result.transitions.resolved)
        figures["steady_tick_p50_s"] = statistics.median(steady)
        figures["steady_tick_max_s"] = max(steady)
        figures["open_alerts_tick_p50_s"] = statistics.median(after)
        figures["open_alerts_tick_max_s"] = max(after)
        pool.close()
    for key, value in figures.items():
        print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
    print(json.dumps({"benchmark": "alert_eval", **figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
