"""The MQTT side of ingest: a paho-mqtt 2.x v5 client whose callbacks only enqueue.

Persistent session (clean start off, session expiry), QoS 1 shared subscription, manual acks.
Acks carry the connection generation they belong to: after a reconnect the broker redelivers
what was not acknowledged, and a packet id of the old connection must never be acked on the new
one (it could name another message).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from ingest.fastclient import client_class
from ingest.settings import IngestSettings
from ioc import mqttclient
from ioc.contract import ingest_status_topic
from ioc.mqttclient import MqttTarget

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
# Connection generations are unique across every consumer of the process, so one batch holding
# messages of several consumers (a takeover drain) is acked by each for its own messages only.
_GENERATIONS = itertools.count(1)


class Consumer:
    """Connects, subscribes, hands every message to ``sink`` and acks on request.

    With ``takeover`` (another instance's client id) it is a drain instead: it resumes that
    departed instance's persistent session, unsubscribes it from the group (so no new share is
    routed to it), hands over what the broker had queued, and ``end_session`` ends it."""

    def __init__(
        self,
        target: MqttTarget,
        settings: IngestSettings,
        sink: Callable[[Inbound], None],
        takeover: str | None = None,
    ) -> None:
        self.target = target
        self.settings = settings
        self.sink = sink
        self.takeover = takeover
        self.generation = next(_GENERATIONS)
        self.received = 0  # messages handed to the sink that await an acknowledgement (QoS > 0)
        self.acked = 0
        self.last_activity = time.monotonic()
        self.lost = False  # a drain's connection dropped (e.g. the owner came back and took it)
        self.accepting = True  # False while stopping: new messages stay unacked for redelivery
        self.connected = threading.Event()
        self._ack_lock = threading.Lock()
        self._connect_fail_logged = -CONNECT_FAIL_LOG_EVERY_S
        self._status_topic = ingest_status_topic(settings.instance)
        # MQTT 3.1.1 (e.g. the demo's embedded broker): a plain persistent session, no sharing.
        self._filters = settings.subscriptions if target.v5 else [f"{settings.topic_prefix}/#"]
        self._choice = 0  # the filter in use: the next one after the broker refused one
        client_type = client_class(settings.fast_reader)
        # The last will is set before connecting (it is part of CONNECT).
        client = mqttclient.client(
            target,
            takeover or settings.client_id,
            will=(self._status_topic, "offline") if takeover is None else None,
            client_type=client_type,
            clean_session=None if target.v5 else False,
            manual_ack=True,
        )
        client.reconnect_delay_set(1, 1)  # few clients: retry every second (shorter loss windows)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.on_unsubscribe = self._on_unsubscribe
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

    @property
    def subscription(self) -> str:
        """The topic filter in use."""
        return self._filters[self._choice]

    def end_session(self) -> None:
        """Disconnect with session expiry 0: the broker forgets the session and its queue."""
        props = Properties(PacketTypes.DISCONNECT)
        props.SessionExpiryInterval = 0
        with self._ack_lock:
            self.generation = next(_GENERATIONS)
        self.client.disconnect(properties=props)
        self.client.loop_stop()

    def stop(self) -> None:
        """Publish `offline`, disconnect cleanly and stop paho's thread."""
        try:
            if self.connected.is_set() and self.takeover is None:
                info = self.client.publish(self._status_topic, "offline", qos=1, retain=True)
                info.wait_for_publish(timeout=2)
        except Exception:  # a broker already gone is not a reason to hang on stop
            log.debug("could not publish offline status", exc_info=True)
        with self._ack_lock:
            self.generation = next(_GENERATIONS)
        self.client.disconnect()
        self.client.loop_stop()

    def ack(self, items: Iterable[Inbound]) -> int:
        """Acknowledge messages of the current connection, in order; return how many."""
        with self._ack_lock:
            generation = self.generation
            mids = [i.mid for i in items if i.qos == 1 and i.generation == generation]
            self.client.ack_many(mids)  # type: ignore[attr-defined]
            acked = len(mids)
            for item in items:
                if item.qos == 2 and item.generation == generation:
                    self.client.ack(item.mid, 2)
                    acked += 1
            if acked:
                self.acked += acked
                self.last_activity = time.monotonic()
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
                self.generation = next(_GENERATIONS)
            if self.takeover is not None:
                # Nothing new for the departed member; what it had queued is delivered now.
                client.unsubscribe(
                    [*self.settings.subscriptions, self.settings.legacy_subscription]
                )
            else:
                client.subscribe(self.subscription, options=SubscribeOptions(qos=1))
            log.info(
                "connected to %s as %s (session present: %s)",
                self.target,
                self.takeover or self.settings.client_id,
                flags.session_present,
            )
        except Exception:
            log.exception("error in on_connect")

    def _on_subscribe(self, client: mqtt.Client, _u: Any, _mid: int, rcs: Any, _p: Any) -> None:
        try:
            if any(rc.is_failure for rc in rcs):
                if self._choice + 1 < len(self._filters):
                    log.warning(
                        "subscription to %s refused (%s); subscribing to %s",
                        self.subscription,
                        rcs,
                        self._filters[self._choice + 1],
                    )
                    self._choice += 1
                    client.subscribe(self.subscription, options=SubscribeOptions(qos=1))
                    return
                log.error("subscription to %s refused: %s", self.subscription, rcs)
                return
            # A session of an older version may hold a narrower filter: drop it (no duplicates).
            stale = [f for f in (*self._filters, self.settings.legacy_subscription)]
            stale = [f for f in stale if f != self.subscription and self.target.v5]
            if stale:
                client.unsubscribe(stale)
            # Birth only after the subscription is in place (home-assistant's order).
            client.publish(self._status_topic, "online", qos=1, retain=True)
            self.connected.set()
        except Exception:
            log.exception("error in on_subscribe")

    def _on_unsubscribe(self, _c: mqtt.Client, _u: Any, _mid: int, _rcs: Any, _p: Any) -> None:
        if self.takeover is not None:
            self.last_activity = time.monotonic()
            self.connected.set()  # a drain is "in place" once nothing new is routed to it

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        try:
            self.connected.clear()
            self.lost = self.takeover is not None
            with self._ack_lock:
                self.generation = next(_GENERATIONS)
            log.warning("disconnected from MQTT broker: %s", rc)
        except Exception:
            log.exception("error in on_disconnect")

    def _on_publish(self, topic: bytes, payload: bytes, mid: int, qos: int) -> None:
        if not self.accepting:
            return
        try:
            text = topic.decode("utf-8", "backslashreplace")
            self.received += qos > 0
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
            self.received += msg.qos > 0
            self.sink(
                Inbound(topic, bytes(msg.payload), msg.mid, msg.qos, time.time(), self.generation)
            )
        except Exception:
            log.exception("error in on_message (message left unacknowledged)")
