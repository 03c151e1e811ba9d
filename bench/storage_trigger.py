"""The plain path's late-data trigger: its cost on ingest-style batched inserts.

python bench/storage.py --db URL --trigger-overhead
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import psycopg

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
