"""The ingest service: MQTT consumer → batching writer thread → PostgreSQL, then acks.

Threads: paho's network loop (enqueue only), one writer (decode, write, commit, ack in receive
order) and one housekeeper (heartbeat row, partitions). ``IngestService`` is usable in-process by
tests, benchmarks and ``ioc demo``; ``ioc ingest`` wraps it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import psycopg
from prometheus_client import start_http_server
from tenacity import RetryCallState, RetryError, Retrying, retry_if_exception_type, wait_exponential

from ingest.budget import QuarantineBudget
from ingest.decode import Decoded, Limits, decode, undecodable, under_root
from ingest.isolate import write_isolating
from ingest.mqtt import Consumer, Inbound
from ingest.reasons import Reason, Rejected
from ingest.registry import RegistryView, load_device, load_view
from ingest.settings import IngestSettings
from ingest.source import make_source
from ingest.stats import Stats
from ingest.takeover import Takeovers
from ingest.writer import Item, WriteResult, prepare, write_items
from ioc.contract import parse_topic
from ioc.db import FAILOVER, connect
from ioc.migrate import ensure_partitions
from ioc.settings import Settings

log = logging.getLogger(__name__)

# Database lookups of unknown device ids per batch (a flood of random ids stays cheap).
MAX_LOOKUPS_PER_BATCH = 50

# Errors after which the same batch is retried on a fresh connection (never acked meanwhile):
# the server went away or is no longer the primary (ioc.db.FAILOVER, e.g. 25006 read-only).
TRANSIENT = FAILOVER


class IngestService:
    """One ingest process: ``start()`` returns once consuming; ``stop()`` flushes and leaves."""

    def __init__(self, settings: Settings, ingest: IngestSettings) -> None:
        self.settings = settings
        self.ingest = ingest
        self.limits = Limits(
            ingest.max_payload_bytes, ingest.max_future_s, settings.raw_retention_days
        )
        self.stats = Stats(ingest.instance, ingest.group, ingest.client_id)
        self.budget = QuarantineBudget(ingest.quarantine_budget, ingest.quarantine_budget_window_s)
        self.queue: queue.SimpleQueue[Inbound] = queue.SimpleQueue()
        self.consumer = make_source(settings, ingest, self.queue.put_nowait)
        self._closing = threading.Event()  # drain the queue, then stop writing
        self._halt = threading.Event()  # stop now (abandon retries; nothing is acked)
        self._conn: psycopg.Connection | None = None
        self._view = RegistryView({}, {}, {})
        self._refreshed_at = 0.0
        self._unknown: dict[str, float] = {}  # unknown device id -> monotonic time of lookup
        self._lookups_left = MAX_LOOKUPS_PER_BATCH
        self._threads: list[threading.Thread] = []
        # On the bus every instance pulls from one durable consumer: nothing to take over.
        mqtt = self.consumer if isinstance(self.consumer, Consumer) else None
        self.takeovers = Takeovers(
            settings.database_url, mqtt, ingest, self.queue.put_nowait, self._closing
        )
        self._http: Any = None

    # lifecycle -----------------------------------------------------------------------------
    def start(self, consume: bool = True) -> IngestService:
        """Load the registry, prepare partitions and start consuming (raises if no database);
        without ``consume`` only the writer runs (for ``drain``)."""
        self._refresh_registry()
        with connect(self.settings.database_url) as conn:
            self._housekeep(conn, partitions=True)
        if self.ingest.metrics_port:
            self._http = start_http_server(
                self.ingest.metrics_port, self.ingest.metrics_host, registry=self.stats.registry
            )
        for target, name in ((self._run_writer, "writer"), (self._run_housekeeper, "housekeeper")):
            thread = threading.Thread(target=target, name=f"ingest-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        if not consume:
            return self
        self.consumer.start()
        log.info(
            "ingest %s consuming %s (batch %d / %.3fs, receive maximum %d)",
            self.ingest.instance,
            self.ingest.subscription if self.settings.bus == "mosquitto" else "the bus",
            self.ingest.batch_size,
            self.ingest.batch_max_wait_s,
            self.ingest.effective_receive_maximum,
        )
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Write and ack what was received, then disconnect (unwritten messages stay unacked)."""
        self.consumer.accepting = False
        self._closing.set()
        self.takeovers.join(timeout)  # a drain stops at once; its session stays for later
        writer = self._threads[0] if self._threads else None
        if writer is not None:
            writer.join(timeout)
        self._halt.set()
        self.consumer.stop()
        for thread in self._threads:
            thread.join(timeout)
        if self._http is not None:
            self._http[0].shutdown()
        if self._conn is not None:
            self._conn.close()
        log.info("ingest %s stopped", self.ingest.instance)

    def __enter__(self) -> IngestService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # writer ----------------------------------------------------------------------------------
    def _run_writer(self) -> None:
        while not self._halt.is_set():
            batch = self._collect()
            if batch:
                try:
                    self._process(batch)
                except Exception:  # never let the writer die; the batch stays unacked
                    log.exception("unexpected error writing a batch of %d", len(batch))
                    self._halt.wait(1.0)
            elif self._closing.is_set():
                return

    def _collect(self) -> list[Inbound]:
        try:
            first = self.queue.get(timeout=0.1)
        except queue.Empty:
            return []
        batch = [first]
        size = self.ingest.batch_size
        deadline = first.received + self.ingest.batch_max_wait_s
        get_nowait = self.queue.get_nowait
        while len(batch) < size:
            try:
                batch.append(get_nowait())
                continue
            except queue.Empty:
                pass
            remaining = deadline - time.time()
            if remaining <= 0 or self._closing.is_set():
                break
            try:
                batch.append(self.queue.get(timeout=remaining))
            except queue.Empty:
                break
        return batch

    def _process(self, batch: list[Inbound]) -> None:
        started = time.time()
        if started - self._refreshed_at > self.ingest.registry_refresh_s:
            self._refresh_registry(quiet=True)
        self._lookups_left = MAX_LOOKUPS_PER_BATCH
        decoded = [self._decode(m) for m in batch]
        items = [i for i in decoded if i is not None and self._within_budget(i)]
        result = self._write_with_retry(items)
        if result is None:
            return  # halted during a database outage: nothing acked, the broker redelivers
        self.consumer.ack(batch)
        self.takeovers.ack(batch)
        done = time.time()
        self.stats.batch_done(
            received=len(items),  # messages under the topic root
            rows=result.rows,
            duplicates=result.duplicates,
            quarantined=result.quarantined,
            batch_s=done - started,
            lag_s=done - batch[0].received,
        )

    def _within_budget(self, item: Item) -> bool:
        """False for a rejected message beyond its device's quarantine budget (counted)."""
        res = item.result
        if not isinstance(res, Rejected) or self.budget.admit(res.device_id):
            return True
        self.stats.beyond_budget(res.reason.value)
        return False

    def _decode(self, msg: Inbound) -> Item | None:
        """The message judged, or None for a topic outside the contract's root (not ours)."""
        received_at = datetime.fromtimestamp(msg.received, UTC)
        prefix = self.ingest.topic_prefix
        result: Decoded | Rejected
        try:
            result = decode(msg.topic, msg.payload, received_at, self._view, self.limits, prefix)
            if (
                isinstance(result, Rejected)
                and result.reason is Reason.UNKNOWN_DEVICE
                and self._lookup_device(msg.topic)
            ):
                result = decode(
                    msg.topic, msg.payload, received_at, self._view, self.limits, prefix
                )
        except Exception as exc:  # whatever judging one message raises costs only that message
            log.warning("message on %.200s could not be judged: %r", msg.topic, exc)
            result = undecodable(exc)
        if (
            isinstance(result, Rejected)
            and result.reason is Reason.BAD_TOPIC
            and not under_root(msg.topic, prefix)
        ):
            self.stats.ignore()
            return None
        return Item(msg.topic, msg.payload, received_at, result)

    def _lookup_device(self, topic: str) -> bool:
        """Look an unknown device up (rate limited per id and per batch); True if found."""
        parts = parse_topic(topic, self.ingest.topic_prefix)
        if parts is None or self._lookups_left <= 0:
            return False
        device_id = parts[1]
        now = time.monotonic()
        if now - self._unknown.get(device_id, -1e9) < self.ingest.unknown_refresh_min_s:
            return False
        self._lookups_left -= 1
        try:
            info = load_device(self._connection(), device_id)
        except Exception as exc:  # transient, or an id the database cannot even compare
            self._drop_connection()
            log.warning("device lookup of %.64r failed: %s", device_id, exc)
            return False
        if info is None:
            if len(self._unknown) > 100_000:
                self._unknown.clear()
            self._unknown[device_id] = now
            return False
        self._unknown.pop(device_id, None)
        self._view.devices[device_id] = info
        return True

    def _refresh_registry(self, quiet: bool = False) -> bool:
        self._refreshed_at = time.time()
        try:
            self._view = load_view(self._connection())
            return True
        except TRANSIENT as exc:
            self._drop_connection()
            if not quiet:
                raise
            log.warning("registry refresh failed (keeping the cached one): %s", exc)
            return False

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = connect(self.settings.database_url)
            prepare(self._conn)
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                log.debug("closing a broken connection failed", exc_info=True)
        self._conn = None

    def _write_with_retry(self, items: list[Item]) -> WriteResult | None:
        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "database unavailable, batch of %d not acknowledged; retry %d in %.1fs: %s",
                len(items),
                state.attempt_number,
                state.upcoming_sleep,
                exc,
            )

        retrying = Retrying(
            retry=retry_if_exception_type(TRANSIENT),
            wait=wait_exponential(multiplier=0.1, max=self.ingest.retry_max_s),
            stop=lambda _state: self._halt.is_set(),
            sleep=self._sleep,
            before_sleep=before_sleep,
        )
        try:
            return retrying(self._write_once, items)
        except RetryError:
            return None

    def _sleep(self, seconds: float) -> None:
        self._halt.wait(seconds)

    def _write_once(self, items: list[Item]) -> WriteResult:
        conn = self._connection()
        try:
            try:
                result = write_items(
                    conn,
                    items,
                    seq_hold_s=self.ingest.seq_gap_hold_s,
                    latest_ahead_s=self.ingest.latest_max_ahead_s,
                )
                conn.commit()
                return result
            except TRANSIENT:
                raise
            except Exception as exc:  # poison: isolate the message(s) the database refuses
                log.warning("batch of %d failed (%s); writing messages one by one", len(items), exc)
                conn.rollback()
                return self._write_each(conn, items)
        except TRANSIENT:
            # Always a new connection: this one may be broken, or alive on a demoted primary.
            self._drop_connection()
            raise

    def _write_each(self, conn: psycopg.Connection, items: list[Item]) -> WriteResult:
        with conn.transaction():
            return write_isolating(
                conn,
                items,
                TRANSIENT,
                seq_hold_s=self.ingest.seq_gap_hold_s,
                latest_ahead_s=self.ingest.latest_max_ahead_s,
            )

    # housekeeping ----------------------------------------------------------------------------
    def _run_housekeeper(self) -> None:
        conn: psycopg.Connection | None = None
        next_partitions = time.monotonic() + self.ingest.partitions_interval_s
        next_takeover = time.monotonic() + self.ingest.takeover_check_s
        while not self._halt.wait(self.ingest.heartbeat_s):
            try:
                if conn is None or conn.closed or conn.broken:
                    conn = connect(self.settings.database_url)
                due = time.monotonic() >= next_partitions
                self._housekeep(conn, partitions=due)
                self.takeovers.beating()
                if due:
                    next_partitions = time.monotonic() + self.ingest.partitions_interval_s
                if time.monotonic() >= next_takeover:
                    next_takeover = time.monotonic() + self.ingest.takeover_check_s
                    self.takeovers.check()
            except TRANSIENT as exc:
                self.takeovers.beating(False)
                log.warning("heartbeat failed: %s", exc)
                if conn is not None:
                    conn.close()
                conn = None
            except Exception:
                log.exception("housekeeping failed")
        if conn is not None:
            try:
                self.stats.heartbeat(conn, stopping=True)
            except Exception:
                log.debug("last heartbeat failed", exc_info=True)
            conn.close()

    def retire(self, name: str) -> int:
        """``ioc ingest retire NAME``: drain and end instance NAME's session, mark it retired."""
        return self.takeovers.retire(name)

    def _housekeep(self, conn: psycopg.Connection, *, partitions: bool) -> None:
        if partitions:
            created = ensure_partitions(
                conn, self.settings.raw_retention_days + 1, self.settings.partition_days_ahead
            )
            conn.commit()
            if created:
                log.info("created %d partition(s)", created)
        self.stats.heartbeat(conn)

    def quarantined(self) -> Counter[str]:
        """Messages quarantined so far by this process, by reason."""
        with self.stats.lock:
            return Counter(self.stats.quarantined)
