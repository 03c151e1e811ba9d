"""The demo's scheduled faults, each one incident (its other alerts folded under it).

The demo's parts as ``ioc demo`` wires them, with times shrunk: the simulated commune at 10x
with ``DEMO_FAULTS``, the edge collector (Hikvision NVR video loss, NVR disk, then the
collector's own outage), real ingest, the alert engine with the shipped rules (every ``for``
shortened to 3 s) and inhibit rules, and the notifier posting to a loopback webhook.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import yaml
from psycopg_pool import ConnectionPool

from alerts.engine import AlertEngine
from alerts.rules import RulesFile, parse_rules_file
from alerts.settings import AlertSettings
from api.console.incidents import load as load_incidents
from demo.edge import COLLECTOR_ID, running_edge
from demo.runner import DEMO_FAULTS, DEMO_REGISTRY
from devices.registry import load_file
from devices.store import import_registry
from ingest.service import IngestService
from ioc.mqttclient import MqttTarget
from simulators.clock import SimClock, latest_local
from simulators.fleet import Fleet
from simulators.world import World
from tests.alerts.notify.helpers import HttpReceiver, notify_setup, webhook_config
from tests.ingest.conftest import test_settings
from tests.plugins.broker import Mosquitto
from tests.util import wait_until

SPEED = 10.0
NVR = "ts-edge-hik-nvr-1"
CUT_SWITCH = "ts-phuoc-loc-sw"
BEHIND = """
WITH RECURSIVE edges AS (
    SELECT device_id AS id, parent_id FROM device_parents
    UNION SELECT id, parent_id FROM devices WHERE parent_id IS NOT NULL
), t(id) AS (
    SELECT %(d)s::text UNION SELECT e.id FROM edges e JOIN t ON e.parent_id = t.id
)
SELECT id FROM t
"""
# Alerts notified as firing (a group's later messages repeat its alerts: ids, not mentions).
NOTIFIED = """
SELECT a.device_id, a.rule, a.started_at FROM alerts a
WHERE EXISTS (SELECT 1 FROM alert_history h WHERE h.alert_id = a.id AND h.action = 'notified'
              AND h.data ->> 'kind' = 'firing')
"""


def shipped_rules_fast() -> RulesFile:
    """The shipped rules file with every ``for`` at 3 s (the inhibit rules as shipped)."""
    path = Path(__file__).resolve().parents[2] / "alerts" / "rules" / "default_rules.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for rule in data["rules"]:
        if "for" in rule:
            rule["for"] = "3s"
    return parse_rules_file(yaml.safe_dump(data, allow_unicode=True))


@contextmanager
def simulated_commune(mqtt_url: str) -> Iterator[SimClock]:
    """The demo commune's simulators with the demo's faults, ``SPEED`` times faster."""
    clock = SimClock(latest_local("09:00", time.time()), SPEED, time.time())
    world = World(load_file(DEMO_REGISTRY), 1, clock.start, fault_rate=0.0,
                  time_map=clock.wall_of)  # fmt: skip
    for at, fault, device, duration in DEMO_FAULTS:
        world.inject(fault, device, duration, clock.start + at, None, source="demo")
    fleet = Fleet(world, clock, MqttTarget(mqtt_url, "5"), "device", client_prefix="t-demo-")
    stop = threading.Event()
    thread = threading.Thread(target=fleet.run, kwargs={"stop": stop}, daemon=True)
    thread.start()
    try:
        yield clock
    finally:
        stop.set()
        thread.join(10)
        fleet.close(will=False)


def incidents(conn: psycopg.Connection) -> dict[int, dict[str, Any]]:
    """The console's incidents page: root id → its device, rule and folded children."""
    params = {
        "scope": None, "commune": None, "site": None, "type": None, "severity": None,
        "state": None, "limit": 500, "offset": 0,
    }  # fmt: skip
    page = load_incidents(conn, params)
    return {
        r.id: {"device": r.device_id, "rule": r.rule, "children": r.children_total}
        for r in page["roots"]
    }


