"""Forwarding the outbox to the broker: live rows at once, the backlog oldest first, capped.

paho runs its network loop in its own thread; its callbacks only hand facts (connected,
disconnected, PUBACK of mid) to the asyncio loop. A row is deleted when its message's PUBACK
arrives. On every (re)connect the rows already stored become the *backlog*, replayed oldest
first as ``readings`` batches at ``replay_rate`` messages/s, while rows stored after the
connect (*live*) go out immediately. Publishing twice is harmless (ingest is idempotent);
deleting before the PUBACK never happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt

from collector.outbox import Outbox, Row
from ioc import mqttclient
from ioc.contract import OFFLINE, ONLINE, device_topic
from ioc.mqttclient import MqttTarget

log = logging.getLogger(__name__)

MAX_BATCH_READINGS = 100
MAX_BATCH_BYTES = 48_000  # under ingest's default 64 KiB payload limit
NO_MATCHING_SUBSCRIBERS = 16  # MQTT 5 PUBACK reason code


@dataclass
class ForwardStats:
    """Counters for the heartbeat and the benchmark."""

    published: int = 0
    acked: int = 0
    replayed_rows: int = 0
    connects: int = 0
    connected_since: float | None = None
    backlog_done_at: float | None = None
    unrouted: int = 0  # PUBACKs saying nobody subscribed (rows kept and sent again)


@dataclass
class _Flight:
    ids: list[int]
    sent_at: float
    backlog: bool


@dataclass
class Forwarder:
    """Publishes outbox rows with QoS 1 through one paho client."""

    outbox: Outbox
    target: MqttTarget
    client_id: str
    commune: str
    collector_id: str
    window: int = 200  # messages in flight at once
    replay_rate: float = 20.0  # backlog messages per second
    stats: ForwardStats = field(default_factory=ForwardStats)

    def __post_init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._connected = False
        self._flights: dict[int, _Flight] = {}
        self._in_flight: set[int] = set()
        self._mark = 0  # rows up to here were stored before this connection: the backlog
        self._live_cursor = 0
        self._backlog_cursor = 0
        self._tokens = 0.0
        self._stopping = False
        self._pause_until = 0.0
        self._client = self._make_client()

    @property
    def status_topic(self) -> str:
        """The collector's own retained status topic (birth / last will)."""
        return device_topic(self.commune, self.collector_id, "status")

    @property
    def connected(self) -> bool:
        """Whether the broker accepted the current connection."""
        return self._connected

    def _make_client(self) -> mqtt.Client:
        client = mqttclient.client(
            self.target, self.client_id, will=(self.status_topic, OFFLINE.encode())
        )
        client.max_inflight_messages_set(self.window)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(1, 10)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        return client

    # paho thread: hand over, never raise
    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            log.warning("broker refused the collector's connection: %s", rc)
            return
        client.publish(self.status_topic, ONLINE.encode(), qos=1, retain=True)
        self._post(self._up)

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self._post(self._down, str(rc))

    def _on_publish(self, _c: Any, _u: Any, mid: int, rc: Any, _p: Any) -> None:
        # MQTT 5: "no matching subscribers" means nobody took it (e.g. ingest not subscribed
        # yet after a broker restart, which forgets shared subscriptions): keep the rows.
        taken = getattr(rc, "value", 0) != NO_MATCHING_SUBSCRIBERS
        self._post(self._acked, mid, taken)

    def _post(self, fn: Any, *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn, *args)

    # event loop
    def _up(self) -> None:
        self._connected = True
        self.stats.connects += 1
        self.stats.connected_since = time.monotonic()
        self.stats.backlog_done_at = None
        self._flights.clear()  # unacknowledged messages of the last connection: send again
        self._pause_until = 0.0
        self._in_flight.clear()
        self._mark = self.outbox.max_id()
        self._live_cursor = self._mark
        self._backlog_cursor = 0
        log.info("broker connected; %d buffered row(s) to replay", self.outbox.depth)
        self._wake.set()

    def _down(self, reason: str) -> None:
        if self._connected and not self._stopping:
            log.warning("broker connection lost (%s); buffering", reason)
        self._connected = False

    def _acked(self, mid: int, taken: bool = True) -> None:
        flight = self._flights.pop(mid, None)
        if flight is None:
            return  # the collector's birth, or a message of an earlier connection
        if not taken:
            self._in_flight.difference_update(flight.ids)
            # Send them again with the backlog, after a pause, oldest first.
            self._mark = max(self._mark, max(flight.ids))
            self._backlog_cursor = min(self._backlog_cursor, min(flight.ids) - 1)
            self._pause_until = time.monotonic() + 1.0
            self.stats.unrouted += 1
            return
        self.outbox.remove(flight.ids)
        self._in_flight.difference_update(flight.ids)
        self.stats.acked += 1
        if flight.backlog:
            self.stats.replayed_rows += len(flight.ids)
        self._wake.set()

    def notify(self) -> None:
        """A row was stored: publish it soon."""
        self._wake.set()

    def start(self) -> None:
        """Connect in the background (retrying) and start paho's network thread."""
        self._loop = asyncio.get_running_loop()
        self._client.connect_async(self.target.host, self.target.port, keepalive=15)
        self._client.loop_start()

    async def run(self) -> None:
        """Pump rows to the broker until cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=0.2)
            self._wake.clear()
            if self._connected:
                self._pump()

    def _pump(self) -> None:
        room = self.window - len(self._flights)
        if room <= 0:
            return
        live = self.outbox.after(self._live_cursor, 2**62, room)
        for row in live:
            self._publish([row], backlog=False)
            self._live_cursor = row.id
        room -= len(live)
        now = time.monotonic()
        self._tokens = min(self.replay_rate, self._tokens + self.replay_rate * 0.2)
        if now < self._pause_until:
            return
        if self._backlog_cursor >= self._mark:
            if self.stats.backlog_done_at is None and not any(
                f.backlog for f in self._flights.values()
            ):
                self.stats.backlog_done_at = now
            return
        while room > 0 and self._tokens >= 1 and self._connected:
            fetched = self.outbox.after(self._backlog_cursor, self._mark, MAX_BATCH_READINGS * 20)
            if not fetched:
                self._backlog_cursor = self._mark
                break
            groups = batches([r for r in fetched if r.id not in self._in_flight])
            cursor = fetched[-1].id
            for i, group in enumerate(groups):
                if room <= 0 or self._tokens < 1:
                    # Resume at the oldest row not sent yet (groups interleave by device).
                    cursor = min(r.id for g in groups[i:] for r in g) - 1
                    break
                self._publish(group, backlog=True)
                self._tokens -= 1
                room -= 1
            self._backlog_cursor = cursor

    def _publish(self, rows: list[Row], backlog: bool) -> None:
        first = rows[0]
        if first.channel == "telemetry" and (backlog or len(rows) > 1):
            payload = '{"readings":[' + ",".join(r.body for r in rows) + "]}"
        else:
            payload = first.body
        topic = device_topic(first.commune, first.device_id, first.channel)  # type: ignore[arg-type]
        info = self._client.publish(topic, payload.encode(), qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self._connected = False  # paho lost the socket; on_connect will start over
            return
        ids = [r.id for r in rows]
        self._flights[info.mid] = _Flight(ids, time.monotonic(), backlog)
        self._in_flight.update(ids)
        self.stats.published += 1

    def stop(self) -> None:
        """Say goodbye cleanly (retained offline) and stop paho's thread."""
        self._stopping = True
        if self._connected:
            self._client.publish(self.status_topic, OFFLINE.encode(), qos=1, retain=True)
        self._client.disconnect()
        self._client.loop_stop()


def batches(rows: list[Row]) -> list[list[Row]]:
    """Consecutive telemetry of one device in ``readings`` batches; events one by one."""
    out: list[list[Row]] = []
    per_device: dict[str, list[Row]] = defaultdict(list)
    sizes: dict[str, int] = defaultdict(int)
    for row in rows:
        if row.channel != "telemetry":
            out.append([row])
            continue
        group = per_device[row.device_id]
        if group and (
            len(group) >= MAX_BATCH_READINGS
            or sizes[row.device_id] + len(row.body) > MAX_BATCH_BYTES
        ):
            out.append(group)
            group = per_device[row.device_id] = []
            sizes[row.device_id] = 0
        group.append(row)
        sizes[row.device_id] += len(row.body) + 1
    out.extend(g for g in per_device.values() if g)
    out.sort(key=lambda g: g[0].id)
    return out


def reading(ts_ms: int, metrics: dict[str, Any]) -> dict[str, Any]:
    """The fields of a reading row (``seq`` is added by the outbox)."""
    return {"ts": ts_ms, "metrics": metrics}


def dumps(obj: Any) -> str:
    """Compact JSON as the contract encodes it."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
