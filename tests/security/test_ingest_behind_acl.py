"""End to end: ingest (as the least-privileged DB role, with its MQTT login) behind the ACL.

A device's spoofed messages never reach ingest, so no row is stored; a publisher the broker
does let through (the simulator login) is still stopped by ingest's own commune check.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import quote

import psycopg
import pytest

from devices.mqtt_files import INGEST_USER, SIMULATOR_USER
from ingest.service import IngestService
from ingest.settings import IngestSettings
from ioc.settings import Settings
from tests.security.conftest import SecureBroker
from tests.security.mqtt_helpers import Probe, connect
from tests.util import wait_until


def reading(seq: int) -> bytes:
    return json.dumps(
        {"ts": datetime.now(UTC).isoformat(), "seq": seq, "metrics": {"fps": 20.0 + seq}}
    ).encode()


def rows(db: psycopg.Connection, query: str) -> list[tuple]:
    return db.execute(query).fetchall()


@pytest.fixture
def ingest_service(secure_broker: SecureBroker, db_url: str) -> Iterator[IngestService]:
    """Two ingest workers sharing one login and subscription, connected as ``ioc_ingest``."""
    secret = quote(secure_broker.secrets[INGEST_USER], safe="")
    mqtt_url = f"mqtt://{INGEST_USER}:{secret}@127.0.0.1:{secure_broker.service_port}"
    # Run the database session as the ingest role itself: what it may not do, it cannot.
    sep = "&" if "?" in db_url else "?"
    settings = Settings(
        database_url=f"{db_url}{sep}options=-c%20role%3Dioc_ingest", mqtt_url=mqtt_url
    )
    with psycopg.connect(settings.database_url) as probe:
        assert probe.execute("SELECT current_user").fetchone() == ("ioc_ingest",)
    services = []
    for index in range(2):
        ingest = IngestSettings(
            instance=f"sec-{index}",
            group="sec",
            batch_max_wait_s=0.05,
            heartbeat_s=0.2,
            unknown_refresh_min_s=0.2,
            retry_max_s=0.5,
            metrics_port=0,
        )
        svc = IngestService(settings, ingest).start()
        services.append(svc)
    for svc in services:
        wait_until(svc.consumer.connected.is_set, 10, message="ingest connected and subscribed")
    yield services[0]
    for svc in services:
        svc.stop()


def test_spoofed_messages_store_nothing(
    secure_broker: SecureBroker, ingest_service: IngestService, db: psycopg.Connection
) -> None:
    probes: list[Probe] = []
    try:
        cam = connect(secure_broker.port, "cam-a", secure_broker.secrets["cam-a"])
        probes.append(cam)
        assert cam.publish("ioc/v1/21025/cam-b/telemetry", reading(1)).value == 135
        assert cam.publish("ioc/v1/21026/spk-x/telemetry", reading(2)).value == 135
        assert cam.publish("ioc/v1/21026/cam-a/telemetry", reading(3)).value == 135
        assert not cam.publish("ioc/v1/21025/cam-a/telemetry", reading(4)).is_failure
        # Defence in depth: a login allowed everywhere still cannot file cam-a under 21026.
        sim = connect(
            secure_broker.service_port, SIMULATOR_USER, secure_broker.secrets[SIMULATOR_USER]
        )
        probes.append(sim)
        assert not sim.publish("ioc/v1/21026/cam-a/telemetry", reading(5)).is_failure
        wait_until(
            lambda: (
                rows(db, "SELECT count(*) FROM quarantine")[0][0] >= 1
                and rows(db, "SELECT count(*) FROM telemetry")[0][0] >= 1
            ),
            15,
            message="cam-a's reading stored and the simulator's spoof quarantined",
        )
        assert rows(db, "SELECT device_id, metric, value FROM telemetry") == [
            ("cam-a", "fps", 24.0)
        ]
        assert rows(db, "SELECT topic, reason FROM quarantine") == [
            ("ioc/v1/21026/cam-a/telemetry", "wrong_commune")
        ]
    finally:
        for probe in probes:
            probe.close()
