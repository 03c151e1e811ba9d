"""The bus fault tests' parts: a QoS 1 feed that fails over between nodes, ingest as a
process, and the count of what reached the database."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from ioc.bus.local import LocalCluster
from ioc.mqttclient import MqttTarget

log = logging.getLogger(__name__)

DEVICE = "ts-cam-01"
TOPIC = f"ioc/v1/21025/{DEVICE}/telemetry"
COUNT_ROWS = """
SELECT count(*), count(DISTINCT time), min(value), max(value) FROM telemetry
WHERE device_id = %(device)s AND metric = 'bitrate_kbps'
"""
QUARANTINED = "SELECT reason, count(*) FROM quarantine GROUP BY reason"
VALUES = "SELECT value::int FROM telemetry WHERE device_id = %(device)s AND metric = 'bitrate_kbps'"


def done(info: mqtt.MQTTMessageInfo) -> bool:
    """Whether the PUBACK of a publish arrived (False for one its dead connection never sent)."""
    try:
        return info.is_published()
    except (RuntimeError, ValueError):
        return False


class Feed(threading.Thread):
    """Publishes ``count`` readings (seq n has value n and its own timestamp) at ``rate``/s, QoS 1,
    like a device: when its node goes away it reconnects to the next one and sends again what
    was not acknowledged. ``acked`` holds the seqs whose PUBACK arrived."""

    def __init__(
        self,
        urls: list[str],
        count: int,
        rate: float,
        first: int = 0,
        device: str = DEVICE,
        commune: str = "21025",
    ) -> None:
        super().__init__(name=f"feed-{device}", daemon=True)
        self.device = device
        self.topic = f"ioc/v1/{commune}/{device}/telemetry"
        self.urls = urls
        self.count = count
        self.rate = rate
        self.node = first
        self.acked: set[int] = set()
        self.sent = 0
        self.failovers = 0
        self.base = datetime.now(UTC) - timedelta(hours=1)
        self.error: BaseException | None = None
        self.longest_stall = 0.0  # longest time without a new PUBACK while publishing (s)
        self._last_ack: float | None = None

    def payload(self, seq: int) -> bytes:
        ts = self.base + timedelta(milliseconds=seq)
        return json.dumps(
            {"ts": ts.isoformat(), "seq": seq, "metrics": {"bitrate_kbps": seq}}
        ).encode()

    def _connect(self, deadline: float) -> mqtt.Client:
        while time.monotonic() < deadline:
            target = MqttTarget(self.urls[self.node % len(self.urls)], "3.1.1")
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=f"feed-{uuid.uuid4().hex[:6]}",
                protocol=mqtt.MQTTv311,
            )
            client.max_inflight_messages_set(100)
            try:
                client.connect(target.host, target.port, keepalive=5)
                client.loop_start()
                end = time.monotonic() + 10
                while not client.is_connected() and time.monotonic() < end:
                    time.sleep(0.02)
                if client.is_connected():
                    return client
                client.loop_stop()
            except OSError:
                pass
            self.node += 1
            time.sleep(0.1)
        raise TimeoutError("no bus node accepted the feed's connection")

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # reported by the test
            self.error = exc

    def _run(self) -> None:
        deadline = time.monotonic() + 120
        infos: dict[int, mqtt.MQTTMessageInfo] = {}
        client = self._connect(deadline)
        start = time.monotonic()
        todo = list(range(self.count))
        while todo or any(not done(i) for i in infos.values()):
            if not client.is_connected():
                client.loop_stop()
                self.failovers += 1
                self.node += 1
                client = self._connect(deadline)
                # what the dead connection did not get acknowledged is sent again
                todo = sorted(s for s, i in infos.items() if not done(i)) + todo
                for seq in todo:
                    infos.pop(seq, None)
            if not todo:
                self._collect(infos)
                time.sleep(0.02)
                continue
            seq = todo[0]
            ahead = start + self.sent / self.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
            if sum(not done(i) for i in list(infos.values())[-200:]) >= 100:
                time.sleep(0.005)
                self._collect(infos)
                continue
            todo.pop(0)
            infos[seq] = client.publish(self.topic, self.payload(seq), qos=1)
            self.sent += 1
            if self.sent % 200 == 0:
                self._collect(infos)
        self._collect(infos)
        client.disconnect()
        client.loop_stop()

    def _collect(self, infos: dict[int, mqtt.MQTTMessageInfo]) -> None:
        before = len(self.acked)
        self.acked.update(s for s, i in infos.items() if done(i))
        now = time.monotonic()
        if len(self.acked) > before:
            if self._last_ack is not None:
                self.longest_stall = max(self.longest_stall, now - self._last_ack)
            self._last_ack = now


def stored(db_url: str, device: str = DEVICE) -> tuple[int, set[int]]:
    """Rows of the feed's metric, and the distinct seqs among them."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(VALUES, {"device": device}).fetchall()
    return len(rows), {int(r[0]) for r in rows}


