"""An edge collector's MQTT login may publish exactly for the devices it observes."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from devices.credentials import active_logins, issue_devices, issue_service
from devices.mqtt_files import INGEST_USER, render_acl, render_passwd, write_atomically
from ioc.ports import free_port
from tests.collector.harness import import_inventory
from tests.plugins.broker import Mosquitto
from tests.security.conftest import secure_conf
from tests.security.mqtt_helpers import Probe, connect
from tests.util import wait_until

NOT_AUTHORISED = 135
INVENTORY = """
communes: [{code: "21025", name: "Xã Tịnh Sơn"}, {code: "21026", name: "Xã Tịnh Hà"}]
devices:
  - {id: col-1, type: collector, commune: "21025"}
  - {id: cam-1, type: camera, commune: "21025", address: 127.0.0.2, collector: col-1,
     checks: {ping: {}}}
  - {id: ups-1, type: ups, commune: "21025", address: 127.0.0.3, collector: col-1,
     checks: {snmp: {community_env: C}}}
  - {id: cam-2, type: camera, commune: "21025"}
"""


@pytest.fixture
def broker(db: psycopg.Connection, db_url: str) -> Iterator[tuple[Mosquitto, dict[str, str]]]:
    import_inventory(db_url, INVENTORY)
    issued = issue_devices(db, ["col-1"]).issued + issue_service(db, "ingest").issued
    mosq = Mosquitto()
    mosq.extra_conf = secure_conf(mosq, free_port())
    _write(db, mosq)
    mosq.start()
    yield mosq, {i.username: i.password for i in issued}
    mosq.close()


def _write(db: psycopg.Connection, mosq: Mosquitto) -> None:
    logins = active_logins(db)
    write_atomically(mosq.dir / "passwd", render_passwd(logins), 0o644)
    write_atomically(mosq.dir / "acl", render_acl(logins), 0o644)


def test_collector_login_covers_exactly_its_devices(
    broker: tuple[Mosquitto, dict[str, str]], db: psycopg.Connection, db_url: str
) -> None:
    mosq, secrets = broker
    probes: list[Probe] = []
    try:
        reader = connect(mosq.port, INGEST_USER, secrets[INGEST_USER], "ingest-test")
        probes.append(reader)
        assert not reader.subscribe("ioc/v1/#").is_failure
        col = connect(mosq.port, "col-1", secrets["col-1"], will_topic="ioc/v1/21025/col-1/status")
        probes.append(col)
        assert col.connected
        for topic in (
            "ioc/v1/21025/cam-2/telemetry",  # a device it does not observe
            "ioc/v1/21026/ups-1/telemetry",  # its device under the wrong commune
            "ioc/v1/21025/cam-1/other",
        ):
            assert col.publish(topic).value == NOT_AUTHORISED, topic
        allowed = [
            "ioc/v1/21025/col-1/telemetry",
            "ioc/v1/21025/cam-1/telemetry",
            "ioc/v1/21025/cam-1/event",
            "ioc/v1/21025/ups-1/telemetry",
        ]
        for topic in allowed:
            assert not col.publish(topic).is_failure, topic
        wait_until(lambda: len(reader.topics()) == len(allowed), message="allowed messages")
        assert sorted(reader.topics()) == sorted(allowed)

        # cam-2 is reassigned to the collector: the regenerated ACL lets it through.
        db.execute("UPDATE devices SET observed_by = 'col-1' WHERE id = 'cam-2'")
        _write(db, mosq)
        assert mosq.proc is not None
        mosq.proc.send_signal(1)  # SIGHUP: reload password and ACL files
        wait_until(
            lambda: not col.publish("ioc/v1/21025/cam-2/telemetry").is_failure,
            10,
            0.2,
            "ACL reloaded",
        )
    finally:
        for probe in probes:
            probe.close()
