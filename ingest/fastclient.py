"""A faster paho-mqtt client for ingest's consumer: buffered, bulk packet reading.

paho reads each packet with several recv() calls and handles one packet per select(); at
thousands of messages per second that is most of ingest's MQTT cost. ``FastClient`` reads
through a 256 KiB buffer, cuts whole packets from it, hands plain QoS 0/1 PUBLISH packets
straight to a sink and batches PUBACKs; every other packet goes through paho's own handlers.

It works on paho's private internals (``PAHO_INTERNALS``), so pyproject.toml pins paho's minor
version; ``missing_internals()`` names what a paho release lacks (a test fails loudly on it, and
ingest then falls back to ``StockClient``, as it does with ``IOC_INGEST_FAST_READER=false``).
"""

from __future__ import annotations

import inspect
import logging
import struct
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.client import PUBACK, PUBLISH, MalformedPacket
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

log = logging.getLogger(__name__)


# paho's private names FastClient uses: methods (with their leading parameters), attributes and
# the keys of the incoming-packet state its handlers read.
PAHO_METHODS = {
    "_create_socket": (),
    "_packet_queue": ("command", "packet", "mid", "qos"),
    "_packet_handle": (),
    "_loop_rc_handle": ("rc",),
}
PAHO_ATTRIBUTES = (
    "_sock", "_ssl", "_transport", "_in_packet", "_msgtime_mutex", "_last_bytes_received",
    "_protocol", "_manual_ack",
)  # fmt: skip
PAHO_PACKET_KEYS = frozenset(
    {"command", "have_remaining", "remaining_count", "remaining_mult", "remaining_length",
     "packet", "to_process", "pos"}
)  # fmt: skip
_PUBACK = struct.Struct("!BBH")  # PUBACK, remaining length 2, packet id
READ_BURST = 512  # packets handled per wake-up of paho's network loop


