"""Dashboard 1: IOC overview — map, counters per type, open incidents, availability."""

from __future__ import annotations

from grafana.panels import (
    JSON,
    SEVERITY_MAPPING,
    STATE_MAPPING,
    dashboard,
    panel,
    row,
    stat,
    table,
    thresholds,
    timeseries,
)
from grafana.sql import TZ, alerts_filter, devices_filter

DEVICE_MAP = f"""
SELECT d.id, d.name, dt.name_vi AS type_name, coalesce(s.name, '') AS site,
       d.lat AS latitude, d.lon AS longitude,
       coalesce(r.state, 'unknown') AS state,
       coalesce(r.root_cause_id, '') AS root_cause
FROM devices d
JOIN device_types dt ON dt.type = d.type
LEFT JOIN sites s ON s.id = d.site_id
LEFT JOIN device_reachability r ON r.device_id = d.id
WHERE {devices_filter()} AND d.lat IS NOT NULL AND d.lon IS NOT NULL
ORDER BY d.id
"""


def _count_by_type(states: str) -> str:
    return f"""
SELECT dt.name_vi AS type_name,
       count(*) FILTER (WHERE coalesce(r.state, 'unknown') IN ({states}))::int AS devices
FROM devices d
JOIN device_types dt ON dt.type = d.type
LEFT JOIN device_reachability r ON r.device_id = d.id
WHERE {devices_filter()}
GROUP BY dt.name_vi
ORDER BY dt.name_vi
"""


OPEN_INCIDENTS = f"""
SELECT a.severity, a.summary, coalesce(d.name, a.device_id, '') AS device,
       coalesce(a.device_type, '') AS device_type, a.state,
       coalesce(a.fired_at, a.started_at) AS since,
       extract(epoch FROM now() - coalesce(a.fired_at, a.started_at))::bigint AS age_s,
       a.acknowledged_by IS NOT NULL AS acknowledged,
       coalesce(root.summary, '') AS caused_by
FROM alerts a
LEFT JOIN devices d ON d.id = a.device_id
LEFT JOIN alerts root ON root.id = a.suppressed_by
WHERE a.state <> 'resolved' AND {alerts_filter()}
ORDER BY CASE a.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,
         coalesce(a.fired_at, a.started_at)
LIMIT 500
"""

PROBLEM_DEVICES = f"""
SELECT d.id, d.name, dt.name_vi AS type_name, coalesce(s.name, '') AS site,
       coalesce(r.state, 'unknown') AS state, r.since,
       coalesce(r.root_cause_id, '') AS root_cause, st.last_seen
FROM devices d
JOIN device_types dt ON dt.type = d.type
LEFT JOIN sites s ON s.id = d.site_id
LEFT JOIN device_reachability r ON r.device_id = d.id
LEFT JOIN device_status st ON st.device_id = d.id
WHERE {devices_filter()} AND coalesce(r.state, 'unknown') <> 'online'
ORDER BY CASE coalesce(r.state, 'unknown') WHEN 'offline' THEN 0 WHEN 'unreachable' THEN 1
         WHEN 'stale' THEN 2 ELSE 3 END, r.since
LIMIT 500
"""

# Availability = online / (online + offline): time cut off by an uplink (unreachable) or in
# maintenance is not held against the device; it is shown in the reports separately.
_AVAIL = "sum(a.online_s)::float8 / nullif(sum(a.online_s) + sum(a.offline_s), 0)"
AVAILABILITY = f"""
SELECT dt.name_vi AS type_name,
       {_AVAIL.replace("a.", "t.")} AS today,
       {_AVAIL.replace("a.", "m.")} AS last_30_days
FROM devices d
JOIN device_types dt ON dt.type = d.type
LEFT JOIN availability_daily t
       ON t.device_id = d.id AND t.day = (now() AT TIME ZONE '{TZ}')::date
LEFT JOIN availability_daily m
       ON m.device_id = d.id AND m.day > (now() AT TIME ZONE '{TZ}')::date - 30
      AND m.day <= (now() AT TIME ZONE '{TZ}')::date
WHERE {devices_filter()}
GROUP BY dt.name_vi
ORDER BY dt.name_vi
"""

AVAILABILITY_DAILY = f"""
SELECT (a.day::timestamp AT TIME ZONE '{TZ}') AS time, dt.name_vi AS metric,
       {_AVAIL} AS value
FROM availability_daily a
JOIN devices d ON d.id = a.device_id
JOIN device_types dt ON dt.type = d.type
WHERE a.day BETWEEN ($__timeFrom()::timestamptz AT TIME ZONE '{TZ}')::date - 1
                AND ($__timeTo()::timestamptz AT TIME ZONE '{TZ}')::date
  AND {devices_filter()}
GROUP BY 1, 2
ORDER BY 1, 2
"""

STATE_OVERRIDE = {
    "matcher": {"id": "byName", "options": "state"},
    "properties": [
        {"id": "mappings", "value": [STATE_MAPPING]},
        {"id": "custom.cellOptions", "value": {"type": "color-background"}},
    ],
}


