"""Device and commune pages, built from the REST routes' own functions (same scope checks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse

from api.console import chart, incidents, tiles
from api.console.session import SessionDep
from api.console.views import page
from api.deps import ConnDep, Page, SettingsDep
from api.models.common import COMMUNE_PATTERN
from api.models.registry import DevicePublic, DeviceState
from api.routes import communes as commune_routes
from api.routes.alerts import list_alerts
from api.routes.device_data import device_events, device_state, device_telemetry
from api.routes.devices import HEALTH_JOIN, DeviceId, fetch, list_devices
from api.routes.overview import overview

router = APIRouter()

# The open incidents of a commune: counted exactly as the incidents page lists them.
COMMUNE_LIST = f"""
SELECT c.code, c.name,
       (SELECT count(*) FROM devices d
        WHERE d.commune_code = c.code AND d.decommissioned_at IS NULL) AS devices,
       (SELECT count(*) FROM alerts a WHERE a.commune_code = c.code AND a.state <> 'resolved'
          AND {incidents.ROOT}) AS firing
FROM communes c WHERE (%(scope)s::text[] IS NULL OR c.code = ANY(%(scope)s))
ORDER BY c.name
"""
# Reachable but failed (a camera without video): counted as failed, not as online or late, so
# the state columns still add up to the total.
FAILED_BY_TYPE = f"""
SELECT d.type, count(*) FILTER (WHERE r.state = 'online'), count(*) FILTER (WHERE r.state = 'stale')
FROM devices d {HEALTH_JOIN}
JOIN device_reachability r ON r.device_id = d.id
WHERE d.commune_code = %(code)s AND d.decommissioned_at IS NULL AND h.health = 'failed'
GROUP BY d.type
"""
DEVICES_PER_PAGE = 200
NAMES = """
SELECT c.name AS commune, s.name AS site
FROM communes c LEFT JOIN sites s ON s.id = %(site)s WHERE c.code = %(commune)s
"""


def _dot(device: DevicePublic) -> str:
    """The map colour: reachability, and health where the device is reachable."""
    if device.state in ("online", "stale") and device.health in ("failed", "degraded"):
        return device.health
    return device.state


@router.get("/devices/{device_id}", response_class=HTMLResponse)
def device_page(
    request: Request,
    conn: ConnDep,
    session: SessionDep,
    settings: SettingsDep,
    device_id: DeviceId,
) -> HTMLResponse:
    """State and why, last seen, latest values, 24 h of the key metric, events, alerts."""
    user = session.user
    device = fetch(conn, device_id, user.scope)
    state = device_state(conn, user, device_id)
    metric = chart.key_metric(device.type)
    line = None
    unit = ""
    end = datetime.now(UTC)
    start = end - timedelta(hours=24)
    if metric is not None:
        try:
            series = device_telemetry(conn, user, settings, device_id, [metric], start, end, None)
        except HTTPException:  # the metric is not (yet) known for this type: no chart
            series = None
        if series is not None and series.series:
            unit = series.series[0].unit
            line = chart.polyline([(p.time, p.avg) for p in series.series[0].points], start, end)
    events = device_events(conn, user, settings, Page(settings, 10, 0), device_id, None, None, None)
    alerts = list_alerts(
        conn,
        user,
        Page(settings, min(20, settings.api.page_max), 0),
        None,
        None,
        None,
        device_id,
        None,
        None,
        None,
    )
    root = fetch(conn, state.root_cause_id, user.scope) if state.root_cause_id else None
    row = conn.execute(NAMES, {"site": device.site_id, "commune": device.commune_code}).fetchone()
    return page(
        request,
        "device.html",
        {
            "d": device,
            "s": state,
            "root": root,
            "names": {"commune": row[0], "site": row[1]} if row else {},
            "metric": metric,
            "unit": unit,
            "line": line,
            "events": events.data,
            "alerts": alerts.data,
        },
        session,
    )


@router.get("/communes", response_class=HTMLResponse)
def commune_list(request: Request, conn: ConnDep, session: SessionDep) -> HTMLResponse:
    """The communes the user sees, with device and firing-alert counts."""
    rows = conn.execute(COMMUNE_LIST, {"scope": session.user.scope}).fetchall()
    return page(request, "communes.html", {"communes": rows}, session)


@router.get("/communes/{code}", response_class=HTMLResponse)
def commune_page(
    request: Request,
    conn: ConnDep,
    session: SessionDep,
    settings: SettingsDep,
    code: Annotated[str, Path(pattern=COMMUNE_PATTERN)],
    state: Annotated[DeviceState | None, Query()] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> HTMLResponse:
    """Counts per type and state, today's availability, the device list and map."""
    user = session.user
    commune = commune_routes.get_commune(conn, user, code)
    summary = overview(conn, user, settings, code)
    devices = list_devices(
        conn,
        user,
        Page(settings, min(DEVICES_PER_PAGE, settings.api.page_max), offset),
        code,
        None,
        None,
        state,
        None,
    )
    # Tiles from the configured server, else this server's MBTiles, else a plain schematic.
    url = settings.console.map_tile_url or (
        "/tiles/{z}/{x}/{y}.png" if settings.api.map_mbtiles else ""
    )
    tile_map = tiles.layout(
        [(d.lat, d.lon, d.id, _dot(d)) for d in devices.data if d.lat is not None], url
    )
    return page(
        request,
        "commune.html",
        {
            "c": commune,
            "o": summary,
            "devices": devices,
            "state": state,
            "offset": offset,
            "size": min(DEVICES_PER_PAGE, settings.api.page_max),
            "map": tile_map,
            "failed": {
                kind: (online, stale)
                for kind, online, stale in conn.execute(FAILED_BY_TYPE, {"code": code})
            },
            "incidents": incidents.open_count(conn, user.scope, code),
        },
        session,
    )
