"""Absence (last will, report age, never seen), event and flapping rules."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from tests.alerts.conftest import EngineFactory, alerts, event, report, report_all

M = timedelta(minutes=1)
OFFLINE = (
    "rules:\n  - {name: offline, kind: absence, types: [camera, speaker, link, nvr], factor: 3}\n"
)


def test_last_will_fires_at_once_and_birth_resolves(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine(OFFLINE)
    report_all(fleet, t0)
    engine.evaluate_once(t0)
    assert alerts(fleet) == []
    report(fleet, "solo", t0 + timedelta(seconds=5), online=False)
    engine.evaluate_once(t0 + timedelta(seconds=6))
    (alert,) = alerts(fleet, "offline")
    assert (alert["device_id"], alert["state"], alert["severity"]) == ("solo", "firing", "critical")
    assert alert["annotations"]["reason"] == "last_will"
    assert alert["summary"] == "Cụm loa chợ tại UBND xã mất kết nối"  # no "Cụm loa Cụm loa"
    assert alert["summary_en"] == "Cụm loa chợ at UBND xã is offline"
    report(fleet, "solo", t0 + timedelta(seconds=20), online=True)
    engine.evaluate_once(t0 + timedelta(seconds=21))
    assert alerts(fleet, "offline")[0]["state"] == "resolved"


def test_no_report_for_k_intervals(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine(OFFLINE)
    report_all(fleet, t0)
    # Speakers report every 30 s: silent for 3 × 30 s = 90 s → offline; cameras (60 s) not yet.
    others = ["up1", "g4", "core", "cam-core", "nvr-1"]
    report_all(fleet, t0 + 60 * timedelta(seconds=1), others)
    engine.evaluate_once(t0 + timedelta(seconds=89))
    assert alerts(fleet) == []
    engine.evaluate_once(t0 + timedelta(seconds=91))
    assert {a["device_id"] for a in alerts(fleet, "offline", "firing")} == {
        "solo",
        "spk-1",
        "spk-2",
        "spk-3",
        "spk-4",
    }
    report(fleet, "spk-1", t0 + timedelta(seconds=100))
    engine.evaluate_once(t0 + timedelta(seconds=101))
    assert {a["device_id"] for a in alerts(fleet, "offline", "resolved")} == {"spk-1"}


def test_never_seen_devices_count_from_registration(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine(OFFLINE)
    report_all(fleet, t0, ["up1", "g4", "core", "cam-core", "nvr-1", "solo"])
    engine.evaluate_once(t0 + timedelta(seconds=60))
    assert alerts(fleet) == []
    report(fleet, "solo", t0 + timedelta(seconds=60))
    engine.evaluate_once(t0 + timedelta(seconds=100))  # speakers (30 s) never reported
    assert {a["device_id"] for a in alerts(fleet, "offline")} == {
        "spk-1",
        "spk-2",
        "spk-3",
        "spk-4",
    }


EVENTS = """
rules:
  - {name: tamper, kind: event, types: [camera], event: tamper, severity: critical, resolve_after: 30m}
  - name: broadcast_missed
    kind: event
    types: [speaker]
    event: broadcast
    match: {result: missed}
    severity: warning
    severity_by: {field: priority, values: {emergency: critical}}
    resolve_after: 1h
    summary:
      vi: "Cụm loa {device_name} bỏ lỡ buổi phát {data_schedule_id} ({data_priority})"
      en: "Loudspeaker {device_name} missed broadcast {data_schedule_id} ({data_priority})"
  - {name: power, kind: event, types: [speaker], event: power_lost, clear_event: power_restored}
