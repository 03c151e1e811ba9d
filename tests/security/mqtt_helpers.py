"""Small MQTT client helpers for the security tests: connect, wait for CONNACK, record events."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from tests.util import wait_until


@dataclass
class Probe:
    """A paho client and what happened to it (no auto-reconnect: a refusal stays a refusal)."""

    client: mqtt.Client
    connack: ReasonCode | None = None
    disconnected: ReasonCode | None = None
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    acks: dict[int, ReasonCode] = field(default_factory=dict)
    subacks: dict[int, list[ReasonCode]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def connected(self) -> bool:
        """Accepted by the broker and not disconnected since."""
        return bool(self.connack is not None and not self.connack.is_failure) and (
            self.disconnected is None
        )

    def topics(self) -> list[str]:
        """Topics received so far."""
        with self.lock:
            return [topic for topic, _ in self.messages]

    def publish(self, topic: str, payload: bytes = b"{}", retain: bool = False) -> ReasonCode:
        """Publish at QoS 1 and return the broker's PUBACK reason code (135 = not authorised)."""
        mid = self.client.publish(topic, payload, qos=1, retain=retain).mid
        wait_until(lambda: mid in self.acks, 5, message=f"PUBACK for {topic}")
        return self.acks[mid]

    def subscribe(self, topic: str) -> ReasonCode:
        """Subscribe at QoS 1 and return the SUBACK reason code."""
        _, mid = self.client.subscribe(topic, qos=1)
        assert mid is not None
        wait_until(lambda: mid in self.subacks, 5, message=f"SUBACK for {topic}")
        return self.subacks[mid][0]

    def close(self) -> None:
        """Disconnect (if connected) and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()


def connect(
    port: int,
    username: str | None,
    password: str | None,
    client_id: str = "",
    will_topic: str | None = None,
    tls_ca: str | None = None,
) -> Probe:
    """Connect with MQTT 5 and wait for the CONNACK (accepted or refused)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    probe = Probe(client)
    if username is not None:
        client.username_pw_set(username, password)
    if tls_ca:
        client.tls_set(ca_certs=tls_ca)
    if will_topic:
        client.will_set(will_topic, b"offline", qos=1, retain=True)

    def on_connect(c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        probe.connack = rc
        if rc.is_failure:
            c.loop_stop()  # no reconnect loop: a refused client stays refused

    def on_disconnect(c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        if probe.disconnected is None:
            probe.disconnected = rc
        c.loop_stop()

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with probe.lock:
            probe.messages.append((msg.topic, bytes(msg.payload)))

    def on_publish(_c: mqtt.Client, _u: object, mid: int, rc: ReasonCode, _p: object) -> None:
        probe.acks[mid] = rc

    def on_subscribe(
        _c: mqtt.Client, _u: object, mid: int, rcs: list[ReasonCode], _p: object
    ) -> None:
        probe.subacks[mid] = rcs

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_message = on_message
    client.on_publish = on_publish
    client.on_subscribe = on_subscribe
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    wait_until(lambda: probe.connack is not None, 5, message=f"CONNACK for {username!r}")
    return probe
