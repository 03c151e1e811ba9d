"""Threshold and state rules: `for`, hysteresis, percent-of, stale values, enum states."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from tests.alerts.conftest import ALL_DEVICES, EngineFactory, actions, alerts, metric, report_all

CPU = """
rules:
  - {name: cpu_high, kind: threshold, types: [camera], metric: cpu_pct, op: ">", value: 90,
     clear: 80, for: 5m, severity: warning}
"""
M = timedelta(minutes=1)


def test_for_duration_and_hysteresis(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine(CPU)
    report_all(fleet, t0)
    metric(fleet, "cam-01", "cpu_pct", 95, t0)
    metric(fleet, "cam-02", "cpu_pct", 85, t0)  # between clear and fire: never opens
    report_all(fleet, t0)
    engine.evaluate_once(t0)
    (alert,) = alerts(fleet, "cpu_high")
    assert alert["state"] == "pending" and alert["device_id"] == "cam-01"
    metric(fleet, "cam-01", "cpu_pct", 96, t0 + 3 * M)
    report_all(fleet, t0 + 4 * M)
    engine.evaluate_once(t0 + 4 * M)
    assert alerts(fleet, "cpu_high")[0]["state"] == "pending"
    report_all(fleet, t0 + 5 * M)
    engine.evaluate_once(t0 + 5 * M)
    (alert,) = alerts(fleet, "cpu_high")
    assert alert["state"] == "firing" and alert["fired_at"] == t0 + 5 * M
    # Below the firing threshold but above the clear one: stays firing (hysteresis).
    metric(fleet, "cam-01", "cpu_pct", 85, t0 + 6 * M)
    report_all(fleet, t0 + 6 * M)
    engine.evaluate_once(t0 + 6 * M)
    assert alerts(fleet, "cpu_high")[0]["state"] == "firing"
    metric(fleet, "cam-01", "cpu_pct", 79, t0 + 7 * M)
    report_all(fleet, t0 + 7 * M)
    engine.evaluate_once(t0 + 7 * M)
    (alert,) = alerts(fleet, "cpu_high")
    assert alert["state"] == "resolved" and alert["resolved_at"] == t0 + 7 * M
    assert actions(fleet, alert["id"]) == ["pending", "firing", "resolved"]
    assert alert["labels"] == {
        "commune": "21025",
        "site": "s-ubnd",
        "device": "cam-01",
        "type": "camera",
        "rule": "cpu_high",
        "severity": "warning",
    }
    assert alert["summary"].startswith("Camera Thiết bị 1: CPU = 95 %")
    assert "threshold > 90" in alert["summary_en"]
    assert (alert["commune_code"], alert["site_id"], alert["device_type"]) == (
        "21025",
        "s-ubnd",
        "camera",
    )


def test_pending_that_clears_never_fires(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine(CPU)
    report_all(fleet, t0)
    metric(fleet, "cam-01", "cpu_pct", 95, t0)
    report_all(fleet, t0)
    engine.evaluate_once(t0)
    metric(fleet, "cam-01", "cpu_pct", 50, t0 + M)
    result = engine.evaluate_once(t0 + M)
    assert alerts(fleet, "cpu_high") == []
    assert len(result.transitions.dropped) == 1


def test_percent_of_configured_and_stale_values(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine("""
rules:
  - {name: fps_low, kind: threshold, types: [camera], metric: fps, op: "<", value: 50,
     clear: 60, percent_of: fps_configured}
""")
    report_all(fleet, t0)
    for cam, fps in (("cam-01", 10), ("cam-02", 14), ("cam-03", 11)):
        metric(fleet, cam, "fps_configured", 25, t0)
        metric(fleet, cam, "fps", fps, t0)
    metric(fleet, "cam-04", "fps", 1, t0)  # no configured value: no judgement
    report_all(fleet, t0)
    engine.evaluate_once(t0)
    firing = {a["device_id"]: a for a in alerts(fleet, "fps_low", "firing")}
    assert set(firing) == {"cam-01", "cam-03"}
    assert "50 % tốc độ khung hình cấu hình (12,5 hình/giây)" in firing["cam-01"]["summary"]
    assert "fps_configured" not in firing["cam-01"]["summary"]  # words, not field names
    # cam-03 rises into the hysteresis band (12.5..15): still firing; cam-01 goes silent and
    # its value becomes stale after 3 intervals (3 min): the alert resolves.
    metric(fleet, "cam-03", "fps", 14, t0 + M)
    report_all(fleet, t0 + 4 * M, [d for d in ALL_DEVICES if d != "cam-01"])
    engine.evaluate_once(t0 + 4 * M)
    states = {a["device_id"]: a["state"] for a in alerts(fleet, "fps_low")}
    assert states == {"cam-01": "resolved", "cam-03": "firing"}


def test_state_rules_enum_and_for(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine("""
rules:
  - {name: disk_bad, kind: state, types: [nvr], metric: disk_status, op: "!=", value: normal,
     severity: critical}
  - {name: not_recording, kind: state, types: [nvr], metric: recording, value: 0, for: 10m,
     severity: critical}
""")
    report_all(fleet, t0)
    # smartfailed; the NVR's clock is 20 min behind: freshness is judged by arrival (ingest).
    metric(fleet, "nvr-1", "disk_status", 2, t0 - 20 * M)
    metric(fleet, "nvr-1", "recording", 0, t0)
    report_all(fleet, t0)
    engine.evaluate_once(t0)
    (disk,) = alerts(fleet, "disk_bad")
    assert disk["state"] == "firing" and disk["severity"] == "critical"
    assert "hỏng (SMART báo lỗi)" in disk["summary"] and "smartfailed" in disk["summary_en"]
    assert alerts(fleet, "not_recording")[0]["state"] == "pending"
    metric(fleet, "nvr-1", "recording", 0, t0 + 9 * M)
    metric(fleet, "nvr-1", "disk_status", 0, t0 + 9 * M)
    report_all(fleet, t0 + 10 * M)
    engine.evaluate_once(t0 + 10 * M)
    assert alerts(fleet, "not_recording")[0]["state"] == "firing"
    assert alerts(fleet, "disk_bad")[0]["state"] == "resolved"


def test_exclude_leaves_out_matching_devices(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine("""
rules:
  - {name: on_backup, kind: state, types: [link], metric: wan, value: 4g, exclude: "4g"}
""")
    report_all(fleet, t0)
    metric(fleet, "up1", "wan", 2, t0)  # the fiber uplink fell back to 4G
    metric(fleet, "g4", "wan", 2, t0)  # "Đường dự phòng 4G" is always on 4G
    engine.evaluate_once(t0)
    assert [a["device_id"] for a in alerts(fleet, "on_backup")] == ["up1"]
