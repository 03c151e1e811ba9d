"""Time every Grafana panel query on 30 days of one commune, as the read-only Grafana role.

Each panel's SQL is expanded the way Grafana's PostgreSQL datasource does (grafana/macros.py)
with All selected in every variable, over ranges ending now: 3 h (the longest raw-data range),
6 h and 3 days (5-minute rollups) and 30 days (hourly rollups). Prints one line per panel and
range, then a JSON summary. Usage::

    python bench/dashboards.py --db postgresql://postgres@127.0.0.1/ioc_bench_dashboards \\
        [--seed-days 30] [--repeat 7]

``--seed-days`` creates and seeds the database first (bench/seed_history.py, rollups,
availability, and a month of alerts, notifications and quarantine rows) when it is empty.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from grafana.macros import render  # noqa: E402
from grafana.runner import (  # noqa: E402
    context,
    execute,
    load_dashboards,
    panel_queries,
    resolve_variables,
)

RANGES = {
    "3h": timedelta(hours=3),
    "6h": timedelta(hours=6),
    "3d": timedelta(days=3),
    "30d": timedelta(days=30),
}
BUDGET_MS = 500.0

# A month of alert-engine and ingest activity, so those panels have realistic volumes.
EXTRA_FIXTURES = """
INSERT INTO alerts (fingerprint, rule, kind, severity, state, device_id, commune_code, site_id,
                    device_type, summary, started_at, fired_at, acknowledged_at, acknowledged_by,
                    resolved_at)
SELECT 'bench:' || g, r.rule, 'threshold', r.severity,
       CASE WHEN g % 200 = 0 THEN 'firing' ELSE 'resolved' END,
       d.id, d.commune_code, d.site_id, d.type, 'Cảnh báo thử ' || g,
       now() - (g * interval '11 minutes'), now() - (g * interval '11 minutes'),
       now() - (g * interval '11 minutes') + interval '7 minutes', 'ky-thuat',
       CASE WHEN g % 200 = 0 THEN NULL
            ELSE now() - (g * interval '11 minutes') + (g % 90) * interval '1 minute' END
FROM generate_series(1, 3900) g
JOIN LATERAL (SELECT id, commune_code, site_id, type FROM devices
              ORDER BY md5(id || g) LIMIT 1) d ON true
JOIN LATERAL (SELECT (ARRAY['camera_fps_low','device_absent','link_loss','speaker_signal'])[1 + g % 4]
                     AS rule,
                     (ARRAY['warning','critical','info'])[1 + g % 3] AS severity) r ON true;
"""
# Their timelines, written through the one writer of alert_history (ioc/ops/history.py).
BENCH_TIMELINE = """
SELECT id, fired_at, 'fired', NULL FROM alerts WHERE fingerprint LIKE 'bench:%'
UNION ALL
SELECT id, acknowledged_at, 'acknowledged', 'ky-thuat' FROM alerts WHERE fingerprint LIKE 'bench:%'
UNION ALL
SELECT id, resolved_at, 'resolved', NULL FROM alerts
WHERE fingerprint LIKE 'bench:%' AND resolved_at IS NOT NULL
"""
MORE_FIXTURES = """
INSERT INTO notifications (dedup_key, receiver, channel, group_key, kind, payload, state,
                           attempts, created_at, sent_at)
SELECT 'bench:' || g, 'ky-thuat', 'telegram', 'commune:21025', 'firing', '{}',
       CASE WHEN g % 500 = 0 THEN 'failed' ELSE 'sent' END, 1 + (g % 500 = 0)::int * 7,
       now() - g * interval '11 minutes', now() - g * interval '11 minutes'
FROM generate_series(1, 3900) g;
INSERT INTO quarantine (received_at, last_received_at, topic, reason, payload, payload_size,
                        digest)
SELECT now() - g * interval '2 minutes', now() - g * interval '2 minutes',
       'ioc/v1/21025/ts-cam-01/telemetry', (ARRAY['bad_json','unknown_device','bad_value'])[1 + g % 3],
       '{bad', 4, sha256(g::text::bytea)
FROM generate_series(1, 21600) g;
INSERT INTO ingest_instances (instance, started_at, heartbeat_at, received, written_rows)
VALUES ('ingest-1', now() - interval '1 day', now(), 1, 1),
       ('ingest-2', now() - interval '1 day', now(), 1, 1)
