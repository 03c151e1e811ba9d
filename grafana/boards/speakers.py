"""Dashboard 3: loudspeaker clusters — online, 4G signal, power, broadcasts."""

from __future__ import annotations

from grafana.panels import JSON, bool_mapping, dashboard, row, stat, table, thresholds, timeseries
from grafana.sql import TZ, devices_filter, latest_pivot, metric_series
from ioc import glossary

SPK = "d.type = 'speaker'"

ONLINE_NOW = f"""
SELECT count(*) FILTER (WHERE r.state = 'online')::int AS "{glossary.state("online")}",
       count(*) FILTER (WHERE coalesce(r.state, 'unknown') <> 'online')::int AS "Không trực tuyến",
       count(*)::int AS "Tổng số"
FROM devices d
LEFT JOIN device_reachability r ON r.device_id = d.id
WHERE {SPK} AND {devices_filter()}
"""

SIGNAL_LATEST = f"""
SELECT d.id, d.name, coalesce(s.name, '') AS site,
  {latest_pivot(["rsrp_dbm", "rsrq_db", "sinr_db", "volume"])},
  max(me.enum_values[1 + st.value::int]) AS state,
  max(l.time) AS updated
FROM devices d
LEFT JOIN sites s ON s.id = d.site_id
JOIN device_latest l ON l.device_id = d.id
LEFT JOIN device_latest st ON st.device_id = d.id AND st.metric = 'state'
LEFT JOIN metrics me ON me.name = 'state'
WHERE {SPK} AND {devices_filter()}
GROUP BY d.id, d.name, s.name
ORDER BY rsrp_dbm NULLS FIRST, d.id
"""

POWER_LATEST = f"""
SELECT d.id, d.name,
  {latest_pivot(["mains_ok", "battery_v", "amp_ok", "temp_c"])},
  max(l.value) FILTER (WHERE l.metric = 'data_mb_month')
    / nullif(max(l.value) FILTER (WHERE l.metric = 'data_plan_mb'), 0) AS data_used,
  max(l.time) AS updated
FROM devices d
JOIN device_latest l ON l.device_id = d.id
WHERE {SPK} AND {devices_filter()}
GROUP BY d.id, d.name
ORDER BY mains_ok NULLS FIRST, battery_v NULLS FIRST, d.id
"""

_DAY = f"(date_trunc('day', e.time AT TIME ZONE '{TZ}') AT TIME ZONE '{TZ}')"
BROADCASTS_PER_DAY = f"""
SELECT {_DAY} AS time,
       count(*) FILTER (WHERE e.data->>'result' = 'executed') AS "Đã phát",
       count(*) FILTER (WHERE e.data->>'result' = 'late') AS "Phát trễ",
       count(*) FILTER (WHERE e.data->>'result' = 'missed') AS "Bỏ lỡ"
FROM device_events e
JOIN devices d ON d.id = e.device_id
WHERE $__timeFilter(e.time) AND e.type = 'broadcast' AND {SPK} AND {devices_filter()}
GROUP BY 1
ORDER BY 1
"""

MISSED = f"""
SELECT e.time, d.name, coalesce(e.data->>'schedule_id', '') AS schedule_id,
       coalesce(e.data->>'priority', '') AS priority, e.data->>'result' AS result
FROM device_events e
JOIN devices d ON d.id = e.device_id
WHERE $__timeFilter(e.time) AND e.type = 'broadcast'
  AND e.data->>'result' IN ('missed', 'late') AND {SPK} AND {devices_filter()}
ORDER BY e.time DESC
LIMIT 200
"""


def _avg_min(metric: str) -> str:
    return metric_series(
        [metric],
        {"Trung bình": "avg", "Thấp nhất": "min"},
        where=SPK,
    )


