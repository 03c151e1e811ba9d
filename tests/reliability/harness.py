"""Parts of the fault suite: the message stream, an acknowledgement-recording publisher, an ingest
subprocess and a watch on ingest's birth/last-will topic."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ioc.mqttclient import MqttTarget
from tests.util import wait_until

COMMUNE = "21025"
DEVICES = [f"rel-cam-{i:02d}" for i in range(1, 9)]
REGISTRY = "\n".join(
    [
        "communes:",
        f'  - {{code: "{COMMUNE}", name: "Xã Tịnh Sơn", province: "Quảng Ngãi"}}',
        "devices:",
        *(
            f'  - {{id: {d}, type: camera, commune: "{COMMUNE}", name: "Camera {d}"}}'
            for d in DEVICES
        ),
    ]
)
METRICS = ("fps", "cpu_pct")
POISON_KINDS = ("invalid_json", "nan", "unknown_device", "unknown_metric")


@dataclass(frozen=True, slots=True)
class Msg:
    """One message of the stream and how to find it in the database."""

    kind: str  # "telemetry" | "event" | "poison"
    device: str
    ts: datetime
    seq: int
    topic: str
    payload: bytes


def make_stream(
    prefix: str,
    n: int,
    base: datetime,
    *,
    first: int = 0,
    event_every: int = 50,
    poison_every: int = 0,
    seqs: dict[str, int] | None = None,
) -> list[Msg]:
    """``n`` messages round-robin over the devices, 1 ms apart from ``base`` + ``first`` ms.

    Every ``event_every``-th is an event, every ``poison_every``-th a poison message (it takes
    no sequence number: it never reaches a device's counter). ``seqs`` carries per-device
    counters across calls.
    """
    seqs = seqs if seqs is not None else {}
    out: list[Msg] = []
    for i in range(first, first + n):
        device = DEVICES[i % len(DEVICES)]
        ts = base + timedelta(milliseconds=i)
        topic = f"{prefix}/{COMMUNE}/{device}/telemetry"
        if poison_every and i % poison_every == poison_every - 1:
            out.append(_poison(prefix, device, ts, i))
            continue
        seq = seqs.get(device, 0)
        seqs[device] = seq + 1
        body: dict[str, Any] = {"ts": ts.isoformat(), "seq": seq}
        if event_every and i % event_every == event_every - 1:
            topic = f"{prefix}/{COMMUNE}/{device}/event"
            body.update(type="motion", severity="info", data={"i": i})
            out.append(Msg("event", device, ts, seq, topic, json.dumps(body).encode()))
            continue
        body["metrics"] = {"fps": 20 + i % 5, "cpu_pct": i % 100}
        out.append(Msg("telemetry", device, ts, seq, topic, json.dumps(body).encode()))
    return out


def _poison(prefix: str, device: str, ts: datetime, i: int) -> Msg:
    kind = POISON_KINDS[(i // 7) % len(POISON_KINDS)]
    topic = f"{prefix}/{COMMUNE}/{device}/telemetry"
    stamp = ts.isoformat()
    if kind == "invalid_json":
        payload = f'{{"ts": "{stamp}", "seq": {i}, "metrics": {{"fps": 2'
    elif kind == "nan":
        payload = f'{{"ts": "{stamp}", "seq": {i}, "metrics": {{"fps": NaN}}}}'
    elif kind == "unknown_device":
        topic = f"{prefix}/{COMMUNE}/ghost-{i}/telemetry"
        payload = f'{{"ts": "{stamp}", "seq": {i}, "metrics": {{"fps": 1}}}}'
    else:
        payload = f'{{"ts": "{stamp}", "seq": {i}, "metrics": {{"warp_factor": 9}}}}'
    return Msg("poison", device, ts, -1, topic, payload.encode())


def connect_props(expiry_s: int) -> Properties:
    """CONNECT properties with a session expiry (a persistent session)."""
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = expiry_s
    return props


class AckedPublisher:
    """QoS 1 MQTT v5 publisher that records each message the broker acknowledged (PUBACK)."""

    def __init__(self, url: str, keepalive: int = 5, inflight: int = 200) -> None:
        target = MqttTarget(url)
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"rel-pub-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.max_inflight_messages_set(inflight)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(1, 2)
        self.client.on_publish = self._on_publish
        self._lock = threading.Lock()
        self._pending: dict[int, Msg] = {}
        self._early: dict[int, Any] = {}
        self.sent: list[Msg] = []
        self.acked: list[Msg] = []
        self.refused: list[tuple[Msg, str]] = []
        self.reason_codes: list[str] = []  # PUBACK reason codes other than Success
        self.client.connect(
            target.host, target.port, keepalive, clean_start=False, properties=connect_props(600)
        )
        self.client.loop_start()

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, rc: Any, _p: Any) -> None:
        # paho may call this before publish() returned the mid to us: park it until then.
        with self._lock:
            msg = self._pending.pop(mid, None)
            if msg is None:
                self._early[mid] = rc
            else:
                self._settle(msg, rc)

    def _settle(self, msg: Msg, rc: Any) -> None:
        if getattr(rc, "value", 0) != 0:
            self.reason_codes.append(str(rc))
        if getattr(rc, "is_failure", False):
            self.refused.append((msg, str(rc)))
        else:
            self.acked.append(msg)

    def send(self, msg: Msg) -> None:
        """Publish one message (QoS 1); paho queues it while disconnected."""
        info = self.client.publish(msg.topic, msg.payload, qos=1)
        with self._lock:
            self.sent.append(msg)
            rc = self._early.pop(info.mid, None)
            if rc is None:
                self._pending[info.mid] = msg
            else:
                self._settle(msg, rc)

    def send_paced(self, segments: Sequence[tuple[Sequence[Msg], float]]) -> threading.Thread:
        """Send (messages, rate per second) segments in order from a thread; returns it."""

        def run() -> None:
            for messages, rate in segments:
                start = time.monotonic()
                for k, msg in enumerate(messages):
                    delay = start + k / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)  # pacing the publisher, not waiting for a result
                    self.send(msg)

        thread = threading.Thread(target=run, name="rel-publisher", daemon=True)
        thread.start()
        return thread

    def settled(self) -> bool:
        """True when every sent message was acknowledged or refused."""
        with self._lock:
            return len(self.acked) + len(self.refused) == len(self.sent)

    def wait_settled(self, timeout: float) -> None:
        """Wait until the broker answered every message."""
        wait_until(self.settled, timeout, 0.05, message="broker PUBACK for every message")

    def snapshot(self) -> list[Msg]:
        """The messages acknowledged so far."""
        with self._lock:
            return list(self.acked)

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


class StatusWatch:
    """Records live (not retained) birth/last-will messages of ingest instances."""

    def __init__(self, url: str) -> None:
        target = MqttTarget(url)
        self.events: list[tuple[float, str, str]] = []
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"rel-watch-{uuid.uuid4().hex[:8]}"
        )
        self.client.on_connect = lambda c, *_: c.subscribe("ioc/system/ingest/+/status", qos=1)
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 2)
        self.client.connect(target.host, target.port, 5)
        self.client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if not msg.retain:
            self.events.append((time.time(), msg.topic.split("/")[3], msg.payload.decode()))

    def online_since(self, instance: str, since: float) -> bool:
        """True once ``instance`` announced `online` after ``since`` (time.time())."""
        return any(t >= since and i == instance and s == "online" for t, i, s in self.events)

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()


class IngestProcess:
    """`ioc ingest --workers 1` as a subprocess with short, test-sized timing knobs."""

    def __init__(self, db_url: str, mqtt_url: str, prefix: str, log_path: str) -> None:
        self.instance = f"rel-{uuid.uuid4().hex[:6]}"
        self.env = {
            **os.environ,
            "IOC_DATABASE_URL": db_url,
            "IOC_MQTT_URL": mqtt_url,
            "IOC_INGEST_INSTANCE": self.instance,
            "IOC_INGEST_GROUP": "rel",
            "IOC_INGEST_TOPIC_PREFIX": prefix,
            "IOC_INGEST_KEEPALIVE_S": "5",
            "IOC_INGEST_HEARTBEAT_S": "0.5",
            "IOC_INGEST_RETRY_MAX_S": "2",
            "IOC_INGEST_UNKNOWN_REFRESH_MIN_S": "0.2",
            # Count a missing seq at once: a scenario's stream spans seconds, not the 60 s hold
            # (one worker does not reorder, so no false gap can come from this).
            "IOC_INGEST_SEQ_GAP_HOLD_S": "0",
        }
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.watch = StatusWatch(mqtt_url)

    def start(self, timeout: float = 60) -> float:
        """Start and wait until subscribed (its live `online` birth); returns the start time."""
        started = time.time()
        cmd = [sys.executable, "-c", "from ioc.cli import main; main()", "ingest", "--workers", "1"]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        wait_until(
            lambda: self.watch.online_since(self.instance, started) or self._died(),
            timeout,
            0.05,
            message=f"ingest {self.instance} subscribed",
        )
        if self._died():
            raise RuntimeError(f"ingest exited with {self.proc.returncode}; see {self.log_path}")
        return started

    def _died(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def signal(self, sig: signal.Signals, timeout: float = 30) -> None:
        """Send ``sig`` and wait for the process to exit."""
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(timeout)

    def close(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and the watch."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.watch.close()


def utc_base(hours_ago: float = 2.0) -> datetime:
    """A whole-second timestamp some hours back (inside today's partitions, never future)."""
    return (datetime.now(UTC) - timedelta(hours=hours_ago)).replace(microsecond=0)
