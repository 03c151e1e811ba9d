"""The notifier the alert engine drives: ``tick`` enqueues, ``deliver`` sends."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from alerts.notify import outbox, store
from alerts.notify.channels.base import Channel, DeliveryError, Outgoing
from alerts.notify.channels.factory import build_channel
from alerts.notify.config import NotifyConfig, load_config
from alerts.notify.planner import Message, escalation_group, plan_escalations, plan_flushes
from alerts.notify.settings import NotifySettings
from alerts.notify.templates import local_zone, render
from ioc.db import FAILOVER, with_failover

log = logging.getLogger(__name__)

PURGE_EVERY_S = 3600.0
# A brief alert (fired and resolved before any message) older than this is no longer news.
BRIEF_LOOKBACK = timedelta(days=1)


class Notifier:
    """Turns alert state into outbox rows and sends them through the configured channels."""

    def __init__(
        self, pool: ConnectionPool, settings: NotifySettings, config: NotifyConfig
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.config = config
        self.channels: dict[str, Channel] = {
            r.name: build_channel(r, settings, pool, config) for r in config.receivers
        }
        self.zone = local_zone(settings.timezone)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._purged_at = -PURGE_EVERY_S

    def language(self, receiver: str) -> str:
        """Message language: the receiver's, else the file's, else ``IOC_LANGUAGE``."""
        found = self.config.receiver(receiver)
        return (found and found.language) or self.config.language or self.settings.language

    def tick(self, now: datetime) -> None:
        """Compute what must be sent at ``now`` and enqueue outbox rows idempotently."""
        with self.pool.connection() as conn, conn.transaction():
            if not store.try_tick_lock(conn):
                log.debug("another process is ticking; skipped")
                return
            groups = store.load_groups(conn)
            carried: set[int] = set().union(*(g.alert_ids for g in groups.values()))
            brief_since = now - BRIEF_LOOKBACK
            alerts = store.load_alerts(conn, carried, brief_since)
            slack = timedelta(seconds=self.settings.notify_tick_slack_s)
            messages, updated = plan_flushes(self.config, alerts, groups, now, slack)
            for state in updated.values():
                store.save_group(conn, state)
            for message in messages:
                self._enqueue(
                    conn, message, updated[(message.route, message.group_key)].flushes, now
                )
                store.mark_notified(conn, message.alert_ids, now)
            groups.update(updated)
            for message in plan_escalations(self.config, alerts, groups, now):
                ids = set(store.escalate(conn, message, now))
                if not ids:
                    continue
                message = replace(message, firing=[a for a in message.firing if a.id in ids])
                # The escalation receiver gets its own group, so the resolution reaches it too.
                state = escalation_group(message, groups, now)
                groups[(state.route, state.group_key)] = state
                store.save_group(conn, state)
                self._enqueue(conn, replace(message, group_key=state.group_key), 0, now)

    def _enqueue(self, conn: psycopg.Connection, message: Message, seq: int, now: datetime) -> None:
        receiver = self.config.receiver(message.receiver)
        new_id = store.enqueue(
            conn,
            message,
            channel=receiver.channel if receiver else "unknown",
            language=self.language(message.receiver),
            seq=seq,
            now=now,
        )
        if new_id is not None:
            log.info(
                "enqueued %s notification %s to %s (%s, %d alerts)",
                message.kind,
                new_id,
                message.receiver,
                message.group_key,
                len(message.alert_ids),
            )

    def deliver(self, now: datetime) -> int:
        """Send due outbox rows; return how many were sent."""
        sent = 0
        deadline = time.monotonic() + self.settings.notify_deliver_budget_s
        lease = timedelta(seconds=self.settings.notify_lease_s)
        skip: list[str] = []  # receivers that just failed: do not hammer them this round
        with self.pool.connection() as conn:
            for row_id, state in outbox.recover(conn, now, self._resend_channels()):
                log.warning("notification %s was interrupted mid-send: now %s", row_id, state)
            if time.monotonic() - self._purged_at >= PURGE_EVERY_S:
                self._purged_at = time.monotonic()
                keep = timedelta(days=self.settings.notify_retention_days)
                purged = outbox.purge(conn, now - keep)
                if purged:
                    log.info("deleted %d finished notifications older than %s", purged, keep)
            for _ in range(self.settings.notify_batch):
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
        policy = self.settings.notify_resend_interrupted
        kinds = {"webhook", "email", "telegram", "console", "zalo", "unknown"}
        if policy == "always":
            return sorted(kinds)
        if policy == "never":
            return []
        return sorted({c.kind for c in self.channels.values() if c.dedupes})

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
        if exc.retryable and note.attempts < s.notify_max_attempts:
            delay = outbox.backoff(
                note.attempts, s.notify_backoff_base_s, s.notify_backoff_max_s, exc.retry_after
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
                self.settings.notify_lease_s,
                what=f"recording notification {note.id}",
            )

    def close(self) -> None:
        """Release channel resources (the pool belongs to the caller)."""
        for channel in self.channels.values():
            channel.close()


def build_notifier(pool: ConnectionPool, settings: NotifySettings) -> Notifier:
    """Build a notifier from its settings on the caller's pool (routes file read here)."""
    return Notifier(pool, settings, load_config(settings.alerts_config))
