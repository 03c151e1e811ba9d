"""Many paho-mqtt clients driven by one thread: connections multiplexed with ``selectors``.

Thousands of simulated devices cannot each own a network thread, so every client runs in
paho's external-loop mode: the fleet's single thread publishes (paho writes at once), and
``Mux.poll`` reads, flushes partial writes and keeps connections alive.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from ioc import mqttclient
from ioc.mqttclient import MqttTarget

log = logging.getLogger(__name__)

# MQTT 5 DISCONNECT reason 0x04: the broker publishes the will. A device that loses its
# network just stops talking and the broker fires the will after 1.5 × keep-alive; the
# simulator says so explicitly to get the same outcome without the wait (on MQTT 3.1.1,
# which has no reason codes, it closes the socket without a DISCONNECT instead).
WITH_WILL = ReasonCode(PacketTypes.DISCONNECT, identifier=0x04)
MAX_BACKOFF = 30.0


@dataclass(eq=False)
class Conn:
    """One MQTT connection: a device's own, or a site gateway's shared by its devices."""

    client_id: str
    will_topic: str
    on_up: Callable[[Conn], None]
    client: mqtt.Client | None = None
    up: bool = False
    wanted: bool = False
    fd: int = -1
    retry_at: float = 0.0
    backoff: float = 1.0
    members: list[Any] = field(default_factory=list)
    # Prepended to the MQTT client id (``ioc demo``: its own, so it never kicks real devices
    # or another run's connections off the broker).
    prefix: str = ""


class Mux:
    """Opens, drops and services every connection of a fleet from one thread."""

    def __init__(self, target: MqttTarget, keepalive: int = 30, max_inflight: int = 100) -> None:
        self.target = target
        self.keepalive = keepalive
        self.max_inflight = max_inflight
        self.selector = selectors.DefaultSelector()
        self.by_fd: dict[int, Conn] = {}
        self.dirty: set[Conn] = set()
        self.conns: list[Conn] = []
        self.sent = 0
        self.acked = 0
        self.failed = 0
        self._misc_at = 0.0

    def _client(self, conn: Conn) -> mqtt.Client:
        client = mqttclient.client(
            self.target, conn.prefix + conn.client_id, will=(conn.will_topic, b"offline")
        )
        client.max_inflight_messages_set(self.max_inflight)
        client.max_queued_messages_set(0)
        client.on_connect = lambda c, u, f, rc, p: self._connected(conn, rc)
        client.on_disconnect = lambda c, u, f, rc, p: self._disconnected(conn)
        client.on_publish = lambda c, u, mid, rc, p: self._acked()
        return client

    def _acked(self) -> None:
        self.acked += 1

    def _connected(self, conn: Conn, rc: ReasonCode) -> None:
        if rc.is_failure:
            log.warning("broker refused %s: %s", conn.client_id, rc)
            return
        conn.up = True
        conn.backoff = 1.0
        if conn.wanted:
            conn.on_up(conn)

    def _disconnected(self, conn: Conn) -> None:
        conn.up = False
        self._forget(conn)
        if conn.wanted:
            conn.retry_at = time.monotonic() + conn.backoff
            conn.backoff = min(MAX_BACKOFF, conn.backoff * 2)

    def _forget(self, conn: Conn) -> None:
        if conn.fd >= 0:
            self.by_fd.pop(conn.fd, None)
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(conn.fd)
            conn.fd = -1
        self.dirty.discard(conn)

    def open(self, conn: Conn) -> None:
        """Connect (the birth goes out from ``on_up`` once the broker accepts)."""
        conn.wanted = True
        if conn.fd >= 0:
            return
        if conn.client is None:
            conn.client = self._client(conn)
            self.conns.append(conn)
        try:
            conn.client.connect(self.target.host, self.target.port, self.keepalive)
        except OSError as exc:
            log.debug("connect %s failed: %s", conn.client_id, exc)
            conn.retry_at = time.monotonic() + conn.backoff
            conn.backoff = min(MAX_BACKOFF, conn.backoff * 2)
            return
        sock = conn.client.socket()
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.fd = sock.fileno()
            self.by_fd[conn.fd] = conn
            self.selector.register(conn.fd, selectors.EVENT_READ, conn)
            self._flush(conn)

    def drop(self, conn: Conn, will: bool = True) -> None:
        """Close the connection; with ``will`` the broker publishes the last will."""
        conn.wanted = False
        if conn.client is not None and conn.fd >= 0 and will and not self.target.v5:
            # MQTT 3.1.1 has no "disconnect with will": a DISCONNECT discards the will, and
            # the device would only be found offline by its silence (minutes; seen with the
            # demo's amqtt). A device that loses its network just drops the connection:
            # closing the socket without DISCONNECT makes the broker publish the will at once.
            sock = conn.client.socket()
            if isinstance(sock, socket.socket):
                sock.close()
        elif conn.client is not None and conn.fd >= 0:
            conn.client.disconnect(reasoncode=WITH_WILL if will else None)
            self._flush(conn)
        conn.up = False
        self._forget(conn)

    def publish(self, conn: Conn, topic: str, payload: bytes, retain: bool = False) -> None:
        """QoS 1 publish on a connection (queued by paho while it is not up)."""
        if conn.client is None:
            conn.client = self._client(conn)
            self.conns.append(conn)
        info = conn.client.publish(topic, payload, qos=1, retain=retain)
        if info.rc == mqtt.MQTT_ERR_SUCCESS or info.rc == mqtt.MQTT_ERR_NO_CONN:
            self.sent += 1
        else:
            self.failed += 1
        if conn.fd >= 0:
            self._flush(conn)

    def _flush(self, conn: Conn) -> None:
        client = conn.client
        if client is None or conn.fd < 0:
            return
        if client.want_write():
            client.loop_write()
        if client.want_write() and conn not in self.dirty:
            self.dirty.add(conn)
            self.selector.modify(conn.fd, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)

    def poll(self, timeout: float) -> None:
        """Service sockets for up to ``timeout`` seconds; reconnect and keep alive."""
        if self.by_fd:
            for key, mask in self.selector.select(max(0.0, timeout)):
                conn: Conn = key.data
                if conn.client is None:
                    continue
                if mask & selectors.EVENT_READ:
                    conn.client.loop_read(100)
                if conn.fd >= 0 and mask & selectors.EVENT_WRITE:
                    conn.client.loop_write()
                    if not conn.client.want_write():
                        self.dirty.discard(conn)
                        self.selector.modify(conn.fd, selectors.EVENT_READ, conn)
        elif timeout > 0:
            time.sleep(timeout)
        now = time.monotonic()
        if now >= self._misc_at:
            self._misc_at = now + 1.0
            for conn in self.conns:
                if conn.fd >= 0 and conn.client is not None:
                    conn.client.loop_misc()
                elif conn.wanted and conn.fd < 0 and now >= conn.retry_at:
                    self.open(conn)

    def pending(self) -> int:
        """QoS 1 messages sent but not acknowledged yet."""
        return self.sent - self.acked

    def close(self, will: bool) -> None:
        """Drop every connection (firing last wills when ``will``)."""
        for conn in self.conns:
            if conn.fd >= 0:
                self.drop(conn, will)
        self.selector.close()
