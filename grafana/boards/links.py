"""Dashboard 4: network links — up/down, loss, latency, jitter, utilisation, 4G backup."""

from __future__ import annotations

from devices.catalogue import TYPES
from grafana.panels import JSON, bool_mapping, dashboard, panel, row, table, thresholds, timeseries
from grafana.sql import AVG, MAX, MIN, TIER_1H, TIER_5M, TIER_RAW, devices_filter, metric_series

LINK = "d.type = 'link'"
WAN_LABELS = TYPES["link"].metric_index["wan"].enum_values
WAN_4G = WAN_LABELS.index("4g")  # enum metrics are stored as the label's 0-based index
WAN_MAPPING: JSON = {
    "type": "value",
    "options": {
        str(i): {"text": label, "color": "orange" if label == "4g" else "green", "index": i}
        for i, label in enumerate(WAN_LABELS)
    },
}


def _on_4g(table: str, bucket_s: int, tier: str) -> str:
    # A rollup bucket whose max is the 4G index spent part of its time on 4G: the share is
    # estimated from the average between the bucket's other value (min) and the 4G index.
    share = (
        f"CASE WHEN r.max = {WAN_4G} THEN CASE WHEN r.min = {WAN_4G} THEN 1.0 "
        f"ELSE (r.avg - r.min) / ({WAN_4G} - r.min) END ELSE 0 END"
    )
    return f"""
SELECT d.name, sum({bucket_s} * {share}) AS on_4g_s,
       sum({bucket_s} * {share}) / nullif(sum({bucket_s}), 0) AS share
FROM {table} r
JOIN devices d ON d.key = r.device_key
WHERE $__timeFilter(r.bucket) AND r.metric_id = (SELECT id FROM metrics WHERE name = 'wan')
  AND {LINK} AND {devices_filter()}
  AND {tier}
GROUP BY d.name"""


TIME_ON_4G = (
    f"""
SELECT d.name,
       sum(d.interval_s) FILTER (WHERE t.value = {WAN_4G}) AS on_4g_s,
       count(*) FILTER (WHERE t.value = {WAN_4G})::float8 / count(*) AS share
FROM telemetry t
JOIN devices d ON d.id = t.device_id
WHERE $__timeFilter(t.time) AND t.metric = 'wan' AND {LINK} AND {devices_filter()}
  AND {TIER_RAW}
GROUP BY d.name
UNION ALL"""
    + _on_4g("telemetry_5m_keys", 300, TIER_5M)
    + "\nUNION ALL"
    + _on_4g("telemetry_1h_keys", 3600, TIER_1H)
    + "\nORDER BY on_4g_s DESC NULLS LAST, name"
)

UTIL_SERIES = "d.name || CASE {metric} WHEN 'util_in_pct' THEN ' (vào)' ELSE ' (ra)' END"


def build() -> JSON:
    """The network links dashboard."""
    per_link = "d.name"
    panels = [
        panel(
            "state-timeline",
            "Trạng thái kết nối",
            metric_series(["up"], MIN, series=per_link, where=LINK),
            description="Up/down per link (lowest value in each interval, so a short outage "
            "still shows).",
            defaults={
                "mappings": [bool_mapping("Lên", "Xuống")],
                "color": {"mode": "thresholds"},
                "thresholds": thresholds((None, "red"), (1, "green")),
            },
            options={"showValue": "never", "mergeValues": True, "rowHeight": 0.8},
            interval="1m",
            size=(24, 8),
        ),
        row("Chất lượng"),
        timeseries(
            "Mất gói",
            metric_series(["loss_pct"], MAX, series=per_link, where=LINK),
            unit="percent",
            description="Packet loss per link (highest in each interval); > 20% is a warning.",
            defaults={"min": 0, "thresholds": thresholds((None, "green"), (20, "red"))},
            custom={"thresholdsStyle": {"mode": "dashed"}},
            interval="1m",
        ),
        timeseries(
            "Độ trễ (RTT)",
            metric_series(["rtt_ms"], AVG, series=per_link, where=LINK),
            unit="ms",
            description="Round-trip time per link; > 150 ms is poor.",
            defaults={"min": 0, "thresholds": thresholds((None, "green"), (150, "red"))},
            custom={"thresholdsStyle": {"mode": "dashed"}},
            interval="1m",
        ),
        timeseries(
            "Độ biến động trễ (jitter)",
            metric_series(["jitter_ms"], AVG, series=per_link, where=LINK),
            unit="ms",
            description="Jitter per link; > 30 ms is poor.",
            defaults={"min": 0, "thresholds": thresholds((None, "green"), (30, "red"))},
            custom={"thresholdsStyle": {"mode": "dashed"}},
            interval="1m",
        ),
        timeseries(
            "Tải đường truyền",
            metric_series(["util_in_pct", "util_out_pct"], MAX, series=UTIL_SERIES, where=LINK),
            unit="percent",
            description="Utilisation in and out per link (highest in each interval).",
            defaults={"min": 0, "max": 100, "thresholds": thresholds((None, "green"), (90, "red"))},
            custom={"thresholdsStyle": {"mode": "dashed"}},
            interval="1m",
        ),
        row("Dự phòng 4G"),
        panel(
            "state-timeline",
            "Đường WAN đang dùng",
            metric_series(["wan"], MAX, series=per_link, where=LINK),
            description="Active WAN per link: fiber, dedicated government network, or 4G backup.",
            defaults={
                "mappings": [WAN_MAPPING],
                "color": {"mode": "thresholds"},
                "thresholds": thresholds((None, "green"), (WAN_4G, "orange")),
            },
            options={"showValue": "auto", "mergeValues": True, "rowHeight": 0.8},
            interval="1m",
            size=(14, 8),
        ),
        table(
            "Thời gian dùng 4G",
            TIME_ON_4G,
            {"name": "Đường truyền", "on_4g_s": "Thời gian trên 4G", "share": "Tỷ lệ"},
            description="Time each link spent on the 4G backup over the selected range "
            "(estimated from rollups on ranges longer than 3 hours).",
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "on_4g_s"},
                    "properties": [{"id": "unit", "value": "dtdurations"}],
                },
                {
                    "matcher": {"id": "byName", "options": "share"},
                    "properties": [
                        {"id": "unit", "value": "percentunit"},
                        {"id": "custom.cellOptions", "value": {"type": "gauge", "mode": "basic"}},
                        {"id": "max", "value": 1},
                    ],
                },
            ],
            size=(10, 8),
        ),
    ]
    return dashboard(
        "ioc-links",
        "Đường truyền mạng",
        "Network links: up/down timeline, loss, latency, jitter, utilisation, time on 4G backup.",
        panels,
        types=("link",),
    )
