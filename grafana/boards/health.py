"""Dashboard 6: monitoring health — ingest rate and lag, quarantine, notification outbox."""

from __future__ import annotations

from grafana.panels import JSON, dashboard, row, stat, table, thresholds, timeseries
from grafana.sql import devices_filter

# Stored points per second, by device time (all communes). Up to an hour: raw points counted
# exactly. Longer: estimated from the rollups of each device's `online` reading (one per
# message) times the metrics of its type, so that 30 days read ~100 rows per hour, not ~1000.
_SPAN = "($__timeTo()::timestamptz - $__timeFrom()::timestamptz)"
_PER_TYPE = "(SELECT type, count(*) AS n FROM device_type_metrics GROUP BY type)"


def _estimated(table: str, grain_s: int, predicate: str) -> str:
    return f"""
  SELECT r.bucket, sum(r.count * tm.n), {grain_s}
  FROM {table} r
  JOIN devices d ON d.key = r.device_key
  JOIN {_PER_TYPE} tm ON tm.type = d.type
  WHERE $__timeFilter(r.bucket) AND r.metric_id = (SELECT id FROM metrics WHERE name = 'online')
    AND {predicate}
  GROUP BY 1"""


INGEST_RATE = (
    f"""
SELECT $__timeGroupAlias(b.time, $__interval),
       sum(b.n) / greatest($__interval_ms / 1000.0, max(b.grain_s)) AS value
FROM (
  SELECT date_bin(interval '1 minute', p.time, timestamptz '2000-01-01 00:00+00') AS time,
         count(*) AS n, 60 AS grain_s
  FROM telemetry_points p
  WHERE $__timeFilter(p.time) AND {_SPAN} <= interval '1 hour'
  GROUP BY 1
  UNION ALL"""
    + _estimated(
        "telemetry_5m_keys", 300, f"{_SPAN} > interval '1 hour' AND {_SPAN} <= interval '3 days'"
    )
    + "\n  UNION ALL"
    + _estimated("telemetry_1h_keys", 3600, f"{_SPAN} > interval '3 days'")
    + """
) b
GROUP BY 1
ORDER BY 1
"""
)

INSTANCES = """
SELECT i.instance, i.started_at, i.heartbeat_at,
       (i.heartbeat_at > now() - interval '1 minute') AS alive,
       i.received, i.written_rows, i.duplicates, i.quarantined,
       i.last_commit_at, i.last_batch_ms, i.lag_ms
FROM ingest_instances i
ORDER BY i.instance
"""

INGEST_NOW = """
SELECT count(*) FILTER (WHERE i.heartbeat_at > now() - interval '1 minute')::int
         AS "Tiến trình ingest hoạt động",
       coalesce(max(i.lag_ms) FILTER (WHERE i.heartbeat_at > now() - interval '1 minute'), 0)
         AS "Độ trễ ingest (ms)"
FROM ingest_instances i
"""

# Delay between a device's clock and arrival, over the devices of the selection.
ARRIVAL_DELAY = f"""
SELECT dt.name_vi AS type_name,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM st.last_received_at - st.last_seen))
         AS p50_s,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM st.last_received_at - st.last_seen))
         AS p95_s,
       max(extract(epoch FROM now() - st.last_seen)) AS oldest_report_s,
       sum(st.seq_gaps)::bigint AS seq_gaps
FROM device_status st
JOIN devices d ON d.id = st.device_id
JOIN device_types dt ON dt.type = d.type
WHERE {devices_filter()} AND st.last_seen IS NOT NULL
GROUP BY dt.name_vi
ORDER BY dt.name_vi
"""

QUARANTINE_SERIES = """
SELECT $__timeGroupAlias(q.received_at, $__interval), q.reason AS metric,
       sum(q.occurrences) AS value
FROM quarantine q
WHERE $__timeFilter(q.received_at)
GROUP BY 1, 2
ORDER BY 1, 2
"""

QUARANTINE_LIST = """
SELECT q.last_received_at, q.reason, q.topic, q.occurrences, q.detail,
       left(q.payload, 200) AS payload
FROM quarantine q
WHERE $__timeFilter(q.last_received_at)
ORDER BY q.last_received_at DESC
LIMIT 200
"""

OUTBOX_NOW = """
SELECT count(*) FILTER (WHERE n.state = 'pending')::int AS "Chờ gửi",
       count(*) FILTER (WHERE n.state = 'sending')::int AS "Đang gửi",
       count(*) FILTER (WHERE n.state = 'failed')::int AS "Gửi lỗi",
       coalesce(extract(epoch FROM now() - min(n.created_at) FILTER (WHERE n.state = 'pending')),
                0) AS "Tin chờ lâu nhất (s)"
FROM notifications n
WHERE n.state <> 'sent'
"""

OUTBOX_SERIES = """
SELECT $__timeGroupAlias(n.created_at, $__interval), n.state AS metric, count(*) AS value
FROM notifications n
WHERE $__timeFilter(n.created_at)
GROUP BY 1, 2
ORDER BY 1, 2
"""

