"""Readiness probes: database, schema version, broker (an MQTT CONNECT/CONNACK round trip)."""

from __future__ import annotations

import secrets
import socket
import ssl
import struct
import time

from ioc import migrate
from ioc.settings import MqttTarget

CONNACK = 0x20


def _utf8(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("!H", len(data)) + data


def _connect_packet(target: MqttTarget) -> bytes:
    flags = 0x02  # clean session
    payload = _utf8(f"ioc-readyz-{secrets.token_hex(4)}")
    if target.username:
        flags |= 0x80
        payload += _utf8(target.username)
        if target.password:
            flags |= 0x40
            payload += _utf8(target.password)
    body = _utf8("MQTT") + bytes([4, flags]) + struct.pack("!H", 10) + payload
    return bytes([0x10]) + _length(len(body)) + body


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def broker(mqtt_url: str, timeout: float) -> str:
    """Connect to the broker and read its CONNACK; return a short description or raise."""
    target = MqttTarget(mqtt_url)
    with socket.create_connection((target.host, target.port), timeout=timeout) as raw:
        sock: socket.socket = raw
        if target.tls:
            sock = ssl.create_default_context().wrap_socket(raw, server_hostname=target.host)
        sock.settimeout(timeout)
        sock.sendall(_connect_packet(target))
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
