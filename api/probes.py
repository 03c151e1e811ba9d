"""Readiness probes: database, schema version, broker (an MQTT CONNECT/CONNACK round trip)."""

from __future__ import annotations

import secrets
import socket
import ssl
import time

from ioc import migrate
from ioc.mqttclient import MqttTarget
from ioc.mqttwire import connect_packet

CONNACK = 0x20


def broker(mqtt_url: str, timeout: float) -> str:
    """Connect to the broker and read its CONNACK; return a short description or raise."""
    target = MqttTarget(mqtt_url)
    with socket.create_connection((target.host, target.port), timeout=timeout) as raw:
        sock: socket.socket = raw
        if target.tls:
            sock = ssl.create_default_context().wrap_socket(raw, server_hostname=target.host)
        sock.settimeout(timeout)
        client_id = f"ioc-readyz-{secrets.token_hex(4)}"
        sock.sendall(connect_packet(client_id, 10, target.username, target.password))
        reply = sock.recv(4)
        if len(reply) < 4 or reply[0] != CONNACK:
            raise ConnectionError("no CONNACK from the broker")
        sock.sendall(b"\xe0\x00")  # DISCONNECT
        code = reply[3]
    return "connected" if code == 0 else f"reachable, connection refused (code {code})"


class SchemaCheck:
    """``ioc.migrate.pending`` with a short cache: it opens its own connection each time."""

    def __init__(self, database_url: str, ttl_s: float = 30.0) -> None:
        self.database_url = database_url
        self.ttl_s = ttl_s
        self._checked_at = -1e9
        self._pending: list[str] = []

    def pending(self) -> list[str]:
        """Migrations not yet applied (cached for ``ttl_s`` once the schema is current)."""
        now = time.monotonic()
        if self._pending or now - self._checked_at > self.ttl_s:
            self._pending = migrate.pending(self.database_url)
            self._checked_at = now
        return self._pending
