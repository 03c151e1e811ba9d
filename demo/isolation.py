"""Keeping ``ioc demo`` apart from whatever else uses the broker.

The demo's simulated devices connect with client ids ``demo-{run}-{device}`` (never a real
device's id, never another run's), its ingest uses its own shared-subscription group and
instance ``demo-{run}`` with a session that ends when it disconnects (it never joins, nor
leaves a queue behind in, a production ingest group), and it refuses to start while devices
of the demo commune are already publishing on the broker (another demo, a drill).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt

from ioc import mqttclient
from ioc.contract import TOPIC_ROOT, ingest_status_topic, parse_topic
from ioc.errors import IocError
from ioc.mqttclient import MqttTarget

log = logging.getLogger(__name__)

DEMO_COMMUNE = "21025"


class DemoConflict(IocError):
    """Something else already publishes the demo commune's devices on the broker."""


def run_id() -> str:
    """A short id naming this demo run's client ids, ingest group and instance."""
    return uuid.uuid4().hex[:6]


def _client(target: MqttTarget, name: str) -> mqtt.Client:
    return mqttclient.client(target, f"{name}-{uuid.uuid4().hex[:8]}")


def live_devices(target: MqttTarget, seconds: float, commune: str = DEMO_COMMUNE) -> set[str]:
    """Devices of ``commune`` heard live (not retained) on the broker within ``seconds``."""
    heard: set[str] = set()
    subscribed = threading.Event()
    lock = threading.Lock()
    client = _client(target, "ioc-demo-probe")

    def on_connect(c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
        if not getattr(rc, "is_failure", False):
            c.subscribe(f"{TOPIC_ROOT}/{commune}/+/+", qos=0)

    def on_subscribe(*_args: Any) -> None:
        subscribed.set()

    def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        parsed = parse_topic(msg.topic)
        if parsed is not None and not msg.retain:
            with lock:
                heard.add(parsed[1])

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    try:
        client.connect(target.host, target.port, keepalive=10)
    except OSError as exc:
        log.warning("demo: could not probe the broker: %s", exc)
        return set()
    client.loop_start()
    try:
        if subscribed.wait(5):
            time.sleep(seconds)  # listening is the point: devices report every 30-60 s
    finally:
        client.disconnect()
        client.loop_stop()
    with lock:
        return set(heard)


def refuse_if_busy(target: MqttTarget, url: str, seconds: float) -> None:
    """Raise ``DemoConflict`` (one line) when demo devices already publish on the broker."""
    busy = live_devices(target, seconds)
    if busy:
        example = ", ".join(sorted(busy)[:3])
        raise DemoConflict(
            f"devices of the demo commune {DEMO_COMMUNE} are already publishing on {url} "
            f"({len(busy)} heard in {seconds:g} s, e.g. {example}): another `ioc demo` or "
            "`ioc drill` is running there. Stop it, or give this demo its own broker "
            "(IOC_MQTT_URL=mqtt://127.0.0.1:PORT, or an unreachable URL for the embedded one)."
        )


def clear_status(target: MqttTarget, instance: str) -> None:
    """Remove the demo ingest's retained status, so it leaves nothing on a shared broker."""
    client = _client(target, "ioc-demo-cleanup")
    try:
        client.connect(target.host, target.port, keepalive=10)
        client.loop_start()
        client.publish(ingest_status_topic(instance), b"", qos=1, retain=True).wait_for_publish(2)
    except (OSError, RuntimeError, ValueError) as exc:
        log.debug("demo: could not clear the ingest status: %s", exc)
    finally:
        client.disconnect()
        client.loop_stop()