class BufferedSocket:
    """A TCP socket read through a 256 KiB buffer and cut into whole MQTT packets."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0

    def pending(self) -> int:
        """Non-zero while a whole packet is buffered: paho's loop then skips select()."""
        try:
            return 0 if self._frame() is None else 1
        except MalformedPacket:
            return 1  # let loop_read report it

    def fill(self) -> bool:
        """Append what the socket has (BlockingIOError if nothing); False when it closed."""
        data = self._sock.recv(262144)
        if not data:
            return False
        rest = self._buf[self._pos :]
        self._buf = rest + data if rest else data
        self._pos = 0
        return True

    def take_packet(self) -> tuple[int, bytes] | None:
        """The next whole packet as (first header byte, body), or None until more arrives."""
        frame = self._frame()
        if frame is None:
            return None
        start, end = frame
        command = self._buf[self._pos]
        self._pos = end
        return command, self._buf[start:end]

    def _frame(self) -> tuple[int, int] | None:
        buf, pos = self._buf, self._pos
        size = len(buf)
        length, shift, i = 0, 0, pos + 1
        while True:
            if i >= size:
                return None
            byte = buf[i]
            length |= (byte & 0x7F) << shift
            i += 1
            if byte < 0x80:
                break
            shift += 7
            if shift > 21:
                raise MalformedPacket("remaining length longer than 4 bytes")
        return (i, i + length) if i + length <= size else None

    def recv(self, bufsize: int) -> bytes:
        """paho's own reads (only while the fast reader is not in use)."""
        if self._pos >= len(self._buf) and not self.fill():
            return b""
        chunk = self._buf[self._pos : self._pos + bufsize]
        self._pos += len(chunk)
        return chunk

    def fileno(self) -> int:
        return int(self._sock.fileno())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class FastClient(mqtt.Client):
    """paho's client with a bulk reader: paho reads each packet with several recv() calls and
    handles one packet per select(); at thousands of messages per second that is most of the
    cost. Here one recv() fills a buffer, whole packets are cut from it, and plain PUBLISH
    packets go straight to ``fast_sink``; every other packet goes through paho's handlers."""

    # Called as fast_sink(topic, payload, mid, qos) for QoS 0/1 PUBLISH packets without
    # properties, instead of building an MQTTMessage and dispatching through on_message.
    fast_sink: Callable[[bytes, bytes, int, int], None] | None = None

    def _create_socket(self) -> Any:
        sock = super()._create_socket()
        if self._ssl or self._transport != "tcp":
            return sock
        return BufferedSocket(sock)

    def ack_many(self, mids: list[int]) -> None:
        """Acknowledge QoS 1 messages in order, as one write instead of one packet per ack."""
        if mids:
            blob = b"".join([_PUBACK.pack(PUBACK, 2, mid) for mid in mids])
            self._packet_queue(PUBACK, blob, 0, 0)

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        sock = self._sock
        if not isinstance(sock, BufferedSocket) or self._in_packet["command"]:
            return super().loop_read(max_packets)  # TLS or websockets: paho's own reader
        handled = 0
        rc = MQTTErrorCode.MQTT_ERR_SUCCESS
        while handled < READ_BURST:
            try:
                packet = sock.take_packet()
                if packet is None:
                    if not sock.fill():
                        rc = MQTTErrorCode.MQTT_ERR_CONN_LOST
                        break
                    continue
            except BlockingIOError:
                break
            except OSError as err:
                log.warning("failed to receive from the MQTT broker: %s", err)
                rc = MQTTErrorCode.MQTT_ERR_CONN_LOST
                break
            except MalformedPacket as err:
                log.error("malformed packet from the MQTT broker: %s", err)
                rc = MQTTErrorCode.MQTT_ERR_PROTOCOL
                break
            handled += 1
            rc = self._handle_packet(*packet)
            if rc > 0:
                break
        if handled:
            with self._msgtime_mutex:
                self._last_bytes_received = mqtt.time_func()
        return self._loop_rc_handle(rc) if rc > 0 else MQTTErrorCode.MQTT_ERR_SUCCESS

    def _handle_packet(self, command: int, body: bytes) -> MQTTErrorCode:
        if command & 0xF0 == PUBLISH and self._fast_publish(command, body):
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        packet = self._in_packet  # paho's handlers read the packet from here
        packet.update(
            {
                "command": command,
                "have_remaining": 1,
                "remaining_length": len(body),
                "packet": bytearray(body),
                "to_process": 0,
                "pos": 0,
            }
        )
        try:
            return self._packet_handle()
        except MalformedPacket as exc:
            log.error("malformed packet from the MQTT broker: %s", exc)
            return MQTTErrorCode.MQTT_ERR_PROTOCOL
        finally:
            packet.update({"command": 0, "have_remaining": 0, "remaining_length": 0})
            packet.update({"packet": bytearray(), "remaining_count": [], "remaining_mult": 1})

    def _fast_publish(self, command: int, packet: bytes) -> bool:
        """Hand a plain QoS 0/1 PUBLISH to ``fast_sink``; False leaves it to paho."""
        sink = self.fast_sink
        qos = (command & 0x06) >> 1
        if sink is None or qos == 2 or self._protocol != mqtt.MQTTv5 or not self._manual_ack:
            return False
        try:
            pos = 2 + ((packet[0] << 8) | packet[1])
            topic = packet[2:pos]
            mid = 0
            if qos:
                mid = (packet[pos] << 8) | packet[pos + 1]
                pos += 2
            if packet[pos] != 0 or not topic:  # properties, or a topic alias
                return False
        except IndexError:
            return False  # malformed: let paho report it
        sink(topic, packet[pos + 1 :], mid, qos)
        return True


class StockClient(mqtt.Client):
    """paho's own reader (no private internals), with FastClient's ``ack_many`` interface."""

    fast_sink: Callable[[bytes, bytes, int, int], None] | None = None  # unused: on_message

    def ack_many(self, mids: list[int]) -> None:
        """Acknowledge QoS 1 messages in order, one PUBACK each."""
        for mid in mids:
            self.ack(mid, 1)


def missing_internals() -> list[str]:
    """paho's private names FastClient needs that the installed paho lacks (empty: usable)."""
    probe = mqtt.Client(CallbackAPIVersion.VERSION2)
    missing = [f"Client.{name}" for name in PAHO_ATTRIBUTES if not hasattr(probe, name)]
    for name, leading in PAHO_METHODS.items():
        method = getattr(probe, name, None)
        if not callable(method):
            missing.append(f"Client.{name}()")
            continue
        params = tuple(inspect.signature(method).parameters)[: len(leading)]
        if params != leading:
            missing.append(f"Client.{name}({', '.join(leading)}) (found {params})")
    keys = set(getattr(probe, "_in_packet", {}))
    missing += [f"Client._in_packet[{key!r}]" for key in sorted(PAHO_PACKET_KEYS - keys)]
    if not callable(getattr(mqtt, "time_func", None)):
        missing.append("paho.mqtt.client.time_func")
    return missing


def client_class(fast_reader: bool) -> type[mqtt.Client]:
    """FastClient when asked for and usable with this paho; StockClient otherwise."""
    if not fast_reader:
        return StockClient
    missing = missing_internals()
    if missing:
        log.warning(
            "paho-mqtt %s lacks what the fast MQTT reader uses (%s); using paho's stock client",
            getattr(mqtt, "__version__", "?"),
            ", ".join(missing),
        )
        return StockClient
    return FastClient
