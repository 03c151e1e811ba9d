"""Lifecycle: one open alert per fingerprint, history of ack/assign, ack never blocks resolve."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from ioc.migrate import migrations_dir
from ioc.ops.actions import acknowledge, assign
from tests.alerts.conftest import EngineFactory, actions, alerts, report, report_all

S = timedelta(seconds=1)
OFFLINE = "rules:\n  - {name: offline, kind: absence, types: [camera, speaker, link, nvr]}\n"


def test_one_open_alert_per_fingerprint(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine(OFFLINE)
    report_all(fleet, t0)
    report(fleet, "solo", t0, online=False)
    for i in range(3):
        engine.evaluate_once(t0 + i * S)
    assert len(alerts(fleet, "offline")) == 1
    # A second engine evaluating the same instant (failover overlap) adds nothing.
    make_engine(OFFLINE).evaluate_once(t0 + 3 * S)
    assert len(alerts(fleet, "offline")) == 1
    with pytest.raises(psycopg.errors.UniqueViolation):
        fleet.execute(
            "INSERT INTO alerts (fingerprint, rule, kind, severity, state, started_at)"
            " VALUES ('offline:solo', 'offline', 'absence', 'critical', 'firing', now())"
        )
    # After resolution the same fingerprint opens a new alert.
    report(fleet, "solo", t0 + 4 * S)
    engine.evaluate_once(t0 + 4 * S)
    report(fleet, "solo", t0 + 5 * S, online=False)
    engine.evaluate_once(t0 + 5 * S)
    assert [a["state"] for a in alerts(fleet, "offline")] == ["resolved", "firing"]
    assert len({a["fingerprint"] for a in alerts(fleet, "offline")}) == 1


def test_ack_and_assign_history_and_resolution_still_flows(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine(OFFLINE)
    report_all(fleet, t0)
    report(fleet, "up1", t0, online=False)
    engine.evaluate_once(t0)
    (alert,) = alerts(fleet, "offline")
    note = "Đang kiểm tra cáp quang"
    ack = acknowledge(
        fleet, alert["id"], actor="ky.thuat.vien", note=note, channel="telegram", now=t0 + S
    )
    assert ack.ok and ack.commune == alert["commune_code"]
    fleet.execute(  # only an existing technician of the commune may be assigned
        "INSERT INTO ioc_auth.users (name, role, communes) VALUES (%s, 'technician', %s)",
        ("vnpt.quang.ngai", [alert["commune_code"]]),
    )
    assert assign(
        fleet, alert["id"], assignee="vnpt.quang.ngai", actor="truc.ban", channel="console",
        now=t0 + 2 * S,
    ).ok  # fmt: skip
    row = alerts(fleet, "offline")[0]
    assert (
        row["acknowledged_by"] == "ky.thuat.vien" and row["ack_note"] == "Đang kiểm tra cáp quang"
    )
    assert row["acknowledged_at"] == t0 + S and row["assignee"] == "vnpt.quang.ngai"
    assert row["state"] == "firing"  # acknowledging does not silence or resolve
    report(fleet, "up1", t0 + 3 * S)
    engine.evaluate_once(t0 + 3 * S)
    row = alerts(fleet, "offline")[0]
    assert row["state"] == "resolved"
    assert actions(fleet, alert["id"]) == [
        "pending",
        "firing",
        "acknowledged",
        "assigned",
        "resolved",
    ]
    entry = fleet.execute(
        "SELECT actor, note, data->>'channel' FROM alert_history"
        " WHERE alert_id = %s AND action = 'acknowledged'",
        (alert["id"],),
    ).fetchone()
    assert entry == ("ky.thuat.vien", "Đang kiểm tra cáp quang", "telegram")
    audited = fleet.execute(
        "SELECT action, details->>'channel' FROM audit_log WHERE object_id = %s ORDER BY id",
        (str(alert["id"]),),
    ).fetchall()
    assert audited == [("acknowledged", "telegram"), ("assigned", "console")]
    # A resolved alert cannot be acknowledged any more; unknown or out-of-scope ids are refused.
    late = acknowledge(fleet, alert["id"], actor="x", note="late", channel="api", now=t0 + 4 * S)
    assert late.outcome == "resolved"
    assert assign(fleet, 999999, assignee="x", actor="y", channel="api", now=t0).outcome == (
        "not_found"
    )
    elsewhere = assign(
        fleet, alert["id"], assignee="x", actor="y", channel="api", now=t0, scope=["99999"]
    )
    assert elsewhere.outcome == "not_found"


def test_rule_error_does_not_stop_other_rules(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine(OFFLINE)
    report_all(fleet, t0)
    report(fleet, "solo", t0, online=False)

    class Broken:
        name = kind = "broken"

        def evaluate(self, conn: psycopg.Connection, ctx: object) -> list[object]:
            conn.execute("SELECT no_such_column FROM devices")
            return []

    engine.rules.insert(0, Broken())  # type: ignore[arg-type]
    result = engine.evaluate_once(t0)
    assert result.rule_errors == ["broken"]
    assert alerts(fleet, "offline")[0]["state"] == "firing"


def test_migration_unifies_old_history_words(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine(OFFLINE)
    report_all(fleet, t0)
    report(fleet, "up1", t0, online=False)
    engine.evaluate_once(t0)
    (alert,) = alerts(fleet, "offline")
    for old in ("ack", "assign"):  # what the API used to write
        fleet.execute(
            "INSERT INTO alert_history (alert_id, time, action, actor) VALUES (%s, %s, %s, 'tech')",
            (alert["id"], t0 + S, old),
        )
        fleet.execute(
            "INSERT INTO audit_log (actor, action, object_type, object_id)"
            " VALUES ('tech', %s, 'alert', %s)",
            (old, str(alert["id"])),
        )
    sql = (Path(migrations_dir()) / "0610_action_vocabulary.sql").read_text()
    fleet.execute(sql)  # type: ignore[arg-type]
    assert actions(fleet, alert["id"])[-2:] == ["acknowledged", "assigned"]
    audited = fleet.execute(
        "SELECT action FROM audit_log WHERE object_id = %s ORDER BY id", (str(alert["id"]),)
    ).fetchall()
    assert audited == [("acknowledged",), ("assigned",)]
