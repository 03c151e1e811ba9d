"""Holds: wills in any order are one root cause; a broker restart is not every device's outage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from psycopg_pool import ConnectionPool

from alerts.engine import AlertEngine
from alerts.rules import parse_rules
from alerts.settings import AlertSettings
from tests.alerts.conftest import (
    ALL_DEVICES,
    BEHIND_UPLINK,
    EngineFactory,
    alerts,
    report,
    report_all,
)
from tests.plugins.broker import Mosquitto
from tests.util import wait_until

S = timedelta(seconds=1)
RULES = """
rules:
  - {name: offline, kind: absence, types: [camera, speaker, link, nvr], severity: critical}
"""


def _unsuppressed_children(conn: psycopg.Connection) -> list[str]:
    return [
        a["device_id"]
        for a in alerts(conn, "offline", "firing")
        if a["device_id"] in BEHIND_UPLINK and a["suppressed_by"] is None
    ]


def test_children_wills_before_the_uplinks_still_make_one_root_cause(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine(RULES)
    report_all(fleet, t0)
    engine.evaluate_once(t0)
    # The devices behind the uplink lose their connections first; the uplink's will is 4 s late.
    for device in BEHIND_UPLINK:
        report(fleet, device, t0 + 5 * S, online=False)
    for second in range(5, 30):
        if second == 9:
            report(fleet, "up1", t0 + 9 * S, online=False)
        engine.evaluate_once(t0 + second * S)
        assert _unsuppressed_children(fleet) == [], f"at +{second}s"
    firing = alerts(fleet, "offline", "firing")
    assert [a["device_id"] for a in firing if a["suppressed_by"] is None] == ["up1"]


def test_a_parent_heard_after_the_will_releases_the_child_at_once(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    engine = make_engine(RULES)
    report_all(fleet, t0)
    report(fleet, "cam-01", t0 + 5 * S, online=False)
    engine.evaluate_once(t0 + 6 * S)
    assert alerts(fleet, "offline", "firing") == []  # the uplink's state is not known yet
    report(fleet, "up1", t0 + 7 * S)  # the uplink speaks: the camera's outage is its own
    engine.evaluate_once(t0 + 7 * S)
    assert [a["device_id"] for a in alerts(fleet, "offline", "firing")] == ["cam-01"]


def test_the_hold_is_bounded(
    fleet: psycopg.Connection, make_engine: EngineFactory, t0: datetime
) -> None:
    # The uplink (a link) could be found down 8 s after the camera's will, plus a 2 s margin.
    engine = make_engine(RULES, parent_hold_s=2, parent_hold_by_type={"link": 8})
    report_all(fleet, t0)
    report(fleet, "cam-01", t0 + 5 * S, online=False)  # the uplink stays quiet, not yet late
    engine.evaluate_once(t0 + 14 * S)
    assert alerts(fleet, "offline", "firing") == []
    engine.evaluate_once(t0 + 16 * S)
    assert [a["device_id"] for a in alerts(fleet, "offline", "firing")] == ["cam-01"]


def test_broker_restart_holds_its_wills_and_opens_the_blind_window(
    fleet: psycopg.Connection, pool: ConnectionPool, own_broker: Mosquitto
) -> None:
    settings = AlertSettings(pipeline_silence_s=0, pipeline_heartbeat_s=0, broker_settle_s=3)
    engine = AlertEngine(settings, pool, rules=parse_rules(RULES), mqtt_url=own_broker.url)
    assert engine.watch is not None
    engine.watch.start()
    try:
        wait_until(engine.watch.connected.is_set, 10, message="engine connected to the broker")
        report_all(fleet, datetime.now(UTC))
        engine.evaluate_once()
        own_broker.stop()
        wait_until(lambda: not engine.watch.connected.is_set(), 10, message="drop noticed")
        own_broker.start()
        # Ingest gets every device's will from its persistent session when the broker is back.
        for device in ALL_DEVICES:
            report(fleet, device, datetime.now(UTC), online=False)
        wait_until(engine.watch.connected.is_set, 15, message="engine reconnected")
        engine.evaluate_once()
        assert alerts(fleet, "offline", "firing") == []
        (down,) = alerts(fleet, "pipeline_down", "firing")
        assert down["annotations"]["reason"] == "broker_restart"
        # Devices reconnect (births), except one that really is gone.
        report_all(fleet, datetime.now(UTC), [d for d in ALL_DEVICES if d != "solo"])

        def settled() -> list[str]:
            engine.evaluate_once()
            return [a["device_id"] for a in alerts(fleet, "offline", "firing")]

        assert wait_until(settled, 15, interval=0.5, message="settled") == ["solo"]
        assert alerts(fleet, "pipeline_down", "firing") == []
    finally:
        engine.watch.stop()