def build() -> JSON:
    """The loudspeaker dashboard."""
    signal_defaults = {"decimals": 1}
    panels = [
        stat(
            "Cụm loa hiện tại",
            ONLINE_NOW,
            description="Loudspeaker clusters online now, and those that are not.",
            defaults={"color": {"mode": "thresholds"}, "thresholds": thresholds((None, "blue"))},
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "Không trực tuyến"},
                    "properties": [
                        {"id": "thresholds", "value": thresholds((None, "green"), (1, "red"))}
                    ],
                },
            ],
            size=(8, 6),
        ),
        timeseries(
            "Số cụm loa đang báo cáo",
            metric_series(
                ["online"],
                {glossary.state("online"): ("devices", "true", "true")},
                where=SPK,
            ),
            unit="none",
            description="Clusters that sent a heartbeat in each interval.",
            interval="1m",
            size=(16, 6),
        ),
        row("Tín hiệu 4G"),
        timeseries(
            "RSRP",
            _avg_min("rsrp_dbm"),
            unit="dBm",
            description="4G RSRP: ≥ −90 dBm good, < −100 dBm poor.",
            defaults={
                **signal_defaults,
                "thresholds": thresholds((None, "red"), (-100, "orange"), (-90, "green")),
            },
            custom={"thresholdsStyle": {"mode": "dashed"}},
            interval="1m",
        ),
        timeseries(
            "SINR",
            _avg_min("sinr_db"),
            unit="dB",
            description="4G SINR: ≥ 10 dB good, < 0 dB poor.",
            defaults={
                **signal_defaults,
                "thresholds": thresholds((None, "red"), (0, "orange"), (10, "green")),
            },
            custom={"thresholdsStyle": {"mode": "dashed"}},
            interval="1m",
        ),
        table(
            "Tín hiệu và trạng thái phát",
            SIGNAL_LATEST,
            {
                "id": "Mã",
                "name": "Cụm loa",
                "site": glossary.word("places", "site"),
                "rsrp_dbm": "RSRP (dBm)",
                "rsrq_db": "RSRQ (dB)",
                "sinr_db": "SINR (dB)",
                "volume": "Âm lượng",
                "state": "Trạng thái phát",
                "updated": "Cập nhật",
            },
            description="Latest signal per cluster, weakest first.",
            size=(24, 8),
        ),
        row("Nguồn điện"),
        timeseries(
            "Cụm loa mất điện lưới",
            metric_series(
                ["mains_ok"],
                {"Mất điện lưới": ("devices", "t.value < 1", "r.min < 1")},
                where=SPK,
            ),
            unit="none",
            description="Clusters running on battery (mains lost) in each interval.",
            custom={"drawStyle": "bars", "fillOpacity": 60},
            interval="1m",
        ),
        timeseries(
            "Điện áp ắc quy",
            _avg_min("battery_v"),
            unit="volt",
            description="Battery voltage; below 11.5 V the cluster will soon stop.",
            defaults={"thresholds": thresholds((None, "red"), (11.5, "green"))},
            custom={"thresholdsStyle": {"mode": "dashed"}},
            interval="1m",
        ),
        table(
            "Nguồn và thiết bị",
            POWER_LATEST,
            {
                "id": "Mã",
                "name": "Cụm loa",
                "mains_ok": "Điện lưới",
                "battery_v": "Ắc quy (V)",
                "amp_ok": "Khuếch đại",
                "temp_c": "Nhiệt độ (°C)",
                "data_used": "Dữ liệu tháng",
                "updated": "Cập nhật",
            },
            description="Latest power, amplifier, temperature and data-plan use per cluster.",
            overrides=[
                {
                    "matcher": {"id": "byRegexp", "options": "mains_ok|amp_ok"},
                    "properties": [
                        {"id": "mappings", "value": [bool_mapping("Tốt", "Lỗi")]},
                        {"id": "custom.cellOptions", "value": {"type": "color-text"}},
                    ],
                },
                {
                    "matcher": {"id": "byName", "options": "data_used"},
                    "properties": [{"id": "unit", "value": "percentunit"}],
                },
            ],
            size=(24, 8),
        ),
        row("Lịch phát thanh"),
        timeseries(
            "Bản tin đã phát / bỏ lỡ theo ngày",
            BROADCASTS_PER_DAY,
            unit="none",
            description="Scheduled broadcasts per local day: executed, late and missed.",
            custom={"drawStyle": "bars", "fillOpacity": 80, "stacking": {"mode": "normal"}},
            overrides=[
                {
                    "matcher": {"id": "byName", "options": name},
                    "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": c}}],
                }
                for name, c in (("Đã phát", "green"), ("Phát trễ", "orange"), ("Bỏ lỡ", "red"))
            ],
        ),
        table(
            "Bản tin bỏ lỡ hoặc trễ",
            MISSED,
            {
                "time": "Thời điểm",
                "name": "Cụm loa",
                "schedule_id": "Lịch",
                "priority": "Mức ưu tiên",
                "result": "Kết quả",
            },
            description="Missed or late broadcasts, newest first.",
        ),
    ]
    return dashboard(
        "ioc-speakers",
        "Loa truyền thanh",
        "Loudspeaker clusters: online, 4G signal (RSRP/SINR), power and battery, "
        "broadcasts executed vs missed per day.",
        panels,
        types=("speaker",),
    )