def make_engine(db_url: str, receiver: HttpReceiver, tmp_path: Path) -> AlertEngine:
    """The engine as `ioc alerts` runs it, faster, with the (shortened) shipped rules."""
    config = webhook_config(receiver.url)
    config["defaults"]["group_interval"] = "2s"  # a group's next message 2 s later, not 1 min
    routes = tmp_path / "routes.yaml"
    routes.write_text(yaml.safe_dump(config), encoding="utf-8")
    rules = shipped_rules_fast()
    pool = ConnectionPool(db_url, min_size=1, max_size=4, open=True)
    settings = AlertSettings(
        evaluation_interval_s=0.5,
        pipeline_heartbeat_s=0,
        pipeline_silence_s=0,
    )
    return AlertEngine(
        settings,
        pool,
        rules=[r for r in rules.rules if r.enabled],
        inhibit_rules=rules.inhibit_rules,
        notify=notify_setup(alerts_config=routes, public_url="http://t"),
    )


def test_the_demo_faults_are_one_incident_each(
    db_url: str, own_broker: Mosquitto, tmp_path: Path
) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        import_registry(conn, load_file(DEMO_REGISTRY), "demo")
    settings, ingest = test_settings(db_url, own_broker.url, topic_prefix="ioc/v1")
    service = IngestService(settings, ingest).start()
    receiver = HttpReceiver().start()
    engine = make_engine(db_url, receiver, tmp_path)
    edge_start = time.time()
    try:
        with (
            running_edge(
                db_url, own_broker.url, [].append, outage=(30.0, 15.0), interval_s=1,
                camera_faults={"video_loss_at_s": 3.0, "video_loss_for_s": 300.0,
                               "disk_at_s": 6.0},
            ),
            simulated_commune(own_broker.url) as clock,
            psycopg.connect(db_url, autocommit=True) as conn,
        ):  # fmt: skip
            engine.start()
            faults = {
                "video loss ts-cam-03": {"ts-cam-03"},
                f"cut {CUT_SWITCH}": {r[0] for r in conn.execute(BEHIND, {"d": CUT_SWITCH})},
                "amp fault ts-an-tho-spk1": {"ts-an-tho-spk1"},
                "NVR video loss / disk": {NVR},
            }
            began = {  # when each starts (wall clock): what was open before is not its doing
                name: clock.wall_of(clock.start + step[0])
                for step, name in zip(DEMO_FAULTS, faults, strict=False)
            }
            began["NVR video loss / disk"] = edge_start + 3.0
            # The NVR gets two faults: video loss on channel 2 and the failed disk.
            expected = {"NVR video loss / disk": 2}

            def per_fault() -> dict[str, list[tuple[str, str]]]:
                roots = incidents(conn).values()
                return {
                    name: sorted((r["device"], r["rule"]) for r in roots if r["device"] in devs)
                    for name, devs in faults.items()
                }

            def all_in() -> bool:
                found = per_fault()
                return all(len(found[n]) == expected.get(n, 1) for n in faults)

            wait_until(all_in, 25, 0.5, message="one incident per fault")
            time.sleep(6)  # the 3 s `for` of 0 fps, lost stream, low fps/bit rate: still folded
            found = per_fault()
            roots = incidents(conn)
            print("incidents per fault:", found)
            print("roots:", roots)
            assert all(len(found[n]) == expected.get(n, 1) for n in faults), found
            assert found[f"cut {CUT_SWITCH}"] == [(CUT_SWITCH, "device_offline")]
            nvr_rules = {rule for _, rule in found["NVR video loss / disk"]}
            assert nvr_rules & {"camera_video_loss_event", "nvr_channel_offline"}, nvr_rules
            assert nvr_rules & {"nvr_disk_abnormal", "nvr_disk_failure", "storage_failure"}
            assert sum(r["children"] for r in roots.values()) >= 8  # folded under them

            # Alerts notified: one per fault (the NVR's two), none of the folded ones.
            def notified() -> dict[str, list[tuple[str, str]]]:
                rows = conn.execute(NOTIFIED).fetchall()
                return {
                    name: [(d, r) for d, r, at in rows if d in devs and at.timestamp() >= began[name] - 0.5]
                    for name, devs in faults.items()
                }  # fmt: skip

            def each_once() -> bool:
                return all(len(v) == expected.get(n, 1) for n, v in notified().items())

            wait_until(each_once, 15, 0.5, message="one notification per fault")
            time.sleep(3)  # and no more after the next group message
            print("notified:", notified())
            assert each_once(), notified()

            # The collector is cut off: its devices are unobserved, folded under its alert.
            wait_until(
                lambda: not any(r["device"] == NVR for r in incidents(conn).values()),
                40, 0.5, message="the NVR's incidents folded under the collector's",
            )  # fmt: skip
            assert any(r["device"] == COLLECTOR_ID for r in incidents(conn).values())
    finally:
        engine.stop()
        engine.pool.close()
        receiver.stop()
        service.stop()
