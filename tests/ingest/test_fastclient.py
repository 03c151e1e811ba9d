"""The fast MQTT reader rests on paho's private internals: check them, and the stock fallback."""

from __future__ import annotations

import paho.mqtt.client as mqtt
import psycopg
import pytest

from ingest.fastclient import FastClient, StockClient, client_class, missing_internals
from ingest.service import IngestService
from tests.ingest.conftest import Publisher, count, iso, now_minus, test_settings
from tests.util import wait_until


def test_paho_still_has_every_private_name_the_fast_reader_uses() -> None:
    missing = missing_internals()
    assert not missing, (
        f"paho-mqtt {mqtt.__version__ if hasattr(mqtt, '__version__') else '?'} changed the "
        f"internals ingest/fastclient.py relies on: {missing}. Re-measure and adapt FastClient "
        "(or set IOC_INGEST_FAST_READER=false) before moving the paho pin in pyproject.toml."
    )
    assert client_class(True) is FastClient


def test_a_renamed_internal_is_named_and_falls_back_to_the_stock_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(mqtt.Client, "_packet_handle")
    assert missing_internals() == ["Client._packet_handle()"]
    assert client_class(True) is StockClient
    assert client_class(False) is StockClient


def test_stock_client_ingests_the_same_messages(
    registry: str, mqtt_url: str, db: psycopg.Connection
) -> None:
    settings, ingest = test_settings(registry, mqtt_url, fast_reader=False)
    service = IngestService(settings, ingest).start()
    publisher = Publisher(mqtt_url, ingest.topic_prefix)
    try:
        assert isinstance(service.consumer.client, StockClient)
        wait_until(service.consumer.connected.is_set, 10, message="ingest connected")
        body = [{"ts": iso(now_minus(60 - s)), "seq": s, "metrics": {"fps": 25}} for s in range(50)]
        publisher.send_all([(publisher.topic("ts-cam-01"), b) for b in body])
        wait_until(
            lambda: count(db, "SELECT count(*) FROM telemetry WHERE device_id = 'ts-cam-01'") == 50,
            10,
            message="50 readings stored through the stock client",
        )
    finally:
        publisher.close()
        service.stop()