"""


def test_event_rules(fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime) -> None:
    engine = make_engine(EVENTS)
    report_all(fleet, t0)
    event(fleet, "cam-01", "tamper", t0)
    event(fleet, "cam-02", "motion", t0)
    event(
        fleet,
        "spk-1",
        "broadcast",
        t0,
        {"schedule_id": "s-0600", "priority": "normal", "result": "missed"},
    )
    event(
        fleet,
        "spk-2",
        "broadcast",
        t0,
        {"schedule_id": "s-em1", "priority": "emergency", "result": "missed"},
    )
    event(
        fleet,
        "spk-3",
        "broadcast",
        t0,
        {"schedule_id": "s-0600", "priority": "emergency", "result": "executed"},
    )
    event(fleet, "spk-4", "power_lost", t0)
    engine.evaluate_once(t0 + timedelta(seconds=1))
    tamper = alerts(fleet, "tamper")
    assert [(a["device_id"], a["state"], a["severity"]) for a in tamper] == [
        ("cam-01", "firing", "critical")
    ]
    missed = {a["device_id"]: a for a in alerts(fleet, "broadcast_missed")}
    assert set(missed) == {"spk-1", "spk-2"}
    assert missed["spk-1"]["severity"] == "warning"
    assert missed["spk-2"]["severity"] == "critical"
    assert missed["spk-2"]["labels"]["severity"] == "critical"
    assert missed["spk-2"]["summary"] == "Cụm loa Thiết bị 10 bỏ lỡ buổi phát s-em1 (emergency)"
    assert alerts(fleet, "power")[0]["state"] == "firing"
    # A clearing event resolves; the window's end resolves the others.
    event(fleet, "spk-4", "power_restored", t0 + 10 * M, seq=2)
    engine.evaluate_once(t0 + 11 * M)
    assert alerts(fleet, "power")[0]["state"] == "resolved"
    assert alerts(fleet, "tamper")[0]["state"] == "firing"
    report_all(fleet, t0 + 31 * M)
    engine.evaluate_once(t0 + 31 * M)
    assert alerts(fleet, "tamper")[0]["state"] == "resolved"
    assert {a["state"] for a in alerts(fleet, "broadcast_missed")} == {"firing"}
    # A new tamper after resolution opens a new alert (same fingerprint, new row).
    event(fleet, "cam-01", "tamper", t0 + 32 * M, seq=3)
    engine.evaluate_once(t0 + 32 * M)
    assert [a["state"] for a in alerts(fleet, "tamper")] == ["resolved", "firing"]


def test_flapping(fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime) -> None:
    engine = make_engine("""
rules:
  - {name: flapping, kind: flapping, types: [speaker], window: 10m, changes: 4, clear: 2}
""")
    report_all(fleet, t0)
    for i in range(4):
        fleet.execute(
            "INSERT INTO device_status_changes (time, device_id, online, received_at)"
            " VALUES (%s, 'solo', %s, %s)",
            (t0 + i * M, i % 2 == 1, t0 + i * M),
        )
    fleet.execute(
        "INSERT INTO device_status_changes (time, device_id, online, received_at)"
        " VALUES (%s, 'spk-1', false, %s)",
        (t0, t0),
    )
    engine.evaluate_once(t0 + 4 * M)
    (alert,) = alerts(fleet, "flapping")
    assert alert["device_id"] == "solo" and alert["state"] == "firing" and alert["value"] == 4
    assert "4 lần đổi trạng thái trong 10 phút" in alert["summary"]
    engine.evaluate_once(t0 + 11 * M + timedelta(seconds=30))  # 2 changes left in the window: holds
    assert alerts(fleet, "flapping")[0]["state"] == "firing"
    engine.evaluate_once(t0 + 12 * M + timedelta(seconds=30))  # 1 left: resolves
    assert alerts(fleet, "flapping")[0]["state"] == "resolved"


def test_event_window_follows_arrival_not_device_clock(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine(EVENTS)
    report_all(fleet, t0)
    # The camera's clock is 3 hours behind; the event arrives now.
    event(fleet, "cam-05", "tamper", t0 - 180 * M, received=t0)
    engine.evaluate_once(t0 + timedelta(seconds=1))
    assert [a["state"] for a in alerts(fleet, "tamper")] == ["firing"]
    engine.evaluate_once(t0 + 31 * M)
    assert [a["state"] for a in alerts(fleet, "tamper")] == ["resolved"]
