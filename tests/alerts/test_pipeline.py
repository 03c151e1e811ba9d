"""Self-monitoring: one pipeline_down alert, offline alerts held back for the blind window."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from tests.alerts.conftest import ALL_DEVICES, EngineFactory, alerts, report, report_all

S = timedelta(seconds=1)
M = timedelta(minutes=1)
RULES = "rules:\n  - {name: offline, kind: absence, types: [camera, speaker, link, nvr]}\n"


def heartbeat(conn: psycopg.Connection, at: datetime, instance: str = "ingest-a") -> None:
    conn.execute(
        """
        INSERT INTO ingest_instances (instance, started_at, heartbeat_at) VALUES (%s, %s, %s)
        ON CONFLICT (instance) DO UPDATE SET heartbeat_at = excluded.heartbeat_at
        """,
        (instance, at, at),
    )


def states(conn: psycopg.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT DISTINCT state FROM device_reachability")}


def test_ingest_stops_one_alert_no_flood_then_recovery(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine(RULES, pipeline_heartbeat_s=30)
    report_all(fleet, t0)
    report(fleet, "solo", t0, online=False)  # already down before the outage
    heartbeat(fleet, t0)
    heartbeat(fleet, t0 - 3600 * S, "ingest-old")  # a long-gone instance does not matter
    engine.evaluate_once(t0 + 20 * S)
    assert alerts(fleet, "pipeline_down") == []
    assert [a["device_id"] for a in alerts(fleet, "offline")] == ["solo"]

    # Ingest dies at t0: no heartbeat, no data.
    engine.evaluate_once(t0 + 31 * S)
    (down,) = alerts(fleet, "pipeline_down")
    assert (down["state"], down["severity"], down["device_id"]) == ("firing", "critical", None)
    assert down["labels"] == {"type": "system", "rule": "pipeline_down", "severity": "critical"}
    assert down["summary"].startswith("Hệ thống giám sát ngừng nhận dữ liệu")
    for minute in (2, 5, 10):
        engine.evaluate_once(t0 + minute * M)
    assert len(alerts(fleet, "pipeline_down")) == 1
    assert [a["device_id"] for a in alerts(fleet, "offline")] == ["solo"]  # no flood
    assert states(fleet) == {"online", "offline"}
    assert fleet.execute(
        "SELECT count(*) FROM device_reachability WHERE state = 'offline'"
    ).fetchone() == (1,)

    # Ingest is back at t0+10m; devices report again, except spk-1.
    back = t0 + 10 * M
    heartbeat(fleet, back)
    engine.evaluate_once(back + S)
    assert alerts(fleet, "pipeline_down")[0]["state"] == "resolved"
    assert [a["device_id"] for a in alerts(fleet, "offline")] == ["solo"]
    report_all(fleet, back + 10 * S, [d for d in ALL_DEVICES if d not in ("spk-1", "solo")])
    heartbeat(fleet, back + 60 * S)
    engine.evaluate_once(back + 60 * S)
    assert [a["device_id"] for a in alerts(fleet, "offline")] == ["solo"]
    # spk-1 (30 s interval, k = 3) is overdue 90 s after the blind window ended.
    heartbeat(fleet, back + 92 * S)
    engine.evaluate_once(back + 92 * S)
    assert [a["device_id"] for a in alerts(fleet, "offline")] == ["solo", "spk-1"]


def test_no_data_at_all_means_pipeline_down(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine(RULES, pipeline_silence_s=60)
    report_all(fleet, t0)
    engine.evaluate_once(t0 + 59 * S)
    assert alerts(fleet) == []
    engine.evaluate_once(t0 + 61 * S)
    (down,) = alerts(fleet)
    assert down["rule"] == "pipeline_down" and down["annotations"]["reason"] == "no_data"
    engine.evaluate_once(t0 + 10 * M)
    assert [a["rule"] for a in alerts(fleet)] == ["pipeline_down"]
