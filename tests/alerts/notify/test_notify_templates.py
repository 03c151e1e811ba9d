"""Message text: grouped lists, local time, English, long storms (pure, no database)."""

from __future__ import annotations

from typing import Any

from alerts.notify.templates import MAX_LISTED, commune_label, local_zone, render

ZONE = local_zone("Asia/Ho_Chi_Minh")


def _alert(i: int, status: str = "firing", **extra: Any) -> dict[str, Any]:
    return {
        "id": i,
        "status": status,
        "severity": "warning",
        "rule": "fps_low",
        "summary": f"Camera số {i}: tốc độ khung hình thấp",
        "summary_en": f"Camera {i}: low frame rate",
        "device_id": f"cam-{i:02d}",
        "device_name": f"Camera Cổng {i}",
        "device_type": "camera",
        "site_name": "UBND xã",
        "commune_code": "21025",
        "commune_name": "Xã Tịnh Sơn",
        "started_at": "2026-11-22T17:30:00+00:00",
        "resolved_at": "2026-11-22T18:00:00+00:00" if status == "resolved" else None,
        "annotations": {},
        **extra,
    }


def test_grouped_message_lists_firing_and_resolved() -> None:
    payload = {
        "kind": "firing",
        "group_labels": {"commune": "21025"},
        "alerts": [_alert(1), _alert(2, acknowledged_by="Lan"), _alert(3, "resolved")],
    }
    out = render(payload, "vi", "http://ioc.test/", ZONE)
    assert out.title == "[ĐANG CẢNH BÁO] Xã Tịnh Sơn: 2 cảnh báo"
    assert "Đang cảnh báo (2):" in out.text and "Đã khắc phục (1):" in out.text
    assert "00:30 23/11/2026 (giờ Việt Nam)" in out.text  # 17:30 UTC is past midnight in Hanoi
    assert "Khắc phục lúc: 01:00 23/11/2026" in out.text
    assert "Đã xác nhận bởi: Lan" in out.text
    assert "Thiết bị: Camera Cổng 1\n" in out.text and "cam-01" not in out.text
    assert "Chi tiết: http://ioc.test/console/alerts/3" in out.text


def test_english_and_storm_truncation() -> None:
    payload = {"kind": "repeat", "alerts": [_alert(i) for i in range(1, MAX_LISTED + 6)]}
    out = render(payload, "en", "http://ioc.test", ZONE)
    assert out.title == f"[REMINDER] Xã Tịnh Sơn: {MAX_LISTED + 5} alerts"
    assert "Camera 1: low frame rate" in out.text
    assert out.text.count("• [Warning]") == MAX_LISTED
    assert out.text.rstrip().endswith("… and 5 more alerts")


def test_commune_labels() -> None:
    assert commune_label("Tịnh Sơn", "21025", "vi") == "Xã Tịnh Sơn"
    assert commune_label("Phường Trần Phú", "21001", "vi") == "Phường Trần Phú"
    assert commune_label(None, "21025", "en") == "21025 commune"
    assert commune_label(None, None, "vi") == ""
