"""Downsampled telemetry: raw points for short steps, the rollup views for long ones.

The rollup views (``telemetry_5m`` / ``telemetry_1h``, storage/) are real-time: they add the
not-yet-materialized tail from raw data, so one query covers the whole range. Their integer-key
forms (``telemetry_5m_keys`` / ``telemetry_1h_keys``) are read when present: a filter on the
device key reaches every branch of those views (and their indexes), whereas a filter on the
text id of the named views is applied only after their join.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from api.models.data import Point, Series
from api.settings import ApiSetup

ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)
NICE_STEPS: tuple[int, ...] = (1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
NICE_STEPS += (10800, 21600, 43200, *(86400 * d for d in (1, 2, 7, 14, 30)))
ROLLUPS = (("telemetry_1h", 3600), ("telemetry_5m", 300))

# The average clamps like the rollups (storage/): avg() of float8 overflows on extreme rows.
RAW = """
SELECT p.metric_id AS metric, date_bin(%(step)s, p.time, %(origin)s) AS time,
       avg(least(greatest(p.value, -1e15), 1e15)) AS avg, min(p.value) AS min, max(p.value) AS max,
       (array_agg(p.value ORDER BY p.time DESC))[1] AS last, count(*) AS count
FROM telemetry_points p
WHERE p.device_key = %(key)s AND p.metric_id = ANY(%(metric_ids)s)
  AND p.time >= %(from)s AND p.time < %(to)s
GROUP BY 1, 2 ORDER BY 1, 2
"""
AGGREGATES = """date_bin(%(step)s, bucket, %(origin)s) AS time,
       coalesce(sum("avg" * "count") / nullif(sum("count"), 0), avg("avg")) AS avg,
       min("min") AS min, max("max") AS max,
       (array_agg("last" ORDER BY bucket DESC))[1] AS last, sum("count")::bigint AS count"""
ROLLUP_KEYS = f"""
SELECT metric_id AS metric, {AGGREGATES}
FROM {{view}}
WHERE device_key = %(key)s AND metric_id = ANY(%(metric_ids)s)
  AND bucket >= %(from)s AND bucket < %(to)s
GROUP BY 1, 2 ORDER BY 1, 2
"""
ROLLUP_NAMES = f"""
SELECT metric, {AGGREGATES}
FROM {{view}}
WHERE device_id = %(device)s AND metric = ANY(%(metrics)s)
  AND bucket >= %(from)s AND bucket < %(to)s
GROUP BY 1, 2 ORDER BY 1, 2
"""
EXISTS = "SELECT to_regclass(%(name)s) IS NOT NULL"
# The oldest hour with data in a range: the hourly rollup view covers history and the raw tail.
FIRST_KEYS = """
SELECT min(bucket) FROM telemetry_1h_keys
WHERE device_key = %(key)s AND metric_id = ANY(%(metric_ids)s)
  AND bucket >= %(hour)s AND bucket < %(to)s
"""
FIRST_NAMES = """
SELECT min(bucket) FROM telemetry_1h
WHERE device_id = %(device)s AND metric = ANY(%(metrics)s)
  AND bucket >= %(hour)s AND bucket < %(to)s
"""


def auto_step(span: timedelta, settings: ApiSetup) -> int:
    """A round step giving about a quarter of the point cap over ``span``."""
    want = span.total_seconds() / max(1, settings.api.telemetry_max_points // 4)
    return next((s for s in NICE_STEPS if s >= want), NICE_STEPS[-1])


def data_start(
    conn: psycopg.Connection,
    device: tuple[str, int],
    metrics: dict[str, tuple[int, str]],
    start: datetime,
    end: datetime,
) -> datetime:
    """Where the data of a range begins (``start`` when unknown), to size the default step:
    ``from=2026-01-01`` on a device that reports since ten minutes gives points, not one bucket.
    """
    statement = FIRST_NAMES
    keys = conn.execute(EXISTS, {"name": "telemetry_1h_keys"}).fetchone()
    if keys and keys[0]:
        statement = FIRST_KEYS
    else:
        named = conn.execute(EXISTS, {"name": "telemetry_1h"}).fetchone()
        if not (named and named[0]):
            return start
    params = {
        "key": device[1],
        "device": device[0],
        "metric_ids": [metric_id for metric_id, _ in metrics.values()],
        "metrics": list(metrics),
        "hour": start.replace(minute=0, second=0, microsecond=0),
        "to": end,
    }
    row = conn.execute(statement, params).fetchone()
    return max(start, row[0]) if row and row[0] else start


def points_for(span: timedelta, step: int) -> int:
    """How many buckets a range spans at ``step`` seconds."""
    return math.ceil(span.total_seconds() / step)


def choose_source(conn: psycopg.Connection, step: int, settings: ApiSetup) -> str:
    """The coarsest existing rollup whose bucket fits the step, else raw."""
    if step < settings.api.raw_max_step_s:
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
    params = {**base, "key": key, "device": device_id, "from": start, "to": end}
    statement: sql.Composed | str = RAW
    if source != "raw":
        keys = conn.execute(EXISTS, {"name": source + "_keys"}).fetchone()
        template = ROLLUP_KEYS if keys and keys[0] else ROLLUP_NAMES
        statement = sql.SQL(template).format(
            view=sql.Identifier(source + "_keys" if template is ROLLUP_KEYS else source)
        )
    names: dict[int | str, str] = {metric_id: name for name, (metric_id, _) in metrics.items()}
    by_metric: dict[str, list[Point]] = defaultdict(list)
    with conn.cursor(row_factory=dict_row) as cur:
        for row in cur.execute(statement, params):
            metric = row.pop("metric")
            by_metric[str(names.get(metric, metric))].append(Point(**row))
    return [
        Series(metric=m, unit=unit, points=by_metric.get(m, [])) for m, (_, unit) in metrics.items()
    ]
