"""The IOC wall: counts per type and state, open incidents by severity, availability today."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import psycopg
from fastapi import APIRouter, Query
from psycopg.rows import class_row

from api.deps import ConnDep, CurrentUser, SettingsDep, not_found
from api.models.common import COMMUNE_PATTERN
from api.models.overview import (
    Availability,
    OverviewPublic,
    SeverityCounts,
    TypeAvailability,
    TypeCounts,
)

router = APIRouter(tags=["overview"])

SCOPE = """(%(scope)s::text[] IS NULL OR d.commune_code = ANY(%(scope)s))
  AND (%(commune)s::text IS NULL OR d.commune_code = %(commune)s)"""
COMMUNE_VISIBLE = """
SELECT 1 FROM communes WHERE code = %(commune)s
  AND (%(scope)s::text[] IS NULL OR code = ANY(%(scope)s))
"""
BY_TYPE = f"""
SELECT d.type, count(*) AS total,
       count(*) FILTER (WHERE r.state = 'online') AS online,
       count(*) FILTER (WHERE r.state = 'stale') AS stale,
       count(*) FILTER (WHERE r.state = 'offline') AS offline,
       count(*) FILTER (WHERE r.state = 'unreachable') AS unreachable,
       count(*) FILTER (WHERE r.state IS NULL OR r.state = 'unknown') AS unknown
FROM devices d LEFT JOIN device_reachability r ON r.device_id = d.id
WHERE d.decommissioned_at IS NULL AND {SCOPE}
GROUP BY d.type ORDER BY d.type
"""
BY_SEVERITY = """
SELECT a.severity,
       count(*) FILTER (WHERE NOT s.muted) AS open,
       count(*) FILTER (WHERE NOT s.muted AND a.acknowledged_at IS NULL) AS unacknowledged,
       count(*) FILTER (WHERE s.muted) AS suppressed
FROM alerts a
CROSS JOIN LATERAL (SELECT a.suppressed_by IS NOT NULL OR a.silenced_by <> '{}' AS muted) s
WHERE a.state = 'firing'
  AND (%(scope)s::text[] IS NULL OR a.commune_code = ANY(%(scope)s))
  AND (%(commune)s::text IS NULL OR a.commune_code = %(commune)s)
GROUP BY a.severity
ORDER BY array_position(ARRAY['critical', 'warning', 'info'], a.severity)
"""
DAILY_EXISTS = "SELECT to_regclass('availability_daily') IS NOT NULL"
DAILY = f"""
SELECT d.type, sum(a.online_s) AS up_s, sum(a.offline_s) AS down_s
FROM availability_daily a JOIN devices d ON d.id = a.device_id
WHERE a.day = %(day)s AND d.decommissioned_at IS NULL AND {SCOPE}
GROUP BY d.type ORDER BY d.type
"""
# Time-weighted reachability since the start of the day; unreachable time is not the device's
# fault and stale devices still report, so up = online + stale, down = offline.
FROM_CHANGES = f"""
WITH dev AS (
    SELECT d.id, d.type FROM devices d WHERE d.decommissioned_at IS NULL AND {SCOPE}
),
ch AS (
    SELECT c.device_id, c.time, c.state FROM device_reachability_changes c
    WHERE c.time >= %(start)s AND c.time < now() AND c.device_id IN (SELECT id FROM dev)
    UNION ALL
    -- The state each device was in when the day began (one index probe per device).
    SELECT dev.id, %(start)s, coalesce(before.state, r.state)
    FROM dev
    LEFT JOIN LATERAL (
        SELECT c.state FROM device_reachability_changes c
        WHERE c.device_id = dev.id AND c.time < %(start)s ORDER BY c.time DESC LIMIT 1
    ) before ON true
    LEFT JOIN device_reachability r ON r.device_id = dev.id AND r.since < %(start)s
    WHERE before.state IS NOT NULL OR r.state IS NOT NULL
),
seg AS (
    SELECT device_id, state, time,
           lead(time, 1, now()) OVER (PARTITION BY device_id ORDER BY time) AS until
    FROM ch
)
SELECT dev.type,
       coalesce(sum(extract(epoch FROM seg.until - seg.time))
                FILTER (WHERE seg.state IN ('online', 'stale')), 0)::float8 AS up_s,
       coalesce(sum(extract(epoch FROM seg.until - seg.time))
                FILTER (WHERE seg.state = 'offline'), 0)::float8 AS down_s
FROM seg JOIN dev ON dev.id = seg.device_id
GROUP BY dev.type ORDER BY dev.type
"""


def _percent(up: float, down: float) -> float | None:
    return round(100.0 * up / (up + down), 3) if up + down > 0 else None


def availability(
    conn: psycopg.Connection, params: dict[str, Any], day: date, start: datetime
) -> Availability:
    """Today's availability from the daily table when it has today, else from transitions."""
    rows: list[tuple[str, float, float]] = []
    source = "availability_daily"
    exists = conn.execute(DAILY_EXISTS).fetchone()
    if exists and exists[0]:
        rows = conn.execute(DAILY, {**params, "day": day}).fetchall()
    if not rows:
        source = "reachability_changes"
        rows = conn.execute(FROM_CHANGES, {**params, "start": start}).fetchall()
    by_type = [
        TypeAvailability(
            type=t, percent=_percent(up or 0, down or 0), up_s=up or 0, down_s=down or 0
        )
        for t, up, down in rows
    ]
    up = sum(t.up_s for t in by_type)
    down = sum(t.down_s for t in by_type)
    return Availability(day=day, source=source, percent=_percent(up, down), by_type=by_type)


@router.get("/overview", response_model=OverviewPublic)
def overview(
    conn: ConnDep,
    user: CurrentUser,
    settings: SettingsDep,
    commune: Annotated[str | None, Query(pattern=COMMUNE_PATTERN)] = None,
) -> OverviewPublic:
    """Counts per device type and state, open incidents by severity, availability today."""
    params = {"scope": user.scope, "commune": commune}
    if commune is not None and conn.execute(COMMUNE_VISIBLE, params).fetchone() is None:
        raise not_found("commune", commune)
    with conn.cursor(row_factory=class_row(TypeCounts)) as cur:
        by_type = cur.execute(BY_TYPE, params).fetchall()
    with conn.cursor(row_factory=class_row(SeverityCounts)) as cur:
        by_severity = cur.execute(BY_SEVERITY, params).fetchall()
    zone = ZoneInfo(settings.api.timezone)
    now = datetime.now(UTC)
    day = now.astimezone(zone).date()
    start = datetime.combine(day, time(), zone)
    return OverviewPublic(
        commune=commune,
        generated_at=now,
        devices=sum(t.total for t in by_type),
        by_type=by_type,
        open_incidents=sum(s.open for s in by_severity),
        by_severity=by_severity,
        availability_today=availability(conn, params, day, start),
    )
