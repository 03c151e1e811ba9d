"""Fixtures for ingest tests: a small registry, a publisher and an in-process service."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices.registry import parse_yaml
from devices.store import import_registry
from ingest.service import IngestService
from ingest.settings import IngestSettings
from ioc.mqttclient import MqttTarget
from ioc.settings import Settings
from tests.util import wait_until

REGISTRY = """
communes:
  - code: "21025"
    name: "Xã Tịnh Sơn"
    province: "Quảng Ngãi"
    sites:
      - {id: ts-ubnd, name: "UBND xã", lat: 15.118, lon: 108.742}
  - code: "21026"
    name: "Xã Tịnh Hà"
devices:
  - {id: ts-uplink, type: link, commune: "21025", site: ts-ubnd, name: "Cáp quang UBND"}
  - {id: ts-cam-01, type: camera, commune: "21025", site: ts-ubnd, parent: ts-uplink,
     name: "Camera cổng UBND"}
  - {id: ts-nvr-01, type: nvr, commune: "21025", site: ts-ubnd, name: "Đầu ghi UBND"}
  - {id: ts-spk-01, type: speaker, commune: "21025", name: "Loa thôn 1"}
  - {id: ts-old-01, type: camera, commune: "21025", name: "Camera cũ", decommissioned: true}
  - {id: th-cam-01, type: camera, commune: "21026", name: "Camera Tịnh Hà"}
"""
COMMUNE = "21025"


def import_yaml(url: str, text: str) -> None:
    """Import a registry document into the database at ``url``."""
    with psycopg.connect(url) as conn:
        import_registry(conn, parse_yaml(text, "test.yaml"), "test.yaml")


def iso(dt: datetime) -> str:
    """RFC 3339 text with offset."""
    return dt.isoformat()


def now_minus(seconds: float = 0) -> datetime:
    """Current UTC time shifted back."""
    return datetime.now(UTC) - timedelta(seconds=seconds)


class Publisher:
    """A QoS 1 MQTT v5 publisher that waits for the broker's acknowledgement."""

    def __init__(self, url: str, prefix: str) -> None:
        target = MqttTarget(url)
        self.prefix = prefix
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"pub-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.connect(target.host, target.port)
        self.client.loop_start()

    def topic(self, device: str, channel: str = "telemetry", commune: str = COMMUNE) -> str:
        """The topic of a device channel under this test's prefix."""
        return f"{self.prefix}/{commune}/{device}/{channel}"

    def send(self, topic: str, payload: Any, retain: bool = False) -> mqtt.MQTTMessageInfo:
        """Publish (dicts as JSON); returns the message info."""
        if isinstance(payload, dict | list):
            payload = json.dumps(payload, ensure_ascii=False)
        return self.client.publish(topic, payload, qos=1, retain=retain)

    def send_all(self, messages: list[tuple[str, Any]]) -> None:
        """Publish messages in order and wait until the broker acknowledged every one."""
        infos = [self.send(t, p) for t, p in messages]
        for info in infos:
            info.wait_for_publish(timeout=30)
            assert info.is_published()

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


def test_settings(db_url: str, mqtt_url: str, **over: Any) -> tuple[Settings, IngestSettings]:
    """Core and ingest settings with short timing knobs and a unique topic prefix/group."""
    tag = uuid.uuid4().hex[:8]
    ingest_args: dict[str, Any] = {
        "instance": f"test-{tag}",
        "group": f"g{tag}",
        "topic_prefix": f"t{tag}/ioc/v1",
        "session_expiry_s": 120,
        "batch_max_wait_s": 0.05,
        "heartbeat_s": 0.2,
        "unknown_refresh_min_s": 0.2,
        "retry_max_s": 0.5,
    }
    core_args: dict[str, Any] = {"database_url": db_url, "mqtt_url": mqtt_url}
    for key, value in over.items():
        (core_args if key in Settings.model_fields else ingest_args)[key] = value
    return Settings(**core_args), IngestSettings(**ingest_args)


test_settings.__test__ = False  # type: ignore[attr-defined]


@pytest.fixture
def registry(db_url: str) -> str:
    """This test's database with the small registry imported; returns its URL."""
    import_yaml(db_url, REGISTRY)
    return db_url


@pytest.fixture
def service(registry: str, mqtt_url: str) -> Iterator[IngestService]:
    """A running in-process ingest service on this test's database and topic prefix."""
    settings, ingest = test_settings(registry, mqtt_url)
    svc = IngestService(settings, ingest).start()
    wait_until(svc.consumer.connected.is_set, 10, message="ingest connected and subscribed")
    yield svc
    svc.stop()


@pytest.fixture
def publisher(service: IngestService, mqtt_url: str) -> Iterator[Publisher]:
    """A publisher on the service's topic prefix."""
    pub = Publisher(mqtt_url, service.ingest.topic_prefix)
    yield pub
    pub.close()


def count(db: psycopg.Connection, query: str, *args: Any) -> int:
    """The first column of the first row of a query, as int."""
    row = db.execute(query, args or None).fetchone()
    return int(row[0]) if row and row[0] is not None else 0
