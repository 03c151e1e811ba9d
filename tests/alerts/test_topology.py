"""Reachability and topology inhibition: one root-cause alert naming the impact."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from tests.alerts.conftest import (
    ALL_DEVICES,
    BEHIND_UPLINK,
    EngineFactory,
    actions,
    alerts,
    metric,
    report,
    report_all,
)

S = timedelta(seconds=1)
RULES = """
rules:
  - {name: offline, kind: absence, types: [camera, speaker, link, nvr]}
  - {name: link_down, kind: state, types: [link], metric: up, value: 0, severity: critical}
"""


def reachability(conn: psycopg.Connection) -> dict[str, tuple[str, str | None]]:
    rows = conn.execute(
        "SELECT device_id, state, root_cause_id FROM device_reachability"
    ).fetchall()
    return {d: (s, r) for d, s, r in rows}


def test_uplink_down_one_root_cause_alert_and_recovery(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine(RULES)
    report_all(fleet, t0)
    engine.evaluate_once(t0)
    assert {s for s, _ in reachability(fleet).values()} == {"online"}
    # The uplink dies: its last will and those of the 12 devices behind it arrive together.
    for device in ["up1", *BEHIND_UPLINK]:
        report(fleet, device, t0 + 5 * S, online=False)
    result = engine.evaluate_once(t0 + 6 * S)
    # The root cause fires at once; the cut-off devices wait one tick for its alert to exist.
    assert [a["device_id"] for a in alerts(fleet, "offline", "firing")] == ["up1"]
    assert len(alerts(fleet, "offline", "pending")) == 12
    engine.evaluate_once(t0 + 7 * S)
    reach = reachability(fleet)
    assert reach["up1"] == ("offline", None)
    assert {reach[d] for d in BEHIND_UPLINK} == {("unreachable", "up1")}
    assert reach["core"] == ("online", None)  # still reporting (and has the 4G parent)
    assert result.reachability.impact == {"up1": {"camera": 8, "speaker": 4}}

    firing = alerts(fleet, "offline", "firing")
    assert len(firing) == 13
    notifiable = [a for a in firing if a["suppressed_by"] is None and a["silenced_by"] == []]
    (root,) = notifiable
    assert root["device_id"] == "up1"
    assert root["annotations"]["impact"] == {"camera": 8, "speaker": 4}
    assert root["summary"] == (
        "Cáp quang UBND mất kết nối: 8 camera, 4 cụm loa không truy cập được"
    )
    assert root["summary_en"] == "Cáp quang UBND offline: 8 cameras, 4 loudspeakers unreachable"
    children = [a for a in firing if a["device_id"] != "up1"]
    assert {a["suppressed_by"] for a in children} == {root["id"]}
    assert {a["annotations"]["root_cause_device"] for a in children} == {"up1"}
    assert actions(fleet, children[0]["id"]) == ["pending", "suppressed", "firing"]
    changes = fleet.execute(
        "SELECT count(*) FROM device_reachability_changes WHERE time = %s AND state = 'unreachable'",
        (t0 + 6 * S,),
    ).fetchone()
    assert changes == (12,)

    # Re-evaluating changes nothing (no duplicate history rows).
    engine.evaluate_once(t0 + 8 * S)
    assert actions(fleet, children[0]["id"]) == ["pending", "suppressed", "firing"]

    # The uplink returns; every device but spk-4 reconnects.
    for device in ["up1", *BEHIND_UPLINK[:-1]]:
        report(fleet, device, t0 + 20 * S)
    engine.evaluate_once(t0 + 21 * S)
    by_device = {a["device_id"]: a for a in alerts(fleet, "offline")}
    assert by_device["up1"]["state"] == "resolved"
    assert {by_device[d]["state"] for d in BEHIND_UPLINK[:-1]} == {"resolved"}
    left = by_device["spk-4"]
    # Still reconnecting: it stays suppressed for the recovery grace period (60 s)...
    assert left["state"] == "firing" and left["suppressed_by"] == root["id"]
    assert reachability(fleet)["spk-4"] == ("offline", None)
    report_all(fleet, t0 + 80 * S, [d for d in ALL_DEVICES if d != "spk-4"])
    engine.evaluate_once(t0 + 80 * S)
    assert alerts(fleet, "offline", "firing")[0]["suppressed_by"] == root["id"]
    # ... and then it is its own problem.
    report_all(fleet, t0 + 82 * S, [d for d in ALL_DEVICES if d != "spk-4"])
    engine.evaluate_once(t0 + 82 * S)
    (left,) = alerts(fleet, "offline", "firing")
    assert left["device_id"] == "spk-4" and left["suppressed_by"] is None
    assert "root_cause_device" not in left["annotations"]
    assert actions(fleet, left["id"]) == ["pending", "suppressed", "firing", "unsuppressed"]


def test_link_down_metric_and_silence_by_age(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine(RULES)
    report_all(fleet, t0)
    metric(fleet, "up1", "up", 1, t0)
    engine.evaluate_once(t0)
    # The poller reports the uplink down; the devices behind it simply fall silent.
    others = ["up1", "g4", "core", "cam-core", "nvr-1", "solo"]
    later = t0 + timedelta(minutes=4)
    report_all(fleet, later, others)
    metric(fleet, "up1", "up", 0, later)
    engine.evaluate_once(later)
    engine.evaluate_once(later + S)
    (down,) = alerts(fleet, "link_down")
    assert down["suppressed_by"] is None
    assert down["annotations"]["impact"] == {"camera": 8, "speaker": 4}
    offline = alerts(fleet, "offline", "firing")
    assert {a["device_id"] for a in offline} == set(BEHIND_UPLINK)
    assert {a["suppressed_by"] for a in offline} == {down["id"]}
    assert reachability(fleet)["cam-01"] == ("unreachable", "up1")


def test_multiple_parents_cut_off_only_when_all_down(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine(RULES)
    report_all(fleet, t0)
    engine.evaluate_once(t0)
    # Fiber down: core loses its primary parent but still has 4G; core itself dies too.
    for device in ("up1", "core", "cam-core", "nvr-1"):
        report(fleet, device, t0 + S, online=False)
    engine.evaluate_once(t0 + 2 * S)
    engine.evaluate_once(t0 + 3 * S)
    reach = reachability(fleet)
    assert reach["core"] == ("offline", None)
    assert reach["cam-core"] == ("unreachable", "core")
    assert reach["nvr-1"] == ("unreachable", "core")
    core_alert = next(a for a in alerts(fleet, "offline") if a["device_id"] == "core")
    assert core_alert["suppressed_by"] is None
    assert core_alert["annotations"]["impact"] == {"camera": 1, "nvr": 1}
    # 4G goes down too: core is now cut off, and the topmost down ancestor is the fiber uplink.
    report(fleet, "g4", t0 + 3 * S, online=False)
    engine.evaluate_once(t0 + 3 * S)
    engine.evaluate_once(t0 + 4 * S)
    reach = reachability(fleet)
    assert reach["core"] == ("unreachable", "up1")
    assert reach["cam-core"] == ("unreachable", "up1")
    by_device = {a["device_id"]: a for a in alerts(fleet, "offline", "firing")}
    up1_id = by_device["up1"]["id"]
    assert by_device["core"]["suppressed_by"] == up1_id
    assert by_device["cam-core"]["suppressed_by"] == up1_id
    assert by_device["g4"]["suppressed_by"] is None
    assert (
        "impact" not in by_device["core"]["annotations"]
        or not by_device["core"]["annotations"]["impact"]
    )
    # The devices behind the fiber still report (a path we do not model): not cut off.
    assert by_device["up1"]["annotations"]["impact"] == {"camera": 1, "nvr": 1, "link": 1}
    assert "1 camera, 1 đầu ghi, 1 đường truyền" in by_device["up1"]["summary"]


def test_silent_uplink_holds_back_faster_children(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    """Speakers (30 s) are overdue before their silent uplink (60 s): no storm meanwhile."""
    engine = make_engine(RULES)
    report_all(fleet, t0)
    others = ["g4", "core", "cam-core", "nvr-1", "solo"]
    for second in (60, 120, 170):
        report_all(fleet, t0 + second * S, others)
        engine.evaluate_once(t0 + second * S)
    # At 170 s the speakers are long overdue (90 s) but the uplink is only late (stale).
    reach = reachability(fleet)
    assert reach["up1"] == ("stale", None)
    assert reach["spk-1"] == ("unreachable", "up1")
    assert alerts(fleet, "offline", "firing") == []
    assert {a["device_id"] for a in alerts(fleet, "offline", "pending")} == {
        "spk-1",
        "spk-2",
        "spk-3",
        "spk-4",
    }
    # At 181 s the uplink is offline: its alert fires and everything behind it is suppressed.
    for second in (181, 182):
        report_all(fleet, t0 + second * S, others)
        engine.evaluate_once(t0 + second * S)
    firing = alerts(fleet, "offline", "firing")
    assert len(firing) == 13
    assert [a["device_id"] for a in firing if a["suppressed_by"] is None] == ["up1"]


def test_late_parent_back_lets_child_alert_through(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine(RULES)
    report_all(fleet, t0)
    others = ["g4", "core", "cam-core", "nvr-1", "solo"]
    report_all(fleet, t0 + 95 * S, others)
    engine.evaluate_once(t0 + 95 * S)  # spk-1..4 overdue, up1 late: held
    assert alerts(fleet, "offline", "firing") == []
    report_all(fleet, t0 + 100 * S, [*others, *BEHIND_UPLINK[:-1], "up1"])  # all but spk-4
    engine.evaluate_once(t0 + 100 * S)
    firing = alerts(fleet, "offline", "firing")
    assert [(a["device_id"], a["suppressed_by"]) for a in firing] == [("spk-4", None)]


def test_uplink_that_reported_last_still_holds_back_children(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    """The speakers' last report came before the uplink's: they are overdue (90 s) while the
    uplink is only one interval late (not yet stale), and still no storm."""
    engine = make_engine(RULES)
    others = ["g4", "core", "cam-core", "nvr-1", "solo"]
    report_all(fleet, t0 + 20 * S)  # last report of the speakers behind the uplink
    report_all(fleet, t0 + 25 * S, ["up1", *others, *BEHIND_UPLINK[:8]])  # uplink, cameras
    report_all(fleet, t0 + 111 * S, others)
    engine.evaluate_once(t0 + 111 * S)
    reach = reachability(fleet)
    assert reach["up1"] == ("online", None)  # 86 s silent: late, not yet stale
    assert reach["spk-1"] == ("unreachable", "up1")
    assert alerts(fleet, "offline", "firing") == []