ON CONFLICT DO NOTHING;
"""


def seed(url: str, days: float) -> None:
    """Create and fill the benchmark database unless it already holds telemetry."""
    from ioc.migrate import create_database_if_missing

    create_database_if_missing(url)
    with psycopg.connect(url) as conn:
        exists = conn.execute("SELECT to_regclass('telemetry_points') IS NOT NULL").fetchone()
        if exists and exists[0]:
            row = conn.execute("SELECT count(*) FROM (SELECT 1 FROM telemetry_points LIMIT 1) x")
            one = row.fetchone()
            if one and one[0]:
                return
    script = REPO / "bench" / "seed_history.py"
    subprocess.run(
        [sys.executable, str(script), "--db", url, "--days", str(days), "--migrate"], check=True
    )
    prepare(url)


def prepare(url: str) -> None:
    """Rollups, availability and the alert/notification/quarantine month."""
    from ioc.migrate import apply
    from ioc.ops import history
    from ioc.settings import Settings
    from storage import jobs
    from storage.settings import (
        AvailabilitySettings,
        ReportSettings,
        RetentionSettings,
        RollupSettings,
        StorageSetup,
    )

    apply(url)  # post-apply grants the Grafana role SELECT on everything
    storage = StorageSetup(
        RetentionSettings(),
        RollupSettings(),
        AvailabilitySettings(recompute_days=31),
        ReportSettings(),
    )
    storage = jobs.resolve(Settings(database_url=url), storage)
    jobs.run_rollups(url, storage)
    jobs.run_availability(url, storage)
    with psycopg.connect(url) as conn:
        conn.execute(EXTRA_FIXTURES)
        timeline = conn.execute(BENCH_TIMELINE).fetchall()
        history.write_rows(
            conn, [history.row(a, t, action, actor=who) for a, t, action, who in timeline]
        )
        conn.execute(MORE_FIXTURES)
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def measure(url: str, repeat: int) -> list[dict[str, object]]:
    """p50/p95 of every panel query over every range."""
    results: list[dict[str, object]] = []
    end = datetime.now(UTC)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET ROLE ioc_grafana")
        timescaledb = bool(
            conn.execute(
                "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'"
            ).fetchone()[0]  # type: ignore[index]
        )
        for board in load_dashboards():
            for label, span in RANGES.items():
                start = end - span
                variables = resolve_variables(conn, board, start, end, timescaledb)
                for query in panel_queries(board):
                    ctx = context(start, end, variables, query.min_interval, timescaledb)
                    sql = render(query.sql, ctx)
                    times = []
                    rows = 0
                    for _ in range(repeat + 1):  # the first run warms the cache, not counted
                        t0 = time.perf_counter()
                        _, fetched = execute(conn, sql)
                        times.append((time.perf_counter() - t0) * 1000)
                        rows = len(fetched)
                    times = sorted(times[1:])
                    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
                    result = {
                        "panel": query.name,
                        "range": label,
                        "p50_ms": round(statistics.median(times), 1),
                        "p95_ms": round(p95, 1),
                        "rows": rows,
                    }
                    results.append(result)
                    print(
                        f"panel={query.name!r} range={label} p50_ms={result['p50_ms']} "
                        f"p95_ms={result['p95_ms']} rows={rows}",
                        flush=True,
                    )
    return results


def main(argv: list[str] | None = None) -> int:
    """Command line: seed if asked, time every panel, print lines and a JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="postgresql://postgres@127.0.0.1:5432/ioc_bench_dashboards")
    parser.add_argument("--seed-days", type=float, default=30.0, help="0 = do not seed")
    parser.add_argument("--prepare", action="store_true", help="rerun rollups and fixtures")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    if args.seed_days:
        seed(args.db, args.seed_days)
    if args.prepare:
        prepare(args.db)
    with psycopg.connect(args.db) as conn:
        points = conn.execute("SELECT count(*) FROM telemetry_points").fetchone()
        span = conn.execute("SELECT min(time), max(time) FROM telemetry_points").fetchone()
    results = measure(args.db, args.repeat)
    slowest = sorted(results, key=lambda r: float(r["p95_ms"]), reverse=True)  # type: ignore[arg-type]
    over = [r for r in results if float(r["p95_ms"]) > BUDGET_MS]  # type: ignore[arg-type]
    summary = {
        "telemetry_points": points[0] if points else 0,
        "data_from": str(span[0]) if span else None,
        "data_to": str(span[1]) if span else None,
        "queries": len(results),
        "budget_ms": BUDGET_MS,
        "over_budget": len(over),
        "max_p95_ms": slowest[0]["p95_ms"] if slowest else None,
        "slowest": slowest[:8],
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
