"""The forwarder keeps a reading the broker says nobody took (MQTT 5 "no matching
subscribers", e.g. ingest not resubscribed after a broker restart) and sends it again."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from collector.forward import Forwarder
from collector.outbox import Outbox
from ioc.mqttclient import MqttTarget
from tests.plugins.broker import Mosquitto


def test_unrouted_readings_stay_until_someone_subscribes(
    own_broker: Mosquitto, tmp_path: Path
) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    got: list[int] = []

    async def run() -> None:
        fwd = Forwarder(box, MqttTarget(own_broker.url), "t-col", "21025", "col-1")
        fwd.start()
        pump = asyncio.create_task(fwd.run())
        for i in range(5):
            box.add("cam", "21025", "telemetry", {"ts": 1000 + i, "metrics": {"online": True}})
        fwd.notify()
        for _ in range(100):  # nobody subscribed: each PUBACK says so
            await asyncio.sleep(0.05)
            if fwd.stats.unrouted >= 5:
                break
        assert fwd.stats.unrouted >= 5 and box.depth == 5
        sub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        sub.on_message = lambda c, u, m: got.extend(
            r["seq"] for r in json.loads(m.payload).get("readings", [json.loads(m.payload)])
        )
        sub.connect("127.0.0.1", own_broker.port)
        sub.subscribe("ioc/v1/+/+/telemetry", qos=1)
        sub.loop_start()
        for _ in range(200):
            await asyncio.sleep(0.05)
            if box.depth == 0:
                break
        sub.disconnect()
        sub.loop_stop()
        pump.cancel()
        fwd.stop()

    asyncio.run(run())
    assert box.depth == 0
    assert sorted(set(got)) == [0, 1, 2, 3, 4]
