"""The notifier the alert engine drives: ``tick`` enqueues, ``deliver`` sends."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from alerts.notify import outbox, store
from alerts.notify.channels.base import Channel, DeliveryError, Outgoing
from alerts.notify.channels.factory import build_channel
from alerts.notify.config import CHANNELS, NotifyConfig, load_config
from alerts.notify.planner import plan
from alerts.notify.settings import NotifySetup
from alerts.notify.templates import local_zone, render
from ioc.db import FAILOVER, with_failover

log = logging.getLogger(__name__)

PURGE_EVERY_S = 3600.0
# A brief alert (fired and resolved before any message) older than this is no longer news.
BRIEF_LOOKBACK = timedelta(days=1)


class Notifier:
    """Turns alert state into outbox rows and sends them through the configured channels."""

    def __init__(self, pool: ConnectionPool, setup: NotifySetup, config: NotifyConfig) -> None:
        self.pool = pool
        self.settings = setup.notify
        self.config = config
        self.channels: dict[str, Channel] = {
            r.name: build_channel(r, setup, pool, config) for r in config.receivers
        }
        self.zone = local_zone(self.settings.timezone)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._purged_at = -PURGE_EVERY_S

    def language(self, receiver: str) -> str:
        """Message language: the receiver's, else the file's, else ``IOC_LANGUAGE``."""
        return self.config.language_of(receiver, self.settings.language)

    def tick(self, now: datetime) -> None:
        """Plan what is due at ``now`` and apply the plan (outbox rows, idempotently).

        One transaction: read the state (``store.read``, under the tick lock), plan
        (``planner.plan``, pure), apply (``store.apply``); ``deliver`` sends the rows.
        """
        slack = timedelta(seconds=self.settings.tick_slack_s)
        with self.pool.connection() as conn, conn.transaction():
            state = store.read(conn, now - BRIEF_LOOKBACK)
            if state is None:
                log.debug("another process is ticking; skipped")
                return
            found = plan(self.config, state, now, slack, self.settings.language)
            for new_id, note in store.apply(conn, found, now):
                log.info(
                    "enqueued %s notification %s to %s (%s, %d alerts)",
                    note.message.kind,
                    new_id,
                    note.message.receiver,
                    note.message.group_key,
                    len(note.message.alert_ids),
                )

    def deliver(self, now: datetime) -> int:
        """Send due outbox rows; return how many were sent."""
        sent = 0
        deadline = time.monotonic() + self.settings.deliver_budget_s
        lease = timedelta(seconds=self.settings.lease_s)
        skip: list[str] = []  # receivers that just failed: do not hammer them this round
        with self.pool.connection() as conn:
            for row_id, state in outbox.recover(conn, now, self._resend_channels()):
                log.warning("notification %s was interrupted mid-send: now %s", row_id, state)
            if time.monotonic() - self._purged_at >= PURGE_EVERY_S:
                self._purged_at = time.monotonic()
                keep = timedelta(days=self.settings.retention_days)
                purged = outbox.purge(conn, now - keep)
                if purged:
                    log.info("deleted %d finished notifications older than %s", purged, keep)
            for _ in range(self.settings.batch):
                if time.monotonic() > deadline:
                    break
                try:
                    note = outbox.claim(conn, self.owner, now, lease, skip)
                except FAILOVER as exc:  # the claim rolled back, or waits for its lease
                    log.warning("database failover while delivering; next round: %s", exc)
                    break
                if note is None:
                    break
                if self._send(conn, note, now):
                    sent += 1
                else:
                    skip.append(note.receiver)
                if conn.broken or conn.closed:
                    break  # the outcome went through a new connection; this one is dead
        return sent

    def _resend_channels(self) -> list[str]:
        policy = self.settings.resend_interrupted
        if policy == "always":
            return sorted({*CHANNELS, "unknown"})
        if policy == "never":
            return []
        return sorted({r.channel for r in self.config.receivers if self.channels[r.name].dedupes})

    def _send(self, conn: psycopg.Connection, note: outbox.Claimed, now: datetime) -> bool:
        channel = self.channels.get(note.receiver)
        if channel is None:
            reason = f"receiver {note.receiver!r} is not in IOC_ALERTS_CONFIG"
            outbox.mark_failed(conn, note, self.owner, reason)
            log.error("notification %s failed: %s", note.id, reason)
            return False
        language = str(note.payload.get("language") or self.language(note.receiver))
        outgoing = Outgoing(
            id=note.id,
            dedup_key=note.dedup_key,
            receiver=note.receiver,
            kind=note.kind,
            group_key=note.group_key,
            payload=note.payload,
            attempt=note.attempts,
            language=language,
            rendered=render(note.payload, language, self.settings.public_url, self.zone),
            public_url=self.settings.public_url,
        )
        try:
            channel.send(outgoing)
        except DeliveryError as exc:
            self._failed(conn, note, exc, now)
            return False
        except Exception as exc:  # a bug in a channel must not stop the outbox
            log.exception("notification %s: unexpected error", note.id)
            self._failed(conn, note, DeliveryError(repr(exc), retryable=True), now)
            return False
        self._record(conn, note, outbox.mark_sent)
        log.info("sent %s notification %s to %s", note.kind, note.id, note.receiver)
        return True

    def _failed(
        self, conn: psycopg.Connection, note: outbox.Claimed, exc: DeliveryError, now: datetime
    ) -> None:
        s = self.settings
        if exc.retryable and note.attempts < s.max_attempts:
            delay = outbox.backoff(
                note.attempts, s.backoff_base_s, s.backoff_max_s, exc.retry_after
            )
            when = now + timedelta(seconds=delay)
            self._record(conn, note, outbox.mark_retry, when, exc.reason)
            log.warning(
                "notification %s to %s: %s; retry %d in %.1fs",
                note.id,
                note.receiver,
                exc.reason,
                note.attempts + 1,
                delay,
            )
            return
        reason = (
            exc.reason
            if not exc.retryable
            else f"gave up after {note.attempts} attempts: {exc.reason}"
        )
        self._record(conn, note, outbox.mark_failed, reason)
        log.error("notification %s to %s failed: %s", note.id, note.receiver, reason)

    def _record(
        self, conn: psycopg.Connection, note: outbox.Claimed, mark: Callable[..., Any], *args: Any
    ) -> None:
        """Record a send's outcome. The message is out: across a database failover the row is
        marked on a new connection, for as long as our lease on it lasts (else it would be
        recovered and sent again)."""
        try:
            mark(conn, note, self.owner, *args)
        except FAILOVER as exc:
            log.warning("notification %s: recording its outcome after %s", note.id, exc)
            with_failover(
                self.pool,
                lambda fresh: mark(fresh, note, self.owner, *args),
                self.settings.lease_s,
                what=f"recording notification {note.id}",
            )

    def close(self) -> None:
        """Release channel resources (the pool belongs to the caller)."""
        for channel in self.channels.values():
            channel.close()


def build_notifier(pool: ConnectionPool, setup: NotifySetup) -> Notifier:
    """Build a notifier from its settings on the caller's pool (routes file read here)."""
    return Notifier(pool, setup, load_config(setup.notify.alerts_config))
