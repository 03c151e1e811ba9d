"""The few MQTT 3.1.1 packet encodings written by hand: the API's broker probe and the benchmark
load generator speak MQTT over a bare socket (no client library's per-message cost)."""

from __future__ import annotations

import struct


def utf8(text: str) -> bytes:
    """An MQTT UTF-8 string: two-byte length, then the bytes."""
    data = text.encode("utf-8")
    return struct.pack("!H", len(data)) + data


def remaining_length(n: int) -> bytes:
    """The variable-length "remaining length" of a fixed header."""
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect_packet(
    client_id: str, keepalive: int, username: str | None = None, password: str | None = None
) -> bytes:
    """CONNECT for a clean MQTT 3.1.1 session."""
    flags = 0x02  # clean session
    payload = utf8(client_id)
    if username:
        flags |= 0x80
        payload += utf8(username)
        if password:
            flags |= 0x40
            payload += utf8(password)
    body = utf8("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive) + payload
    return bytes([0x10]) + remaining_length(len(body)) + body
