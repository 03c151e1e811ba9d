"""One raw ICMP socket for every ping of the collector, replies matched by (id, sequence).

A raw ICMP socket receives every echo reply that reaches the host; a socket per burst (as
icmplib opens) makes N bursts in flight cost N² wake-ups. One socket, one reader callback and
a table of waiting futures costs one wake-up per reply, whatever the number of devices.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import struct
import time

from collector.protocols.errors import IcmpError

ECHO_REQUEST, ECHO_REPLY = 8, 0


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int, payload: bytes = b"ioc-collector-ping") -> bytes:
    """An ICMP echo request packet."""
    header = struct.pack("!BBHHH", ECHO_REQUEST, 0, 0, ident, seq)
    csum = _checksum(header + payload)
    return struct.pack("!BBHHH", ECHO_REQUEST, 0, csum, ident, seq) + payload


class RawPinger:
    """Shared raw socket; ``echo(address, timeout)`` returns the RTT in ms or None."""

    def __init__(self) -> None:
        try:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        except OSError as exc:
            raise IcmpError(f"no raw ICMP socket: {exc}") from None
        self.sock.setblocking(False)
        self.ident = os.getpid() & 0xFFFF
        self._seq = itertools.count(1)
        self._waiting: dict[tuple[str, int], tuple[float, asyncio.Future[float]]] = {}
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.sock.fileno(), self._readable)

    def _readable(self) -> None:
        while True:
            try:
                packet, (source, _) = self.sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            header_len = (packet[0] & 0x0F) * 4
            icmp = packet[header_len : header_len + 8]
            if len(icmp) < 8:
                continue
            kind, _, _, ident, seq = struct.unpack("!BBHHH", icmp)
            if kind != ECHO_REPLY or ident != self.ident:
                continue
            waiting = self._waiting.pop((source, seq), None)
            if waiting and not waiting[1].done():
                waiting[1].set_result((time.perf_counter() - waiting[0]) * 1000)

    async def echo(self, address: str, timeout: float) -> float | None:
        """One echo: round-trip time in milliseconds, or None when nothing came back."""
        seq = next(self._seq) & 0xFFFF
        future: asyncio.Future[float] = self._loop.create_future()
        key = (address, seq)
        self._waiting[key] = (time.perf_counter(), future)
        try:
            self.sock.sendto(echo_request(self.ident, seq), (address, 0))
            return await asyncio.wait_for(future, timeout)
        except (TimeoutError, OSError):
            return None
        finally:
            self._waiting.pop(key, None)

    def close(self) -> None:
        """Stop reading and close the socket."""
        self._loop.remove_reader(self.sock.fileno())
        self.sock.close()


_PINGERS: dict[int, RawPinger] = {}


def shared_pinger() -> RawPinger:
    """The running loop's raw pinger (created on first use)."""
    key = id(asyncio.get_running_loop())
    if key not in _PINGERS:
        _PINGERS.clear()
        _PINGERS[key] = RawPinger()
    return _PINGERS[key]
