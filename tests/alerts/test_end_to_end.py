"""Through the real chain: MQTT last wills → ingest → engine (scheduled, leader) → alerts."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import psycopg
import pytest

from alerts.engine import AlertEngine
from alerts.rules import parse_rules
from alerts.settings import AlertSettings
from ingest.service import IngestService
from ingest.settings import IngestSettings
from ioc.settings import Settings
from tests.alerts.conftest import ALL_DEVICES, BEHIND_UPLINK, COMMUNE, alerts
from tests.util import wait_until

RULES = "rules:\n  - {name: offline, kind: absence, types: [camera, speaker, link, nvr]}\n"


class Device:
    """A paho client with a retained ``offline`` last will, like a real device."""

    def __init__(self, port: int, prefix: str, device: str) -> None:
        self.topic = f"{prefix}/{COMMUNE}/{device}/status"
        self.gone = False
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"e2e-{device}-{uuid.uuid4().hex[:6]}"
        )
        self.client.will_set(self.topic, "offline", qos=1, retain=True)
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        self.client.publish(self.topic, "online", qos=1, retain=True).wait_for_publish(5)

    def cut(self) -> None:
        """Lose the connection without DISCONNECT: the broker publishes the last will."""
        self.gone = True
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        if not self.gone:
            self.client.disconnect()
            self.client.loop_stop()


@pytest.fixture
def chain(
    fleet: psycopg.Connection, db_url: str, mqtt_url: str
) -> Iterator[tuple[IngestService, dict[str, Device]]]:
    """Ingest on this test's topic prefix, and every fleet device connected."""
    tag = uuid.uuid4().hex[:8]
    ingest = IngestSettings(
        instance=f"e2e-{tag}",
        group=f"g{tag}",
        topic_prefix=f"t{tag}/ioc/v1",
        batch_max_wait_s=0.05,
        heartbeat_s=0.2,
        session_expiry_s=60,
    )
    service = IngestService(Settings(database_url=db_url, mqtt_url=mqtt_url), ingest).start()
    wait_until(service.consumer.connected.is_set, 10, message="ingest connected")
    port = int(mqtt_url.rsplit(":", 1)[1])
    devices = {d: Device(port, ingest.topic_prefix, d) for d in ALL_DEVICES}
    wait_until(
        lambda: (
            fleet.execute("SELECT count(*) FROM device_status WHERE online").fetchone()
            == (len(ALL_DEVICES),)
        ),
        10,
        message="every device online",
    )
    yield service, devices
    for device in devices.values():
        device.close()
    if not service._halt.is_set():  # the test may have stopped it already
        service.stop()


def test_uplink_last_wills_to_one_root_alert_then_pipeline_down(
    fleet: psycopg.Connection,
    pool: object,
    mqtt_url: str,
    chain: tuple[IngestService, dict[str, Device]],
) -> None:
    service, devices = chain
    settings = AlertSettings(
        evaluation_interval_s=0.2,
        pipeline_heartbeat_s=0,  # ingest's MQTT last will / offline status is watched
        pipeline_silence_s=0,
    )
    engine = AlertEngine(
        settings,
        pool,  # type: ignore[arg-type]
        rules=parse_rules(RULES),
        mqtt_url=mqtt_url,
    )
    try:
        engine.start()
        wait_until(lambda: engine.last_result is not None, 10, message="first evaluation")
        for device in ["up1", *BEHIND_UPLINK]:
            devices[device].cut()

        def settled() -> bool:
            firing = alerts(fleet, "offline", "firing")
            return len(firing) == 13 and sum(a["suppressed_by"] is not None for a in firing) == 12

        wait_until(settled, 15, message="13 offline alerts, 12 suppressed")
        (root,) = [a for a in alerts(fleet, "offline", "firing") if a["suppressed_by"] is None]
        assert root["device_id"] == "up1"
        assert root["annotations"]["impact"] == {"camera": 8, "speaker": 4}
        # Ingest stops: one pipeline_down alert, and no new offline alerts for the rest.
        service.stop()
        wait_until(lambda: alerts(fleet, "pipeline_down", "firing"), 10, message="pipeline_down")
        assert alerts(fleet, "pipeline_down")[0]["annotations"]["reason"] == "ingest_offline"
        assert len(alerts(fleet, "offline")) == 13
    finally:
        engine.stop()
