"""Downsampled telemetry: raw points for short steps, the rollup views for long ones.

The rollup views (``telemetry_5m`` / ``telemetry_1h``, storage/) are real-time: they add the
not-yet-materialized tail from raw data, so one query covers the whole range.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from api.models.data import Point, Series
from api.settings import ApiSettings

ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
NICE_STEPS: tuple[int, ...] = (1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
NICE_STEPS += (10800, 21600, 43200, *(86400 * d for d in (1, 2, 7, 14, 30)))
ROLLUPS = (("telemetry_1h", 3600), ("telemetry_5m", 300))

RAW = """
SELECT m.name AS metric, date_bin(%(step)s, p.time, %(origin)s) AS time,
       avg(p.value) AS avg, min(p.value) AS min, max(p.value) AS max,
       (array_agg(p.value ORDER BY p.time DESC))[1] AS last, count(*) AS count
FROM telemetry_points p JOIN metrics m ON m.id = p.metric_id
WHERE p.device_key = %(key)s AND p.metric_id = ANY(%(metric_ids)s)
  AND p.time >= %(from)s AND p.time < %(to)s
GROUP BY 1, 2 ORDER BY 1, 2
"""
ROLLUP = """
SELECT metric, date_bin(%(step)s, bucket, %(origin)s) AS time,
       coalesce(sum("avg" * "count") / nullif(sum("count"), 0), avg("avg")) AS avg,
       min("min") AS min, max("max") AS max,
       (array_agg("last" ORDER BY bucket DESC))[1] AS last, sum("count")::bigint AS count
FROM {view}
WHERE device_id = %(device)s AND metric = ANY(%(metrics)s)
  AND bucket >= %(from)s AND bucket < %(to)s
GROUP BY 1, 2 ORDER BY 1, 2
"""
EXISTS = "SELECT to_regclass(%(name)s) IS NOT NULL"


def auto_step(span: timedelta, settings: ApiSettings) -> int:
    """A round step giving about a quarter of the point cap over ``span``."""
    want = span.total_seconds() / max(1, settings.api_telemetry_max_points // 4)
    return next((s for s in NICE_STEPS if s >= want), NICE_STEPS[-1])


def points_for(span: timedelta, step: int) -> int:
    """How many buckets a range spans at ``step`` seconds."""
    return math.ceil(span.total_seconds() / step)


def choose_source(conn: psycopg.Connection, step: int, settings: ApiSettings) -> str:
    """The coarsest existing rollup whose bucket fits the step, else raw."""
    if step < settings.api_raw_max_step_s:
        return "raw"
    for name, bucket in ROLLUPS:
        if step >= bucket and step % bucket == 0:
            row = conn.execute(EXISTS, {"name": name}).fetchone()
            if row and row[0]:
                return name
    return "raw"


def query(
    conn: psycopg.Connection,
    device: tuple[str, int],
    metrics: dict[str, tuple[int, str]],
    start: datetime,
    end: datetime,
    step: int,
    source: str,
) -> list[Series]:
    """The series of each metric (name → (id, unit)) between ``start`` and ``end``."""
    device_id, key = device
    base = {
        "step": timedelta(seconds=step),
        "origin": ORIGIN,
        "metrics": list(metrics),
        "metric_ids": [metric_id for metric_id, _ in metrics.values()],
    }
    parts: list[tuple[sql.Composed | str, dict[str, object]]] = []
    if source == "raw":
        parts.append((RAW, {**base, "key": key, "from": start, "to": end}))
    else:
        view = sql.SQL(ROLLUP).format(view=sql.Identifier(source))
        parts.append((view, {**base, "device": device_id, "from": start, "to": end}))
    by_metric: dict[str, list[Point]] = defaultdict(list)
    with conn.cursor(row_factory=dict_row) as cur:
        for statement, params in parts:
            for row in cur.execute(statement, params):
                by_metric[row.pop("metric")].append(Point(**row))
    return [
        Series(metric=m, unit=unit, points=by_metric.get(m, [])) for m, (_, unit) in metrics.items()
    ]