def _geomap() -> JSON:
    layer = {
        "type": "markers",
        "name": "Thiết bị",
        "config": {
            "showLegend": True,
            "style": {
                "size": {"fixed": 7},
                "color": {"field": "state", "fixed": "grey"},
                "opacity": 0.9,
                "symbol": {"mode": "fixed", "fixed": "img/icons/marker/circle.svg"},
                "text": {"field": "", "fixed": "", "mode": "fixed"},
            },
        },
        "location": {"mode": "coords", "latitude": "latitude", "longitude": "longitude"},
        "tooltip": True,
    }
    return panel(
        "geomap",
        "Bản đồ thiết bị",
        DEVICE_MAP,
        description="Every device at its location, coloured by reachability "
        "(green online, yellow stale, red offline, orange unreachable behind a failed uplink).",
        fmt="table",
        defaults={"mappings": [STATE_MAPPING], "color": {"mode": "thresholds"}},
        options={
            "view": {"id": "fit", "lat": 0, "lon": 0, "zoom": 14, "allLayers": True},
            "controls": {"showZoom": True, "mouseWheelZoom": True, "showAttribution": True},
            # The API's own MBTiles tiles (same origin through the proxy): never a public
            # tile server; without a file the markers stand on an empty background.
            "basemap": {
                "type": "xyz",
                "name": "Bản đồ nền",
                "config": {"url": "/tiles/{z}/{x}/{y}.png", "attribution": "IOC_API_MAP_MBTILES"},
            },
            "layers": [layer],
            "tooltip": {"mode": "details"},
        },
        size=(14, 16),
    )


def build() -> JSON:
    """The IOC overview dashboard."""
    counters = [
        ("Trực tuyến", "'online'", "green", "Devices reporting normally, per type."),
        ("Mất kết nối", "'offline', 'stale'", "red", "Offline or late reports (own fault)."),
        (
            "Không tới được",
            "'unreachable', 'unobserved'",
            "orange",
            "Cut off because an uplink is down, or not observed while its edge collector is down.",
        ),
    ]
    stats = [
        stat(
            title,
            _count_by_type(states),
            description=desc,
            defaults={"color": {"mode": "fixed", "fixedColor": color}},
            size=(10, 5),
        )
        for title, states, color, desc in counters
    ]
    panels = [
        _geomap(),
        *stats,
        table(
            "Sự cố đang mở",
            OPEN_INCIDENTS,
            {
                "severity": "Mức độ",
                "summary": "Sự cố",
                "device": "Thiết bị",
                "device_type": "Loại",
                "state": "Trạng thái",
                "since": "Từ lúc",
                "age_s": "Thời gian",
                "acknowledged": "Đã xác nhận",
                "caused_by": "Do sự cố gốc",
            },
            description="Open alerts (pending and firing), most severe and oldest first.",
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "severity"},
                    "properties": [
                        {"id": "mappings", "value": [SEVERITY_MAPPING]},
                        {"id": "custom.cellOptions", "value": {"type": "color-background"}},
                    ],
                },
                {
                    "matcher": {"id": "byName", "options": "age_s"},
                    "properties": [{"id": "unit", "value": "dtdurations"}],
                },
            ],
            size=(24, 9),
        ),
        row("Độ sẵn sàng"),
        table(
            "Độ sẵn sàng: hôm nay và 30 ngày",
            AVAILABILITY,
            {"type_name": "Loại", "today": "Hôm nay", "last_30_days": "30 ngày qua"},
            description="Online time / (online + offline) per device type, from the daily "
            "availability table; unreachable and maintenance time are not counted against "
            "the device.",
            unit="percentunit",
            defaults={
                "decimals": 2,
                "min": 0,
                "max": 1,
                "thresholds": thresholds((None, "red"), (0.95, "orange"), (0.99, "green")),
            },
            custom={"cellOptions": {"type": "gauge", "mode": "basic"}},
            size=(10, 8),
        ),
        timeseries(
            "Độ sẵn sàng theo ngày",
            AVAILABILITY_DAILY,
            unit="percentunit",
            description="Daily availability per device type over the selected range.",
            defaults={"min": 0, "max": 1},
            custom={"drawStyle": "bars", "fillOpacity": 60},
            size=(14, 8),
        ),
        table(
            "Thiết bị không trực tuyến",
            PROBLEM_DEVICES,
            {
                "id": "Mã",
                "name": "Thiết bị",
                "type_name": "Loại",
                "site": "Địa điểm",
                "state": "Trạng thái",
                "since": "Từ lúc",
                "root_cause": "Nguyên nhân gốc",
                "last_seen": "Lần cuối",
            },
            description="Devices that are not online now, with the uplink blamed when unreachable.",
            overrides=[STATE_OVERRIDE],
            size=(24, 9),
        ),
    ]
    return dashboard(
        "ioc-overview",
        "Tổng quan IOC",
        "IOC overview: device map, counters per type, open incidents, availability.",
        panels,
    )
