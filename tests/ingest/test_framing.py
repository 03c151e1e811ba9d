"""Cutting MQTT packets out of the receive buffer (ingest.fastclient.BufferedSocket)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from paho.mqtt.client import MalformedPacket

from ingest.fastclient import BufferedSocket
from ioc.mqttwire import remaining_length


def encode(command: int, body: bytes) -> bytes:
    return bytes([command]) + remaining_length(len(body)) + body


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, BufferedSocket]]:
    a, b = socket.socketpair()
    b.setblocking(False)
    yield a, BufferedSocket(b)
    a.close()
    b.close()


def drain(sock: BufferedSocket) -> list[tuple[int, bytes]]:
    out = []
    while True:
        packet = sock.take_packet()
        if packet is not None:
            out.append(packet)
            continue
        try:
            sock.fill()
        except BlockingIOError:
            return out


def test_packets_split_anywhere_come_out_whole(
    pair: tuple[socket.socket, BufferedSocket],
) -> None:
    writer, sock = pair
    packets = [(0x32, b"x" * n) for n in (0, 1, 127, 128, 16383, 16384, 300_000)]
    stream = b"".join(encode(c, b) for c, b in packets)
    got = []
    for cut in range(0, len(stream), 9_973):  # pieces that end mid-header and mid-body
        writer.sendall(stream[cut : cut + 9_973])
        got += drain(sock)
    assert got == packets
    assert sock.pending() == 0


def test_pending_only_for_a_whole_packet(pair: tuple[socket.socket, BufferedSocket]) -> None:
    writer, sock = pair
    data = encode(0x40, b"\x00\x01")
    writer.sendall(data[:3])
    assert drain(sock) == [] and sock.pending() == 0
    writer.sendall(data[3:] + data)
    sock.fill()
    assert sock.pending() == 1
    assert drain(sock) == [(0x40, b"\x00\x01")] * 2


def test_remaining_length_over_four_bytes_is_malformed(
    pair: tuple[socket.socket, BufferedSocket],
) -> None:
    writer, sock = pair
    writer.sendall(bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]))
    sock.fill()
    with pytest.raises(MalformedPacket):
        sock.take_packet()
