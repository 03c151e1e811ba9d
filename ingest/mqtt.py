"""The MQTT side of ingest: a paho-mqtt 2.x v5 client whose callbacks only enqueue.

Persistent session (clean start off, session expiry), QoS 1 shared subscription, manual acks.
Acks carry the connection generation they belong to: after a reconnect the broker redelivers
what was not acknowledged, and a packet id of the old connection must never be acked on the new
one (it could name another message).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from ingest.fastclient import client_class
from ingest.settings import IngestSettings
from ioc.contract import ingest_status_topic
from ioc.settings import MqttTarget

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Inbound:
    """A message as received, before any decoding."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    received: float  # time.time() at arrival
    generation: int


CONNECT_FAIL_LOG_EVERY_S = 30.0  # how often an unreachable broker is reported


class Consumer:
    """Connects, subscribes, hands every message to ``sink`` and acks on request."""

    def __init__(
        self, target: MqttTarget, settings: IngestSettings, sink: Callable[[Inbound], None]
    ) -> None:
        self.target = target
        self.settings = settings
        self.sink = sink
        self.generation = 0
        self.accepting = True  # False while stopping: new messages stay unacked for redelivery
        self.connected = threading.Event()
        self._ack_lock = threading.Lock()
        self._connect_fail_logged = -CONNECT_FAIL_LOG_EVERY_S
        self._status_topic = ingest_status_topic(settings.instance)
        # MQTT 3.1.1 (e.g. the demo's embedded broker): a plain persistent session, no sharing.
        self.subscription = settings.subscription if target.v5 else f"{settings.topic_prefix}/+/+/+"
        client_type = client_class(settings.fast_reader)
        client = client_type(
            CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=mqtt.MQTTv5 if target.v5 else mqtt.MQTTv311,
            clean_session=None if target.v5 else False,
            manual_ack=True,
        )
        if target.username:
            client.username_pw_set(target.username, target.password)
        if target.tls:
            client.tls_set()
        # The last will is set before connecting (it is part of CONNECT).
        client.will_set(self._status_topic, "offline", qos=1, retain=True)
        client.reconnect_delay_set(1, 1)  # few clients: retry every second (shorter loss windows)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.fast_sink = self._on_publish  # type: ignore[attr-defined]
        self.client = client

    def start(self) -> None:
        """Connect in the background; paho's thread reconnects by itself."""
        if not self.target.v5:
            self.client.connect_async(
                self.target.host, self.target.port, keepalive=self.settings.keepalive_s
            )
            self.client.loop_start()
            return
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.settings.session_expiry_s
        props.ReceiveMaximum = self.settings.effective_receive_maximum
        self.client.connect_async(
            self.target.host,
            self.target.port,
            keepalive=self.settings.keepalive_s,
            clean_start=False,
            properties=props,
        )
        self.client.loop_start()

    def stop(self) -> None:
        """Publish `offline`, disconnect cleanly and stop paho's thread."""
        try:
            if self.connected.is_set():
                info = self.client.publish(self._status_topic, "offline", qos=1, retain=True)
                info.wait_for_publish(timeout=2)
        except Exception:  # a broker already gone is not a reason to hang on stop
            log.debug("could not publish offline status", exc_info=True)
        with self._ack_lock:
            self.generation += 1
        self.client.disconnect()
        self.client.loop_stop()

    def ack(self, items: Iterable[Inbound]) -> int:
        """Acknowledge messages of the current connection, in order; return how many."""
        with self._ack_lock:
            generation = self.generation
            mids = [i.mid for i in items if i.qos == 1 and i.generation == generation]
            self.client.ack_many(mids)  # type: ignore[attr-defined]
            for item in items:
                if item.qos == 2 and item.generation == generation:
                    self.client.ack(item.mid, 2)
        return len(mids)

    # paho callbacks: never raise, only enqueue or log.
    def _on_connect_fail(self, _c: mqtt.Client, _u: Any) -> None:
        now = time.monotonic()
        if now - self._connect_fail_logged >= CONNECT_FAIL_LOG_EVERY_S:
            self._connect_fail_logged = now
            log.warning(
                "cannot reach the MQTT broker at %s; retrying. Fix: start the broker or point "
                "IOC_MQTT_URL at a running one",
                self.target,
            )

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, rc: Any, _p: Any) -> None:
        try:
            if rc.is_failure:
                log.error("MQTT connection refused: %s", rc)
                return
            with self._ack_lock:
                self.generation += 1
            client.subscribe(self.subscription, options=SubscribeOptions(qos=1))
            log.info(
                "connected to %s as %s (session present: %s)",
                self.target,
                self.settings.client_id,
                flags.session_present,
            )
        except Exception:
            log.exception("error in on_connect")

    def _on_subscribe(self, client: mqtt.Client, _u: Any, _mid: int, rcs: Any, _p: Any) -> None:
        try:
            if any(rc.is_failure for rc in rcs):
                log.error("subscription to %s refused: %s", self.subscription, rcs)
                return
            # Birth only after the subscription is in place (home-assistant's order).
            client.publish(self._status_topic, "online", qos=1, retain=True)
            self.connected.set()
        except Exception:
            log.exception("error in on_subscribe")

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        try:
            self.connected.clear()
            with self._ack_lock:
                self.generation += 1
            log.warning("disconnected from MQTT broker: %s", rc)
        except Exception:
            log.exception("error in on_disconnect")

    def _on_publish(self, topic: bytes, payload: bytes, mid: int, qos: int) -> None:
        if not self.accepting:
            return
        try:
            text = topic.decode("utf-8", "backslashreplace")
            self.sink(Inbound(text, payload, mid, qos, time.time(), self.generation))
        except Exception:
            log.exception("error handling a message (left unacknowledged)")

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if not self.accepting:
            return
        try:
            try:
                topic = msg.topic
            except UnicodeDecodeError:
                topic = msg._topic.decode("utf-8", "backslashreplace")
            self.sink(
                Inbound(topic, bytes(msg.payload), msg.mid, msg.qos, time.time(), self.generation)
            )
        except Exception:
            log.exception("error in on_message (message left unacknowledged)")
