"""Alerts-mode judging of a drill against rows in the real ``alerts`` / ``notifications``."""

from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb

from devices.registry import Registry
from devices.store import import_registry
from simulators.drill import Drill
from simulators.scenario import parse_scenario

SCENARIO = """
name: uplink
speed: 5
duration: 20m
faults:
  - {at: 2m, fault: uplink_cut, target: ts-uplink, duration: 10m}
expect:
  incidents:
    - {rule: device_offline, device: ts-uplink, severity: critical, by: 6m}
  suppressed:
    - {device: ts-an-tho-cam01}
  resolved:
    - {rule: device_offline, device: ts-uplink, by: 18m}
  notifications: {min: 1, max: 2}
"""
ALERT = """
INSERT INTO alerts (fingerprint, rule, kind, severity, state, device_id, started_at, suppressed_by)
VALUES (%(fp)s, %(rule)s, 'absence', 'critical', %(state)s, %(device)s, now(), %(by)s)
RETURNING id
"""
NOTIFICATION = """
INSERT INTO notifications (dedup_key, receiver, channel, group_key, kind, payload)
VALUES (%(key)s, 'ops', 'webhook', '21025', 'firing', %(payload)s)
"""


def alert(db: psycopg.Connection, rule: str, device: str, state: str, by: int | None = None) -> int:
    params = {"fp": f"{rule}/{device}", "rule": rule, "state": state, "device": device, "by": by}
    row = db.execute(ALERT, params).fetchone()
    assert row is not None
    return int(row[0])


def test_alerts_mode_judges_incidents_suppression_and_notifications(
    db_url: str, db: psycopg.Connection, demo: Registry
) -> None:
    import_registry(db, demo, "demo")
    old = alert(db, "device_offline", "ts-uplink", "firing")  # before the drill: ignored
    db.execute("UPDATE alerts SET state = 'resolved' WHERE id = %(id)s", {"id": old})
    alert(db, "camera_stream_down", "ts-an-tho-cam01", "firing")  # left over: not this drill's
    drill = Drill(parse_scenario(SCENARIO), demo, db_url, "alerts")
    assert drill.result.mode == "alerts"
    assert not drill.observe()
    assert [o.ok for o in drill.result.outcomes] == [False, False, True, False]

    root = alert(db, "device_offline", "ts-uplink", "firing")
    alert(db, "device_offline", "ts-an-tho-cam01", "firing", by=root)
    db.execute(NOTIFICATION, {"key": "n1", "payload": Jsonb({})})
    drill.observe()
    opened, resolved, suppressed, notes = drill.result.outcomes
    assert opened.ok and opened.final and f"alert {root}" in opened.actual
    assert not resolved.ok and suppressed.ok and notes.ok

    drill.clock.wall0 -= 36  # 3 simulated minutes in (speed 5): the uplink cut is active
    alert(db, "camera_video_loss", "ts-an-tho-cam01", "firing")  # unsuppressed: a violation
    db.execute("UPDATE alerts SET state = 'resolved' WHERE id = %(id)s", {"id": root})
    db.execute(NOTIFICATION, {"key": "n2", "payload": Jsonb({})})
    db.execute(NOTIFICATION, {"key": "n3", "payload": Jsonb({})})
    drill.observe()
    assert resolved.ok
    assert not suppressed.ok and "camera_video_loss firing unsuppressed" in suppressed.actual
    assert not notes.ok and notes.actual == "3"
    report = drill.result.report("uplink")
    assert "FAIL suppressed any rule ts-an-tho-cam01" in report
    assert "expected: 1..2" in report and "2/4 expectations met" in report
    drill.conn.close()


BROADCAST_ALERT = """
INSERT INTO alerts (fingerprint, rule, kind, severity, state, device_id, started_at)
VALUES ('broadcast_missed/ts-phuoc-loc-spk1', 'broadcast_missed', 'event', 'warning', 'firing',
        'ts-phuoc-loc-spk1', now() - interval '30 seconds')
"""
SUPPRESS_SPEAKER = """
name: uplink
speed: 5
duration: 20m
faults:
  - {at: 2m, fault: uplink_cut, target: ts-uplink, duration: 10m}
expect:
  suppressed:
    - {device: ts-phuoc-loc-spk1}
"""


def test_suppression_counts_only_alerts_the_fault_caused(
    db_url: str, db: psycopg.Connection, demo: Registry
) -> None:
    """The day's missed broadcast, reported as the drill starts, is not the uplink cut's noise."""
    import_registry(db, demo, "demo")
    drill = Drill(parse_scenario(SUPPRESS_SPEAKER), demo, db_url, "alerts")
    db.execute(BROADCAST_ALERT)  # as the drill started (shifted with the clock below)
    drill.clock.wall0 -= 36  # 3 simulated minutes in: the uplink cut (from +2m) is active
    drill.observe()
    (suppressed,) = drill.result.outcomes
    assert suppressed.ok, suppressed.actual
    alert(db, "device_offline", "ts-phuoc-loc-spk1", "firing")  # caused by the cut, unsuppressed
    drill.observe()
    assert not suppressed.ok and "device_offline firing unsuppressed" in suppressed.actual
    drill.conn.close()


def test_drill_starts_at_the_scenarios_time_of_day_whatever_the_hour(
    db_url: str, db: psycopg.Connection, demo: Registry
) -> None:
    from datetime import datetime

    from simulators.clock import VN_TZ, latest_local

    for hhmm in ("06:50", "23:30"):
        drill = Drill(
            parse_scenario(SUPPRESS_SPEAKER + f"start: '{hhmm}'\n"), demo, db_url, "alerts"
        )
        local = datetime.fromtimestamp(drill.clock.start, VN_TZ)
        assert local.strftime("%H:%M") == hhmm and drill.clock.start <= drill.clock.wall0
        drill.conn.close()
    default = Drill(parse_scenario(SUPPRESS_SPEAKER), demo, db_url, "alerts")
    assert datetime.fromtimestamp(default.clock.start, VN_TZ).strftime("%H:%M") == "09:00"
    default.conn.close()
    # The latest such time at or before the wall clock, at any hour of the day.
    for hour in range(24):
        now = datetime(2026, 11, 23, hour, 15, tzinfo=VN_TZ).timestamp()
        start = latest_local("06:50", now)
        assert 0 <= now - start < 86400
        assert datetime.fromtimestamp(start, VN_TZ).strftime("%H:%M") == "06:50"
