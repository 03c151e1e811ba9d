"""The maintenance jobs (rollups, retention and partitions, availability) and their schedule."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from ioc.db import connect
from ioc.settings import Settings
from storage import daily, policies, retention, rollups
from storage.settings import StorageSetup

log = logging.getLogger(__name__)


def resolve(settings: Settings, storage: StorageSetup) -> StorageSetup:
    """Fill the storage settings that default to shared ones (raw retention, partitions)."""
    kept = storage.retention
    retention = kept.model_copy(
        update={
            "raw_days": kept.raw_days or settings.raw_retention_days,
            "partitions_ahead_days": kept.partitions_ahead_days or settings.partition_days_ahead,
        }
    )
    return replace(storage, retention=retention)


def run_rollups(url: str, storage: StorageSetup) -> Any:
    """One rollup refresh on a fresh autocommit connection."""
    with connect(url, autocommit=True) as conn:
        return rollups.refresh(conn, storage)


def run_retention(url: str, storage: StorageSetup) -> Any:
    """One retention and partition run."""
    with connect(url, autocommit=True) as conn:
        return retention.run(conn, storage)


def run_availability(url: str, storage: StorageSetup) -> Any:
    """Recompute today's (partial) and recent days' availability rows."""
    with connect(url, autocommit=True) as conn:
        return daily.refresh(conn, storage)


def apply_policies(url: str, storage: StorageSetup) -> policies.PolicyResult | None:
    """On TimescaleDB install or update the policies from the settings (None: plain path)."""
    with connect(url, autocommit=True) as conn:
        if not rollups.is_timescale(conn):
            return None
        return policies.apply_timescale_policies(conn, storage)


JOBS: dict[str, tuple[Callable[[str, StorageSetup], Any], Callable[[StorageSetup], float]]] = {
    "retention": (run_retention, lambda s: s.retention.interval_s),
    "rollups": (run_rollups, lambda s: s.rollup.interval_s),
    "availability": (run_availability, lambda s: s.availability.interval_s),
}


def _guarded(name: str, job: Callable[[str, StorageSetup], Any]) -> Callable[..., None]:
    def run(url: str, storage: StorageSetup) -> None:
        try:
            log.info("%s: %s", name, job(url, storage))
        except Exception:
            log.exception("%s job failed; retried at its next run", name)

    return run


def build_scheduler(url: str, storage: StorageSetup) -> BackgroundScheduler:
    """A background scheduler running every job at its interval, one instance at a time."""
    scheduler = BackgroundScheduler(timezone="UTC")
    for name, (job, interval_of) in JOBS.items():
        scheduler.add_job(
            _guarded(name, job),
            "interval",
            seconds=interval_of(storage),
            args=(url, storage),
            id=name,
            max_instances=1,
            coalesce=True,
        )
    return scheduler