def report(name: str, feed: Feed, db_url: str) -> tuple[int, int]:
    """Print the counts of a fault test; return (lost, duplicated)."""
    rows, seqs = stored(db_url, feed.device)
    with psycopg.connect(db_url) as conn:
        quarantined = conn.execute(QUARANTINED).fetchall()
    lost = len(feed.acked - seqs)
    duplicated = rows - len(seqs)
    print(
        f"\n[bus {name}] {feed.device}: published {feed.sent} (failovers {feed.failovers}), "
        f"PUBACKed {len(feed.acked)} (longest wait for a PUBACK {feed.longest_stall:.1f} s), rows {rows}, distinct {len(seqs)}, "
        f"lost {lost}, duplicated {duplicated}, quarantined {dict(quarantined)}"
    )
    return lost, duplicated


def wait_stored(db_url: str, want: set[int], timeout: float, device: str = DEVICE) -> float:
    """Wait until every seq in ``want`` is in the database (or the timeout passes); return
    how long that took."""
    start = time.monotonic()
    while time.monotonic() < start + timeout:
        if want <= stored(db_url, device)[1]:
            break
        time.sleep(0.2)
    return time.monotonic() - start


class IngestProcess:
    """``ioc ingest --workers 1`` on the bus as a process of its own (to SIGKILL it)."""

    def __init__(self, cluster: LocalCluster, db_url: str, name: str, log_dir: Path) -> None:
        env = {
            **os.environ,
            **cluster.env(),
            "IOC_DATABASE_URL": db_url,
            "IOC_INGEST_INSTANCE": name,
            "IOC_INGEST_ACK_WAIT_S": "2",
            "IOC_INGEST_BATCH_MAX_WAIT_S": "0.05",
            "IOC_INGEST_HEARTBEAT_S": "0.5",
            "IOC_INGEST_RECEIVE_MAXIMUM": "500",
        }
        self.log = log_dir / f"ingest-{name}.log"
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ioc", "ingest", "--workers", "1"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(30)


def stream_leader(cluster: LocalCluster, stream: str = "$MQTT_msgs") -> int:
    """Index (1-based) of the node leading ``stream``'s Raft group."""
    import asyncio

    import nats

    async def ask() -> str:
        nc = await nats.connect(servers=cluster.nats_urls, connect_timeout=2)
        try:
            info = await nc.jetstream().stream_info(stream)
            assert info.cluster is not None and info.cluster.leader
            return info.cluster.leader
        finally:
            await nc.close()

    return int(asyncio.run(ask()).removeprefix("n"))


def wait_sent(feed: Feed, n: int, timeout: float = 60) -> None:
    """Wait until the feed has published ``n`` messages."""
    deadline = time.monotonic() + timeout
    while feed.sent < n and feed.is_alive():
        if time.monotonic() > deadline:
            raise TimeoutError(f"feed sent only {feed.sent} of {n}")
        time.sleep(0.02)