OUTBOX_FAILED = """
SELECT n.created_at, n.receiver, n.channel, n.kind, n.state, n.attempts,
       n.next_attempt_at, coalesce(n.last_error, '') AS last_error
FROM notifications n
WHERE n.state IN ('failed', 'pending', 'sending') OR n.attempts > 1
ORDER BY n.created_at DESC
LIMIT 200
"""


def build() -> JSON:
    """The monitoring-health dashboard."""
    panels = [
        stat(
            "Ingest",
            INGEST_NOW,
            description="Ingest processes with a heartbeat in the last minute, and their "
            "largest lag (publish to commit).",
            defaults={"color": {"mode": "thresholds"}, "thresholds": thresholds((None, "green"))},
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "Tiến trình ingest hoạt động"},
                    "properties": [
                        {"id": "thresholds", "value": thresholds((None, "red"), (1, "green"))}
                    ],
                },
                {
                    "matcher": {"id": "byName", "options": "Độ trễ ingest (ms)"},
                    "properties": [
                        {"id": "unit", "value": "ms"},
                        {
                            "id": "thresholds",
                            "value": thresholds((None, "green"), (1000, "orange"), (10000, "red")),
                        },
                    ],
                },
            ],
            size=(8, 6),
        ),
        timeseries(
            "Tốc độ ghi dữ liệu",
            INGEST_RATE,
            unit="rps",
            description="Telemetry points stored per second, by device time (all communes); "
            "exact up to 1 hour, estimated from the rollups beyond.",
            interval="1m",
            size=(16, 6),
        ),
        table(
            "Tiến trình ingest",
            INSTANCES,
            {
                "instance": "Tiến trình",
                "started_at": "Khởi động",
                "heartbeat_at": "Nhịp cuối",
                "alive": "Hoạt động",
                "received": "Đã nhận",
                "written_rows": "Dòng đã ghi",
                "duplicates": "Trùng lặp",
                "quarantined": "Cách ly",
                "last_commit_at": "Ghi cuối",
                "last_batch_ms": "Lô cuối (ms)",
                "lag_ms": "Độ trễ (ms)",
            },
            description="One row per ingest process sharing the MQTT subscription.",
            size=(24, 6),
        ),
        table(
            "Độ trễ báo cáo theo loại thiết bị",
            ARRIVAL_DELAY,
            {
                "type_name": "Loại",
                "p50_s": "Trễ đến (p50)",
                "p95_s": "Trễ đến (p95)",
                "oldest_report_s": "Báo cáo cũ nhất",
                "seq_gaps": "Bản tin mất (seq)",
            },
            description="Delay between device clock and arrival of the latest message, age "
            "of the oldest latest report, and sequence gaps, per device type.",
            unit="s",
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "seq_gaps"},
                    "properties": [{"id": "unit", "value": "none"}],
                }
            ],
            size=(24, 6),
        ),
        row("Cách ly"),
        timeseries(
            "Tin nhắn bị cách ly theo lý do",
            QUARANTINE_SERIES,
            unit="none",
            description="Rejected messages per reason (bad JSON, unknown device, ...).",
            custom={"drawStyle": "bars", "fillOpacity": 70, "stacking": {"mode": "normal"}},
            interval="1m",
        ),
        table(
            "Tin nhắn bị cách ly gần nhất",
            QUARANTINE_LIST,
            {
                "last_received_at": "Lần cuối",
                "reason": "Lý do",
                "topic": "Topic",
                "occurrences": "Số lần",
                "detail": "Chi tiết",
                "payload": "Nội dung",
            },
            description="Latest quarantined messages with reason and payload (truncated).",
        ),
        row("Hàng đợi thông báo"),
        stat(
            "Hàng đợi thông báo",
            OUTBOX_NOW,
            description="Notification outbox: pending, in flight, failed, oldest pending age.",
            defaults={
                "color": {"mode": "thresholds"},
                "thresholds": thresholds((None, "green"), (1, "orange")),
            },
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "Tin chờ lâu nhất (s)"},
                    "properties": [
                        {"id": "unit", "value": "dtdurations"},
                        {"id": "thresholds", "value": thresholds((None, "green"), (300, "red"))},
                    ],
                }
            ],
            size=(8, 7),
        ),
        timeseries(
            "Thông báo theo trạng thái",
            OUTBOX_SERIES,
            unit="none",
            description="Notifications created per interval, by current state.",
            custom={"drawStyle": "bars", "fillOpacity": 70, "stacking": {"mode": "normal"}},
            interval="1m",
            size=(16, 7),
        ),
        table(
            "Thông báo chưa gửi được",
            OUTBOX_FAILED,
            {
                "created_at": "Tạo lúc",
                "receiver": "Người nhận",
                "channel": "Kênh",
                "kind": "Loại",
                "state": "Trạng thái",
                "attempts": "Số lần thử",
                "next_attempt_at": "Thử lại lúc",
                "last_error": "Lỗi cuối",
            },
            description="Notifications not delivered yet or retried, with the last error.",
            size=(24, 7),
        ),
    ]
    return dashboard(
        "ioc-health",
        "Giám sát hệ thống",
        "Monitoring health: ingest rate, processes and lag, quarantine by reason, "
        "notification outbox.",
        panels,
        time_from="now-6h",
    )
