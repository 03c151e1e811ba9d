"""Dashboard 2: cameras and NVRs — fps, bitrate, recording, disks, video-loss events."""

from __future__ import annotations

from grafana.panels import JSON, bool_mapping, dashboard, panel, row, table, thresholds, timeseries
from grafana.sql import AVG, MAX, MIN, devices_filter, latest_pivot, metric_series
from ioc import glossary

VIDEO_EVENTS = ("video_loss", "tamper", "storage_failure", "disk_failure", "recording_stopped")
_EVENTS = ", ".join(f"'{e}'" for e in VIDEO_EVENTS)

CAMERA_LATEST = f"""
SELECT d.id, d.name, coalesce(s.name, '') AS site,
  {latest_pivot(["fps", "fps_configured", "bitrate_kbps", "stream_up"])},
  max(l.time) AS updated
FROM devices d
LEFT JOIN sites s ON s.id = d.site_id
JOIN device_latest l ON l.device_id = d.id
WHERE d.type = 'camera' AND {devices_filter()}
GROUP BY d.id, d.name, s.name
ORDER BY fps NULLS FIRST, d.id
"""

NVR_LATEST = f"""
SELECT d.id, d.name,
  {latest_pivot(["recording", "channels_recording", "disk_used_pct"])},
  max(me.enum_values[1 + ds.value::int]) AS disk_status,
  max(l.time) AS updated
FROM devices d
JOIN device_latest l ON l.device_id = d.id
LEFT JOIN device_latest ds ON ds.device_id = d.id AND ds.metric = 'disk_status'
LEFT JOIN metrics me ON me.name = 'disk_status'
WHERE d.type = 'nvr' AND {devices_filter()}
GROUP BY d.id, d.name
ORDER BY d.id
"""

EVENT_COUNTS = f"""
SELECT $__timeGroupAlias(e.time, $__interval), e.type AS metric, count(*) AS value
FROM device_events e
JOIN devices d ON d.id = e.device_id
WHERE $__timeFilter(e.time) AND e.type IN ({_EVENTS}) AND {devices_filter()}
GROUP BY 1, 2
ORDER BY 1, 2
"""

EVENT_LIST = f"""
SELECT e.time, d.name, e.type, coalesce(e.severity, '') AS severity, e.data::text AS data
FROM device_events e
JOIN devices d ON d.id = e.device_id
WHERE $__timeFilter(e.time) AND e.type IN ({_EVENTS}) AND {devices_filter()}
ORDER BY e.time DESC
LIMIT 200
"""


def build() -> JSON:
    """The cameras and NVRs dashboard."""
    cam = "d.type = 'camera'"
    nvr = "d.type = 'nvr'"
    panels = [
        row("Camera"),
        timeseries(
            "FPS (trung bình và thấp nhất)",
            metric_series(
                ["fps"],
                {"Trung bình": "avg", "Thấp nhất": "min"},
                where=cam,
            ),
            unit="none",
            description="Average and lowest frames per second across the selected cameras; "
            "0 means video loss.",
            interval="1m",
        ),
        timeseries(
            "Tốc độ bit theo địa điểm",
            metric_series(
                ["bitrate_kbps"], AVG, series="coalesce(s.name, d.site_id, '')", where=cam
            ),
            unit="kbps",
            description="Average camera bitrate per site.",
            interval="1m",
        ),
        timeseries(
            "Số camera có luồng video",
            metric_series(
                ["stream_up"],
                {
                    "Có luồng": ("devices", "t.value >= 1", "r.max >= 1"),
                    "Mất luồng": ("devices", "t.value < 1", "r.min < 1"),
                },
                where=cam,
            ),
            unit="none",
            description="Cameras reporting a live stream / a lost stream in each interval.",
            interval="1m",
        ),
        table(
            "Camera: giá trị mới nhất",
            CAMERA_LATEST,
            {
                "id": "Mã",
                "name": "Camera",
                "site": glossary.word("places", "site"),
                "fps": "FPS",
                "fps_configured": "FPS cấu hình",
                "bitrate_kbps": "kbps",
                "stream_up": "Luồng",
                "updated": "Cập nhật",
            },
            description="Latest values per camera, lowest fps first.",
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "stream_up"},
                    "properties": [
                        {"id": "mappings", "value": [bool_mapping("Có", "Mất")]},
                        {"id": "custom.cellOptions", "value": {"type": "color-text"}},
                    ],
                }
            ],
        ),
        row("Đầu ghi hình (NVR)"),
        panel(
            "state-timeline",
            "Trạng thái ghi hình",
            metric_series(["recording"], MIN, series="d.name", where=nvr),
            description="Recording state per NVR (lowest value in each interval, so a gap "
            "in recording shows).",
            defaults={
                "mappings": [bool_mapping("Đang ghi", "Không ghi")],
                "color": {"mode": "thresholds"},
                "thresholds": thresholds((None, "red"), (1, "green")),
            },
            options={"showValue": "never", "mergeValues": True, "rowHeight": 0.8},
            interval="5m",
        ),
        timeseries(
            "Dung lượng đĩa đã dùng",
            metric_series(["disk_used_pct"], MAX, series="d.name", where=nvr),
            unit="percent",
            description="Disk use per NVR (overwrite keeps it below ~95%).",
            defaults={"min": 0, "max": 100, "thresholds": thresholds((None, "green"), (95, "red"))},
            custom={"thresholdsStyle": {"mode": "line"}},
            interval="5m",
        ),
        table(
            "Đầu ghi: trạng thái hiện tại",
            NVR_LATEST,
            {
                "id": "Mã",
                "name": "Đầu ghi",
                "recording": "Đang ghi",
                "channels_recording": "Số kênh ghi",
                "disk_used_pct": "Đĩa (%)",
                "disk_status": "Trạng thái đĩa",
                "updated": "Cập nhật",
            },
            description="Latest recording and disk state per NVR.",
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "recording"},
                    "properties": [
                        {"id": "mappings", "value": [bool_mapping("Có", "Không")]},
                        {"id": "custom.cellOptions", "value": {"type": "color-background"}},
                    ],
                }
            ],
        ),
        row("Sự kiện video"),
        timeseries(
            "Sự kiện mất hình, che camera, lỗi lưu trữ",
            EVENT_COUNTS,
            unit="none",
            description="Video-loss, tamper and storage events per interval.",
            custom={"drawStyle": "bars", "fillOpacity": 70, "stacking": {"mode": "normal"}},
        ),
        table(
            "Sự kiện gần nhất",
            EVENT_LIST,
            {
                "time": "Thời điểm",
                "name": "Thiết bị",
                "type": "Sự kiện",
                "severity": "Mức độ",
                "data": "Chi tiết",
            },
            description="The latest video and storage events.",
        ),
    ]
    return dashboard(
        "ioc-cameras",
        "Camera và đầu ghi hình",
        "Cameras & NVRs: fps, bitrate, streams, recording, disk use, video-loss events.",
        panels,
        types=("camera", "nvr"),
    )
