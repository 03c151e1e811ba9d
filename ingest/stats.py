"""Counters of one ingest process: Prometheus metrics and the `ingest_instances` heartbeat."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import psycopg
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client import Counter as PromCounter

UPSERT_INSTANCE = """
INSERT INTO ingest_instances (instance, started_at, heartbeat_at, received, written_rows,
    duplicates, quarantined, last_commit_at, last_batch_ms, lag_ms, mqtt_group, client_id,
    stopped_at)
VALUES (%(instance)s, %(started_at)s, now(), %(received)s, %(written_rows)s, %(duplicates)s,
    %(quarantined)s, %(last_commit_at)s, %(last_batch_ms)s, %(lag_ms)s, %(group)s, %(client_id)s,
    CASE WHEN %(stopping)s THEN now() END)
ON CONFLICT (instance) DO UPDATE SET started_at = excluded.started_at,
    mqtt_group = excluded.mqtt_group, client_id = excluded.client_id, retired_at = NULL,
    stopped_at = excluded.stopped_at,
    heartbeat_at = excluded.heartbeat_at, received = excluded.received,
    written_rows = excluded.written_rows, duplicates = excluded.duplicates,
    quarantined = excluded.quarantined, last_commit_at = excluded.last_commit_at,
    last_batch_ms = excluded.last_batch_ms, lag_ms = excluded.lag_ms
"""


class Stats:
    """Thread-safe counters, mirrored into a Prometheus registry of this service."""

    def __init__(
        self, instance: str, group: str | None = None, client_id: str | None = None
    ) -> None:
        self.instance = instance
        self.group = group
        self.client_id = client_id
        self.started_at = datetime.now(UTC)
        self.lock = threading.Lock()
        self.received = 0
        self.written_rows = 0
        self.duplicates = 0
        self.quarantined: Counter[str] = Counter()
        self.ignored = 0  # messages on topics outside the contract's root
        self.last_commit_at: datetime | None = None
        self.last_batch_ms: float | None = None
        self.lag_ms: float | None = None
        self.registry = CollectorRegistry()
        self._received = PromCounter(
            "ioc_ingest_received", "MQTT messages received", registry=self.registry
        )
        self._rows = PromCounter(
            "ioc_ingest_written_rows",
            "Telemetry points and events inserted",
            registry=self.registry,
        )
        self._dups = PromCounter(
            "ioc_ingest_duplicates",
            "Rows that already existed (redelivered messages)",
            registry=self.registry,
        )
        self._quarantined = PromCounter(
            "ioc_ingest_quarantined",
            "Messages quarantined, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.over_budget: Counter[str] = Counter()
        self._over_budget = PromCounter(
            "ioc_ingest_quarantine_over_budget",
            "Rejected messages not stored: their device's quarantine budget was spent",
            ["reason"],
            registry=self.registry,
        )
        self._ignored = PromCounter(
            "ioc_ingest_ignored",
            "Messages on topics outside the topic root (other applications' traffic)",
            registry=self.registry,
        )
        self._batch = Histogram(
            "ioc_ingest_batch_seconds",
            "Batch write + commit latency",
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )

    def batch_done(
        self,
        *,
        received: int,
        rows: int,
        duplicates: int,
        quarantined: Counter[str],
        batch_s: float,
        lag_s: float,
    ) -> None:
        """Record one committed batch."""
        with self.lock:
            self.received += received
            self.written_rows += rows
            self.duplicates += duplicates
            self.quarantined.update(quarantined)
            self.last_commit_at = datetime.now(UTC)
            self.last_batch_ms = batch_s * 1000
            self.lag_ms = lag_s * 1000
        self._received.inc(received)
        self._rows.inc(rows)
        self._dups.inc(duplicates)
        for reason, n in quarantined.items():
            self._quarantined.labels(reason).inc(n)
        self._batch.observe(batch_s)

    def snapshot(self) -> dict[str, Any]:
        """The counters as parameters of the heartbeat upsert."""
        with self.lock:
            return {
                "instance": self.instance,
                "group": self.group,
                "client_id": self.client_id,
                "started_at": self.started_at,
                "received": self.received,
                "written_rows": self.written_rows,
                "duplicates": self.duplicates,
                "quarantined": sum(self.quarantined.values()),
                "last_commit_at": self.last_commit_at,
                "last_batch_ms": self.last_batch_ms,
                "lag_ms": self.lag_ms,
            }

    def beyond_budget(self, reason: str) -> None:
        """Count one rejected message not stored (its device's quarantine budget is spent)."""
        with self.lock:
            self.over_budget[reason] += 1
        self._over_budget.labels(reason).inc()

    def ignore(self) -> None:
        """Count one message that is not ingest's business (another root)."""
        self.ignored += 1
        self._ignored.inc()

    def heartbeat(self, conn: psycopg.Connection, stopping: bool = False) -> None:
        """Write this instance's row of `ingest_instances` and commit (``stopping``: the last
        one of a clean stop)."""
        conn.execute(UPSERT_INSTANCE, {**self.snapshot(), "stopping": stopping})
        conn.commit()
