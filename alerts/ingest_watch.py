"""Watches ingest's retained ``ioc/system/ingest/{instance}/status`` (birth / last will).

A dead ingest's last will arrives within its keepalive, sooner than a missing heartbeat row;
the engine treats "every known instance offline" as the pipeline being down.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt

from ioc import mqttclient
from ioc.contract import ingest_status_topic
from ioc.mqttclient import MqttTarget

log = logging.getLogger(__name__)

TOPIC = ingest_status_topic("+")


class IngestWatch:
    """Keeps the latest retained status of every ingest instance (paho's thread only stores)."""

    def __init__(self, mqtt_url: str) -> None:
        self.target = MqttTarget(mqtt_url)
        self.states: dict[str, str] = {}
        self.connected = threading.Event()
        # Our own connection to the broker dropped (after having been up) and came back: a
        # broker restart or outage, whose wills are not news (see alerts/holds.py).
        self.dropped_at: datetime | None = None
        self.back_at: datetime | None = None
        self._stopping = False
        self._lock = threading.Lock()
        self.client = mqttclient.client(
            self.target, f"ioc-alerts-watch-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv311
        )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    def start(self) -> None:
        """Connect in the background (paho reconnects by itself)."""
        self.client.connect_async(self.target.host, self.target.port, keepalive=15)
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect and stop paho's thread."""
        self._stopping = True
        self.client.disconnect()
        self.client.loop_stop()

    def all_offline(self) -> bool:
        """True when instances are known and none says ``online`` (False while unsure)."""
        if not self.connected.is_set():
            return False
        with self._lock:
            return bool(self.states) and "online" not in self.states.values()

    def broker_outage(self, settle: timedelta) -> tuple[datetime, datetime | None] | None:
        """(dropped, back) of our latest lost connection, until ``settle`` after it is back."""
        dropped, back = self.dropped_at, self.back_at
        if dropped is None or (back is not None and datetime.now(UTC) > back + settle):
            return None
        return dropped, back

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
        if getattr(rc, "is_failure", False):
            log.warning("ingest watch: connection refused: %s", rc)
            return
        client.subscribe(TOPIC, qos=1)
        if self.dropped_at is not None and self.back_at is None:
            self.back_at = datetime.now(UTC)
            log.warning("broker connection back (lost at %s): holding its wills", self.dropped_at)
        self.connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, _rc: Any, _p: Any = None) -> None:
        if self.connected.is_set() and not self._stopping:
            self.dropped_at, self.back_at = datetime.now(UTC), None
            log.warning("lost the broker connection: broker restart or outage")
        self.connected.clear()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            instance = msg.topic.split("/")[3]
            text = msg.payload.decode("utf-8", "replace").strip()
            state = "online" if "online" in text else "offline" if "offline" in text else ""
        except (IndexError, AttributeError):
            return  # callbacks never raise; an odd topic is ignored
        if not state:
            return
        with self._lock:
            if msg.payload:
                self.states[instance] = state
            else:
                self.states.pop(instance, None)  # retained status cleared
