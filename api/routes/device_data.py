"""What a device reports: current state, downsampled telemetry, events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from psycopg.rows import class_row

from api import telemetry
from api.deps import ConnDep, CurrentUser, PageDep, SettingsDep, invalid
from api.models.common import Instant
from api.models.data import (
    AlertBrief,
    DeviceStatePublic,
    EventPublic,
    EventsPublic,
    LatestValue,
    TelemetryPublic,
)
from api.routes.devices import DeviceId, fetch
from api.sqlutil import fetch_page

router = APIRouter(prefix="/devices", tags=["device data"])

STATUS = """
SELECT d.key, s.online, s.last_seen, r.root_cause_id
FROM devices d
LEFT JOIN device_status s ON s.device_id = d.id
LEFT JOIN device_reachability r ON r.device_id = d.id
WHERE d.id = %(id)s
"""
LATEST = """
SELECT l.metric, l.value, l.time, coalesce(m.unit, '') AS unit
FROM device_latest l LEFT JOIN metrics m ON m.name = l.metric
WHERE l.device_id = %(id)s ORDER BY l.metric
"""
OPEN_ALERTS = """
SELECT id, rule, severity, state, summary, started_at,
       (suppressed_by IS NOT NULL OR silenced_by <> '{}') AS suppressed,
       acknowledged_at IS NOT NULL AS acknowledged
FROM alerts WHERE device_id = %(id)s AND state <> 'resolved'
ORDER BY started_at DESC LIMIT 100
"""
METRICS = """
SELECT m.name, m.id, m.unit FROM metrics m
JOIN device_type_metrics tm ON tm.metric_id = m.id
WHERE tm.type = %(type)s
"""
EVENTS_WHERE = """
WHERE device_id = %(id)s AND time >= %(from)s AND time < %(to)s
  AND (%(type)s::text IS NULL OR type = %(type)s)
"""
EVENTS = (
    "SELECT time, device_id, seq, type, severity, data, received_at FROM device_events"
    + EVENTS_WHERE
    + "ORDER BY time DESC, seq DESC LIMIT %(limit)s OFFSET %(offset)s"
)
EVENTS_COUNT = "SELECT count(*) FROM device_events" + EVENTS_WHERE

From = Annotated[
    Instant | None,
    Query(alias="from", description="Start (RFC 3339 with offset, 1970 to 9000 UTC)."),
]
To = Annotated[
    Instant | None, Query(description="End (RFC 3339 with offset, before 9000 UTC); default now.")
]


def time_range(
    start: datetime | None, end: datetime | None, default: timedelta, max_days: int
) -> tuple[datetime, datetime]:
    """Resolve and check a [from, to) range: ordered and no longer than ``max_days``."""
    end = end or datetime.now(UTC)
    start = start or end - default
    if start >= end:
        raise invalid("from", "from must be before to", "query")
    if end - start > timedelta(days=max_days):
        raise invalid("from", f"the range may span at most {max_days} days", "query")
    return start, end


@router.get("/{device_id}/state", response_model=DeviceStatePublic)
def device_state(conn: ConnDep, user: CurrentUser, device_id: DeviceId) -> DeviceStatePublic:
    """Latest values, reachability, last seen and open alerts of a device."""
    device = fetch(conn, device_id, user.scope)
    status = conn.execute(STATUS, {"id": device_id}).fetchone()
    _, online, last_seen, root_cause = status or (None, None, None, None)
    with conn.cursor(row_factory=class_row(LatestValue)) as cur:
        latest = cur.execute(LATEST, {"id": device_id}).fetchall()
    with conn.cursor(row_factory=class_row(AlertBrief)) as cur:
        alerts = cur.execute(OPEN_ALERTS, {"id": device_id}).fetchall()
    return DeviceStatePublic(
        device_id=device.id,
        type=device.type,
        commune_code=device.commune_code,
        state=device.state,
        state_since=device.state_since,
        health=device.health,
        symptom=device.symptom,
        root_cause_id=root_cause,
        online=online,
        last_seen=last_seen,
        decommissioned_at=device.decommissioned_at,
        latest=latest,
        open_alerts=alerts,
    )


@router.get("/{device_id}/telemetry", response_model=TelemetryPublic)
def device_telemetry(
    conn: ConnDep,
    user: CurrentUser,
    settings: SettingsDep,
    device_id: DeviceId,
    metric: Annotated[list[str], Query(min_length=1, max_length=10, description="Metric name(s).")],
    start: From = None,
    to: To = None,
    step: Annotated[
        int | None, Query(ge=1, le=2_592_000, description="Bucket size in seconds; default auto.")
    ] = None,
) -> TelemetryPublic:
    """Downsampled series (avg/min/max/last/count per bucket), newest bucket last."""
    device = fetch(conn, device_id, user.scope)
    start, to = time_range(start, to, timedelta(hours=24), settings.api.telemetry_max_days)
    known = {name: (mid, unit) for name, mid, unit in conn.execute(METRICS, {"type": device.type})}
    unknown = [m for m in metric if m not in known]
    if unknown:
        raise invalid(
            "metric",
            f"unknown metric {unknown[0]!r} for a {device.type}; known: {', '.join(sorted(known))}",
            "query",
        )
    key = conn.execute(STATUS, {"id": device_id}).fetchone()
    device_ref = (device_id, key[0] if key else -1)
    wanted = {m: known[m] for m in dict.fromkeys(metric)}
    begins = start
    if step is None:
        # Sized from where the data begins, so a long range over recent data still has points.
        begins = telemetry.data_start(conn, device_ref, wanted, start, to)
        step = telemetry.auto_step(to - begins, settings)
    points = telemetry.points_for(to - begins, step)
    if points > settings.api.telemetry_max_points:
        minimum = -(-int((to - start).total_seconds()) // settings.api.telemetry_max_points)
        raise invalid(
            "step",
            f"{points} points per metric exceed the maximum of "
            f"{settings.api.telemetry_max_points}; use step >= {minimum}",
            "query",
        )
    source = telemetry.choose_source(conn, step, settings)
    series = telemetry.query(
        conn,
        device_ref,
        wanted,
        start,
        to,
        step,
        source,
    )
    return TelemetryPublic(
        device_id=device_id, from_=start, to=to, step_s=step, source=source, series=series
    )


@router.get("/{device_id}/events", response_model=EventsPublic)
def device_events(
    conn: ConnDep,
    user: CurrentUser,
    settings: SettingsDep,
    page: PageDep,
    device_id: DeviceId,
    start: From = None,
    to: To = None,
    type: Annotated[str | None, Query(max_length=64, description="Event type.")] = None,
) -> EventsPublic:
    """Events of a device, newest first (default: the last 30 days)."""
    fetch(conn, device_id, user.scope)
    start, to = time_range(start, to, timedelta(days=30), settings.api.telemetry_max_days)
    params = {
        "id": device_id,
        "from": start,
        "to": to,
        "type": type,
        "limit": page.limit,
        "offset": page.offset,
    }
    rows, count = fetch_page(conn, EVENTS, EVENTS_COUNT, params, EventPublic)
    return EventsPublic(data=rows, count=count, limit=page.limit, offset=page.offset)
