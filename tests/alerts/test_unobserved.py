"""Edge collector down: its devices are unobserved (not offline), one root-cause alert."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from tests.alerts.conftest import (
    ALL_DEVICES,
    BEHIND_UPLINK,
    EngineFactory,
    alerts,
    metric,
    report,
    report_all,
)

S = timedelta(seconds=1)
RULES = """
rules:
  - {name: offline, kind: absence, types: [camera, speaker, link, nvr, collector]}
  - {name: not_responding, kind: state, types: [camera, speaker, link], metric: online, value: 0,
     severity: critical}
"""
WATCHED = ["up1", *BEHIND_UPLINK]  # polled by the collector; the rest publish MQTT themselves


def _collector(conn: psycopg.Connection) -> None:
    conn.execute(
        "INSERT INTO devices (id, type, commune_code, site_id, name, interval_s)"
        " VALUES ('col-1', 'collector', '21025', 's-ubnd', 'UBND', 30)"
    )
    conn.execute("UPDATE devices SET observed_by = 'col-1' WHERE id = ANY(%s)", (WATCHED,))


def reach(conn: psycopg.Connection) -> dict[str, tuple[str, str | None]]:
    rows = conn.execute("SELECT device_id, state, root_cause_id FROM device_reachability")
    return {d: (s, r) for d, s, r in rows.fetchall()}


def test_collector_down_one_alert_devices_unobserved(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    _collector(fleet)
    engine = make_engine(RULES)
    everyone = [*ALL_DEVICES, "col-1"]
    report_all(fleet, t0, everyone)
    for device in WATCHED:
        metric(fleet, device, "online", 1, t0)
    engine.evaluate_once(t0)
    assert {s for s, _ in reach(fleet).values()} == {"online"}

    # The collector's last will; nobody polls its 13 devices any more. Native devices go on.
    report(fleet, "col-1", t0 + 5 * S, online=False)
    native = [d for d in ALL_DEVICES if d not in WATCHED]
    later = t0 + 5 * 60 * S  # long past 3 × 60 s: the watched devices' reports are overdue
    report_all(fleet, later, native)
    engine.evaluate_once(later)
    engine.evaluate_once(later + S)
    state = reach(fleet)
    assert state["col-1"] == ("offline", None)
    assert {state[d] for d in WATCHED} == {("unobserved", "col-1")}
    assert {state[d][0] for d in native} == {"online"}

    firing = alerts(fleet, "offline", "firing")
    notifiable = [a for a in firing if a["suppressed_by"] is None]
    (root,) = notifiable
    assert root["device_id"] == "col-1"
    assert {a["device_id"] for a in firing} == {"col-1", *WATCHED}
    assert root["annotations"]["impact"] == {"camera": 8, "speaker": 4, "link": 1}
    assert root["summary_en"].endswith(
        "offline: 13 devices not observed (8 cameras, 4 loudspeakers, 1 link)"
    )
    assert "13 thiết bị không được giám sát" in root["summary"]
    # Unobserved time is counted apart from the devices' own downtime.
    changes = fleet.execute(
        "SELECT count(*) FROM device_reachability_changes WHERE state = 'unobserved'"
    ).fetchone()
    assert changes == (13,)

    # The collector returns and backfills: its devices were fine all along.
    back = later + 10 * S
    report_all(fleet, back, [*WATCHED, "col-1"])
    engine.evaluate_once(back)
    state = reach(fleet)
    assert {state[d][0] for d in [*WATCHED, "col-1"]} == {"online"}
    assert alerts(fleet, "offline", "firing") == []


def test_collector_up_device_not_answering_pages_by_itself(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    _collector(fleet)
    engine = make_engine(RULES)
    report_all(fleet, t0, [*ALL_DEVICES, "col-1"])
    metric(fleet, "cam-01", "online", 0, t0)  # the collector says: no echo from cam-01
    engine.evaluate_once(t0)
    later = t0 + 2 * 60 * S  # still "no echo" two minutes on, while its uplink keeps reporting
    report(fleet, "cam-01", later)
    metric(fleet, "cam-01", "online", 0, later)
    report_all(fleet, later + S, [d for d in [*ALL_DEVICES, "col-1"] if d != "cam-01"])
    engine.evaluate_once(later + S)
    assert reach(fleet)["cam-01"] == ("offline", None)
    (alert,) = alerts(fleet, "not_responding", "firing")
    assert alert["device_id"] == "cam-01" and alert["suppressed_by"] is None
