"""The bus side of ingest (``IOC_BUS=nats``): one durable JetStream pull consumer, shared.

Every ingest instance pulls from the same durable consumer on NATS's MQTT stream (``$MQTT_msgs``,
where NATS stores each QoS 1 MQTT PUBLISH on a quorum before it PUBACKs): the server hands each
message to one puller, so instances come and go with no group membership to go stale. Acks go
out after the batch is committed; messages held longer (a database outage) are kept alive with
"in progress" acks, so only a crashed instance's messages are redelivered, after ``ack_wait_s``.
The NATS client is asyncio; it runs on its own thread and talks to the writer thread through
``sink`` (enqueue) and ``ack`` (scheduled on the loop), like paho's thread in ingest/mqtt.py.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import nats
from nats.errors import TimeoutError as NatsTimeout

from ingest.mqtt import Inbound
from ingest.settings import IngestSettings
from ioc.bus import INGEST_DURABLE, MQTT_STREAM, subject_to_topic
from ioc.bus.consumer import consumer_config, ensure_consumer

log = logging.getLogger(__name__)


class JetStreamConsumer:
    """Pulls from the shared durable consumer, hands messages to ``sink``, acks on request."""

    def __init__(
        self,
        nats_urls: list[str],
        settings: IngestSettings,
        sink: Callable[[Inbound], None],
        ensure_stream: Callable[[], None] | None = None,
    ) -> None:
        self.urls = nats_urls
        self.settings = settings
        self.sink = sink
        self.ensure_stream = ensure_stream  # makes NATS create its MQTT streams (an MQTT connect)
        self.accepting = True
        self.connected = threading.Event()
        self.received = 0
        self.acked = 0
        self.generation = 1
        self._ids = itertools.count(1)
        self._held: dict[int, Any] = {}  # id handed to the writer -> nats Msg awaiting its ack
        self._by_seq: dict[int, int] = {}  # stream sequence -> id (a redelivery is not re-queued)
        self._lock = threading.Lock()
        self._acks: list[concurrent.futures.Future[None]] = []
        self.client: Any = None  # the nats client, once connected
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name="ingest-jetstream", daemon=True)

    # the writer thread's side ----------------------------------------------------------------
    def start(self) -> None:
        """Connect and start pulling in the background (reconnects by itself)."""
        self._thread.start()

    def stop(self) -> None:
        """Stop pulling; held messages stay unacked (redelivered to another instance)."""
        self.accepting = False
        for pending in list(self._acks):  # acks of written batches go out before leaving
            try:
                pending.result(timeout=5)
            except Exception:
                log.debug("an ack did not complete before stopping", exc_info=True)
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)

    def ack(self, items: Iterable[Inbound]) -> int:
        """Acknowledge written messages (sent by the client's thread, in order)."""
        with self._lock:
            msgs = [self._held.pop(i.mid) for i in items if i.mid in self._held]
            for msg in msgs:
                self._by_seq.pop(msg.metadata.sequence.stream, None)
            self.acked += len(msgs)
        if msgs and self._thread.is_alive():
            done = asyncio.run_coroutine_threadsafe(self._ack(msgs), self._loop)
            self._acks = [f for f in self._acks if not f.done()] + [done]
        return len(msgs)

    # the client's thread -----------------------------------------------------------------------
    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        except Exception:
            log.exception("the JetStream consumer stopped")
        finally:
            self._loop.close()

    async def _connect(self) -> Any:
        """Connect to any node, retrying until one answers (or stop); the client then
        reconnects by itself."""
        while True:
            try:
                return await nats.connect(
                    servers=self.urls,
                    name=f"ioc-ingest-{self.settings.instance}",
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    allow_reconnect=True,
                    connect_timeout=2,
                    error_cb=self._error,
                    disconnected_cb=self._disconnected,
                    reconnected_cb=self._reconnected,
                )
            except Exception as exc:  # no node reachable yet
                log.warning("cannot reach the bus at %s: %s; retrying", self._shown_urls(), exc)
                if self._stop.is_set():
                    raise
                await asyncio.sleep(1.0)

    def _shown_urls(self) -> str:
        from ioc.settings import redact_url

        return ",".join(redact_url(u) for u in self.urls)

    async def _main(self) -> None:
        nc = await self._connect()
        self.client = nc
        try:
            js = nc.jetstream(timeout=5)
            config = consumer_config(self.settings.ack_wait_s, self.settings.max_ack_pending)
            await ensure_consumer(js, config, self.ensure_stream, self._stop)
            sub = await js.pull_subscribe_bind(INGEST_DURABLE, MQTT_STREAM)
            self.connected.set()
            log.info("ingest %s pulling %s/%s", self.settings.instance, MQTT_STREAM, INGEST_DURABLE)
            keepalive = asyncio.ensure_future(self._keep_alive())
            while not self._stop.is_set():
                await self._pull(sub)
            keepalive.cancel()
        finally:
            self.connected.clear()
            await nc.close()  # acks already went out (stop() waited for them)

    async def _error(self, exc: Exception) -> None:
        log.debug("bus client: %s", exc)

    async def _disconnected(self) -> None:
        log.warning("disconnected from the bus; reconnecting to another node")

    async def _reconnected(self) -> None:
        log.info("reconnected to the bus")

    async def _pull(self, sub: Any) -> None:
        window = self.settings.effective_receive_maximum
        with self._lock:
            room = window - len(self._held)
        if room <= 0 or not self.accepting:
            await asyncio.sleep(0.01)
            return
        try:
            msgs = await sub.fetch(min(room, self.settings.batch_size), timeout=1.0)
        except (TimeoutError, NatsTimeout):
            return
        except nats.errors.Error as exc:  # a node gone: the client reconnects to another
            log.warning("pull failed (%s); retrying", exc)
            await asyncio.sleep(0.2)
            return
        now = time.time()
        for msg in msgs:
            self._hand_over(msg, now)

    def _hand_over(self, msg: Any, now: float) -> None:
        seq = msg.metadata.sequence.stream
        with self._lock:
            known = self._by_seq.get(seq)
            if known is not None:  # redelivered while still held here: ack the newest delivery
                self._held[known] = msg
                return
            mid = next(self._ids)
            self._held[mid] = msg
            self._by_seq[seq] = mid
        self.received += 1
        if self.accepting:
            self.sink(Inbound(subject_to_topic(msg.subject), msg.data, mid, 1, now, 1))

    async def _ack(self, msgs: list[Any]) -> None:
        for msg in msgs:
            try:
                await msg.ack()
            except Exception as exc:  # redelivered later and written again: idempotent
                log.warning("ack failed (the message will be redelivered): %s", exc)

    async def _keep_alive(self) -> None:
        """Tell the server that held messages are still being worked on (no redelivery)."""
        period = max(0.2, self.settings.ack_wait_s / 3)
        while True:
            await asyncio.sleep(period)
            with self._lock:
                held = list(self._held.values())
            for msg in held:
                try:
                    await msg.in_progress()
                except Exception:
                    log.debug("in-progress ack failed", exc_info=True)
