"""A cheap QoS 1 load generator: raw MQTT 3.1.1 over one socket, PUBLISH packets written in
chunks, PUBACKs counted as they come back, at most ``window`` messages unacknowledged.

paho-mqtt spends ~60-100 µs of CPU per QoS 1 publish; on a 2-core machine that shares its
cores with the system under test, such a load generator measures itself. This one costs a few
µs per message, so the CPU goes to the broker, ingest and PostgreSQL.
"""

from __future__ import annotations

import select
import socket
import struct
import time
from collections.abc import Callable

from ioc.mqttwire import connect_packet, remaining_length, utf8

PUBACK = 0x40


def connect(port: int, client_id: str, host: str = "127.0.0.1") -> socket.socket:
    """Open a clean MQTT 3.1.1 session; raise if the broker refuses it."""
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(connect_packet(client_id, 60))
    connack = b""
    while len(connack) < 4:
        chunk = sock.recv(4 - len(connack))
        if not chunk:
            raise ConnectionError("broker closed the connection before CONNACK")
        connack += chunk
    if connack[0] != 0x20 or connack[3] != 0:
        raise ConnectionError(f"CONNACK refused: {connack.hex()}")
    return sock


def publish_packet(topic: str, payload: bytes, mid: int) -> bytes:
    """One QoS 1 PUBLISH packet."""
    body = utf8(topic) + struct.pack("!H", mid) + payload
    return bytes([0x32]) + remaining_length(len(body)) + body


def publish(
    sock: socket.socket,
    count: int,
    message: Callable[[int], tuple[str, bytes]],
    rate: float = 0.0,
    window: int = 2000,
) -> int:
    """Publish ``count`` messages built by ``message(i)`` at ``rate`` msg/s (0 = as fast as the
    broker acknowledges); return how many PUBACKs arrived."""
    sent = acked = 0
    pending = b""
    t0 = time.monotonic()
    while acked < count:
        room = min(window - (sent - acked), count - sent, 256)
        if rate and room > 0:
            room = min(room, int((time.monotonic() - t0) * rate) + 1 - sent)
        if room > 0:
            chunk = []
            for i in range(sent, sent + room):
                topic, payload = message(i)
                chunk.append(publish_packet(topic, payload, i % 65535 + 1))
            sock.sendall(b"".join(chunk))
            sent += room
        can_send = sent < count and sent - acked < window
        wait = 0.0 if can_send and not rate else 0.001 if can_send else 1.0
        readable, _, _ = select.select([sock], [], [], wait)
        if not readable:
            continue
        data = sock.recv(65536)
        if not data:
            raise ConnectionError(f"broker closed the connection after {acked} acks")
        pending += data
        whole = len(pending) - len(pending) % 4
        for pos in range(0, whole, 4):
            if pending[pos] != PUBACK:
                raise ConnectionError(f"unexpected packet {pending[pos : pos + 4].hex()}")
        acked += whole // 4
        pending = pending[whole:]
    return acked
