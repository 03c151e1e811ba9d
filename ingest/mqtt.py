"""The MQTT side of ingest: a paho-mqtt 2.x v5 client whose callbacks only enqueue.

Persistent session (clean start off, session expiry), QoS 1 shared subscription, manual acks.
Acks carry the connection generation they belong to: after a reconnect the broker redelivers
what was not acknowledged, and a packet id of the old connection must never be acked on the new
one (it could name another message).
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.client import PUBACK, PUBLISH, MalformedPacket
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from ingest.settings import IngestSettings
from ioc.settings import MqttTarget

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


_PUBACK = struct.Struct("!BBH")  # PUBACK, remaining length 2, packet id
READ_BURST = 512  # packets handled per wake-up of paho's network loop


CONNECT_FAIL_LOG_EVERY_S = 30.0  # how often an unreachable broker is reported


class _BufferedSocket:
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
        return _BufferedSocket(sock)

    def ack_many(self, mids: list[int]) -> None:
        """Acknowledge QoS 1 messages in order, as one write instead of one packet per ack."""
        if mids:
            blob = b"".join([_PUBACK.pack(PUBACK, 2, mid) for mid in mids])
            self._packet_queue(PUBACK, blob, 0, 0)

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        sock = self._sock
        if not isinstance(sock, _BufferedSocket) or self._in_packet["command"]:
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


def status_topic(instance: str) -> str:
    """Retained birth/last-will topic of one ingest instance."""
    return f"ioc/system/ingest/{instance}/status"


class Consumer:
    """Connects, subscribes, hands every message to ``sink`` and acks on request."""

    def __init__(
        self, target: MqttTarget, settings: IngestSettings, sink: Callable[[Inbound], None]
    ) -> None:
        self.target = target
        self.settings = settings
        self.sink = sink
        self.generation = 0
        self.accepting = True  # False while stopping: new messages stay unacked for redelivery
        self.connected = threading.Event()
        self._ack_lock = threading.Lock()
        self._connect_fail_logged = -CONNECT_FAIL_LOG_EVERY_S
        self._status_topic = status_topic(settings.instance)
        # MQTT 3.1.1 (e.g. the demo's embedded broker): a plain persistent session, no sharing.
        self.subscription = settings.subscription if target.v5 else f"{settings.topic_prefix}/+/+/+"
        client = FastClient(
            CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=mqtt.MQTTv5 if target.v5 else mqtt.MQTTv311,
            clean_session=None if target.v5 else False,
            manual_ack=True,
        )
        if target.username:
            client.username_pw_set(target.username, target.password)
        if target.tls:
            client.tls_set()
        # The last will is set before connecting (it is part of CONNECT).
        client.will_set(self._status_topic, "offline", qos=1, retain=True)
        client.reconnect_delay_set(1, 1)  # few clients: retry every second (shorter loss windows)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        client.fast_sink = self._on_publish
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

    def stop(self) -> None:
        """Publish `offline`, disconnect cleanly and stop paho's thread."""
        try:
            if self.connected.is_set():
                info = self.client.publish(self._status_topic, "offline", qos=1, retain=True)
                info.wait_for_publish(timeout=2)
        except Exception:  # a broker already gone is not a reason to hang on stop
            log.debug("could not publish offline status", exc_info=True)
        with self._ack_lock:
            self.generation += 1
        self.client.disconnect()
        self.client.loop_stop()

    def ack(self, items: Iterable[Inbound]) -> int:
        """Acknowledge messages of the current connection, in order; return how many."""
        with self._ack_lock:
            generation = self.generation
            mids = [i.mid for i in items if i.qos == 1 and i.generation == generation]
            self.client.ack_many(mids)
            for item in items:
                if item.qos == 2 and item.generation == generation:
                    self.client.ack(item.mid, 2)
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
                self.generation += 1
            client.subscribe(self.subscription, options=SubscribeOptions(qos=1))
            log.info(
                "connected to %s as %s (session present: %s)",
                self.target,
                self.settings.client_id,
                flags.session_present,
            )
        except Exception:
            log.exception("error in on_connect")

    def _on_subscribe(self, client: mqtt.Client, _u: Any, _mid: int, rcs: Any, _p: Any) -> None:
        try:
            if any(rc.is_failure for rc in rcs):
                log.error("subscription to %s refused: %s", self.subscription, rcs)
                return
            # Birth only after the subscription is in place (home-assistant's order).
            client.publish(self._status_topic, "online", qos=1, retain=True)
            self.connected.set()
        except Exception:
            log.exception("error in on_subscribe")

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        try:
            self.connected.clear()
            with self._ack_lock:
                self.generation += 1
            log.warning("disconnected from MQTT broker: %s", rc)
        except Exception:
            log.exception("error in on_disconnect")

    def _on_publish(self, topic: bytes, payload: bytes, mid: int, qos: int) -> None:
        if not self.accepting:
            return
        try:
            text = topic.decode("utf-8", "backslashreplace")
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
            self.sink(
                Inbound(topic, bytes(msg.payload), msg.mid, msg.qos, time.time(), self.generation)
            )
        except Exception:
            log.exception("error in on_message (message left unacknowledged)")
