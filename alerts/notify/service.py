"""The notifier the alert engine drives: ``tick`` enqueues, ``deliver`` sends."""

from __future__ import annotations

import logging
from datetime import datetime

from psycopg_pool import ConnectionPool

from alerts.notify.settings import NotifySettings

log = logging.getLogger(__name__)


class Notifier:
    """Turns alert state into outbox rows and sends them through the configured channels."""

    def __init__(self, pool: ConnectionPool, settings: NotifySettings) -> None:
        self.pool = pool
        self.settings = settings

    def tick(self, now: datetime) -> None:
        """Compute what must be sent at ``now`` and enqueue outbox rows idempotently."""

    def deliver(self, now: datetime) -> int:
        """Send due outbox rows; return how many were sent."""
        return 0

    def close(self) -> None:
        """Release channel resources (the pool belongs to the caller)."""


def build_notifier(pool: ConnectionPool, settings: NotifySettings | None = None) -> Notifier:
    """Build a notifier from ``IOC_*`` settings (or the given ones) on the caller's pool."""
    return Notifier(pool, settings or NotifySettings())
