"""The embedded broker (amqtt, MQTT 3.1.1) publishes a cut device's will at once, like Mosquitto."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest

from demo.infra import EmbeddedBroker
from ioc.mqttclient import MqttTarget
from simulators.transport import Conn, Mux
from tests.plugins.broker import Mosquitto
from tests.util import wait_until

TOPIC = "ioc/v1/21025/ts-cam-01/status"


@pytest.fixture
def amqtt() -> Iterator[str]:
    broker = EmbeddedBroker()
    yield broker.url
    broker.close()


def _listen(url: str, protocol: int) -> tuple[mqtt.Client, list[tuple[float, bytes]]]:
    seen: list[tuple[float, bytes]] = []
    lock = threading.Lock()
    target = MqttTarget(url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="watch", protocol=protocol)

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with lock:
            seen.append((time.monotonic(), msg.payload))

    client.on_message = on_message
    client.connect(target.host, target.port)
    client.subscribe(TOPIC, qos=1)
    client.loop_start()
    return client, seen


def _cut_and_restore(url: str, protocol: str) -> float:
    """Seconds from the simulated cut to the will on the status topic."""
    watcher, seen = _listen(url, mqtt.MQTTv311 if protocol == "3.1.1" else mqtt.MQTTv5)
    mux = Mux(MqttTarget(url, protocol), keepalive=30)
    conn = Conn("ts-cam-01", TOPIC, lambda c: mux.publish(c, TOPIC, b"online", retain=True))
    try:
        mux.open(conn)
        wait_until(lambda: (mux.poll(0.05), any(p == b"online" for _, p in seen))[1], 10,
                   message="birth")  # fmt: skip
        cut = time.monotonic()
        mux.drop(conn, will=True)
        wait_until(lambda: (mux.poll(0.05), any(p == b"offline" for _, p in seen))[1], 20,
                   message="last will")  # fmt: skip
        will_at = next(t for t, p in seen if p == b"offline")
        # The device comes back: a new connection and birth on the same client object.
        seen.clear()
        mux.open(conn)
        wait_until(lambda: (mux.poll(0.05), any(p == b"online" for _, p in seen))[1], 10,
                   message="birth after the cut")  # fmt: skip
        return will_at - cut
    finally:
        mux.drop(conn, will=False)
        watcher.disconnect()
        watcher.loop_stop()


def test_amqtt_publishes_the_will_of_a_cut_device_at_once(amqtt: str) -> None:
    # MQTT 3.1.1 has no "disconnect with will": the simulator drops the connection instead.
    assert _cut_and_restore(amqtt, "3.1.1") < 3.0


def test_mosquitto_same_outcome_on_both_protocols(own_broker: Mosquitto) -> None:
    assert _cut_and_restore(own_broker.url, "5") < 3.0
    assert _cut_and_restore(own_broker.url, "3.1.1") < 3.0
