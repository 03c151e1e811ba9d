"""Dashboard 5: alerts — history, mean time to acknowledge / resolve, noisiest devices."""

from __future__ import annotations

from grafana.panels import JSON, SEVERITY_MAPPING, dashboard, panel, stat, table, timeseries
from grafana.sql import TZ, alerts_filter
from ioc import glossary

# Grafana's macro regex stops at the first ')': macro arguments must be plain columns.
FIRED = "a.fired_at"

COUNTS = f"""
SELECT count(*) FILTER (WHERE a.state = 'firing' AND a.acknowledged_at IS NULL)::int
         AS "Chưa xác nhận",
       count(*) FILTER (WHERE a.state <> 'resolved' AND a.acknowledged_at IS NOT NULL)::int
         AS "Đang xử lý",
       count(*) FILTER (WHERE $__timeFilter({FIRED}))::int AS "Phát sinh trong kỳ",
       count(*) FILTER (WHERE $__timeFilter(a.resolved_at))::int AS "Đã xử lý trong kỳ"
FROM alerts a
WHERE {alerts_filter()}
  AND (a.state <> 'resolved' OR a.resolved_at >= $__timeFrom()::timestamptz)
"""

MEAN_TIMES = f"""
SELECT avg(extract(epoch FROM a.acknowledged_at - {FIRED})) AS "Thời gian xác nhận TB (MTTA)",
       avg(extract(epoch FROM a.resolved_at - {FIRED})) AS "Thời gian khắc phục TB (MTTR)"
FROM alerts a
WHERE $__timeFilter({FIRED}) AND a.suppressed_by IS NULL
  AND {alerts_filter()}
"""

FIRED_SERIES = f"""
SELECT $__timeGroupAlias({FIRED}, $__interval), a.severity AS metric, count(*) AS value
FROM alerts a
WHERE $__timeFilter({FIRED}) AND a.state <> 'pending' AND {alerts_filter()}
GROUP BY 1, 2
ORDER BY 1, 2
"""

_DAY = f"(date_trunc('day', {FIRED} AT TIME ZONE '{TZ}') AT TIME ZONE '{TZ}')"
MEAN_TIMES_DAILY = f"""
SELECT {_DAY} AS time,
       avg(extract(epoch FROM a.acknowledged_at - {FIRED})) AS "MTTA",
       avg(extract(epoch FROM a.resolved_at - {FIRED})) AS "MTTR"
FROM alerts a
WHERE $__timeFilter({FIRED}) AND a.suppressed_by IS NULL
  AND {alerts_filter()}
GROUP BY 1
ORDER BY 1
"""

NOISY_DEVICES = f"""
SELECT a.device_id, coalesce(d.name, '') AS name, coalesce(a.device_type, '') AS device_type,
       count(*) AS alerts,
       count(*) FILTER (WHERE a.severity = 'critical') AS critical,
       count(DISTINCT a.rule) AS rules,
       max(a.started_at) AS last_fired
FROM alerts a
LEFT JOIN devices d ON d.id = a.device_id
WHERE $__timeFilter(a.started_at) AND a.device_id IS NOT NULL AND {alerts_filter()}
GROUP BY a.device_id, d.name, a.device_type
ORDER BY alerts DESC, a.device_id
LIMIT 15
"""

NOISY_RULES = f"""
SELECT a.rule, count(*) AS alerts
FROM alerts a
WHERE $__timeFilter(a.started_at) AND {alerts_filter()}
GROUP BY a.rule
ORDER BY alerts DESC, a.rule
LIMIT 10
"""

HISTORY = f"""
SELECT h.time, a.severity, a.summary, h.action, coalesce(h.actor, '') AS actor,
       coalesce(h.note, '') AS note, coalesce(a.device_id, '') AS device_id, a.id AS alert_id
FROM alert_history h
JOIN alerts a ON a.id = h.alert_id
WHERE $__timeFilter(h.time) AND {alerts_filter()}
ORDER BY h.time DESC
LIMIT 500
"""

SEVERITY_OVERRIDE = {
    "matcher": {"id": "byName", "options": "severity"},
    "properties": [
        {"id": "mappings", "value": [SEVERITY_MAPPING]},
        {"id": "custom.cellOptions", "value": {"type": "color-text"}},
    ],
}


def build() -> JSON:
    """The alerts dashboard."""
    panels = [
        stat(
            "Cảnh báo",
            COUNTS,
            description="Open alerts not yet acknowledged, being handled, raised and resolved "
            "in the selected range.",
            defaults={"color": {"mode": "fixed", "fixedColor": "blue"}},
            size=(14, 5),
        ),
        stat(
            "Thời gian phản ứng",
            MEAN_TIMES,
            description="Mean time to acknowledge and to resolve, for alerts raised in the "
            "range (alerts suppressed by a root cause excluded).",
            unit="dtdurations",
            defaults={"color": {"mode": "fixed", "fixedColor": "purple"}},
            size=(10, 5),
        ),
        timeseries(
            "Cảnh báo phát sinh theo mức độ",
            FIRED_SERIES,
            unit="none",
            description="Alerts that fired, per interval and severity.",
            custom={"drawStyle": "bars", "fillOpacity": 70, "stacking": {"mode": "normal"}},
            overrides=[
                {
                    "matcher": {"id": "byName", "options": name},
                    "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": c}}],
                }
                for name, c in (("critical", "red"), ("warning", "orange"), ("info", "blue"))
            ],
            interval="5m",
        ),
        timeseries(
            "MTTA / MTTR theo ngày",
            MEAN_TIMES_DAILY,
            unit="s",
            description="Daily mean time to acknowledge and to resolve.",
            custom={"drawStyle": "bars", "fillOpacity": 50},
        ),
        table(
            "Thiết bị cảnh báo nhiều nhất",
            NOISY_DEVICES,
            {
                "device_id": "Mã",
                "name": "Thiết bị",
                "device_type": "Loại",
                "alerts": "Số cảnh báo",
                "critical": glossary.word("severities", "critical"),
                "rules": "Số luật",
                "last_fired": "Lần cuối",
            },
            description="The devices that raised the most alerts in the range.",
            size=(14, 9),
        ),
        panel(
            "bargauge",
            "Luật cảnh báo nhiều nhất",
            NOISY_RULES,
            fmt="table",
            description="Alert rules by number of alerts in the range.",
            defaults={"color": {"mode": "continuous-GrYlRd"}},
            options={
                "reduceOptions": {"values": True, "calcs": [], "fields": "/^alerts$/"},
                "orientation": "horizontal",
                "displayMode": "gradient",
                "showUnfilled": True,
            },
            size=(10, 9),
        ),
        table(
            "Lịch sử cảnh báo",
            HISTORY,
            {
                "time": "Thời điểm",
                "severity": "Mức độ",
                "summary": "Cảnh báo",
                "action": "Hành động",
                "actor": "Người thực hiện",
                "note": "Ghi chú",
                "device_id": "Thiết bị",
                "alert_id": "Số",
            },
            description="Every state change, acknowledgement, assignment and note, newest first.",
            overrides=[SEVERITY_OVERRIDE],
            size=(24, 10),
        ),
    ]
    return dashboard(
        "ioc-alerts",
        "Cảnh báo",
        "Alerts: history, mean time to acknowledge and resolve, noisiest devices and rules.",
        panels,
        time_from="now-7d",
    )
