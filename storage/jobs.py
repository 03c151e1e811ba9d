"""The maintenance jobs (rollups, retention and partitions, availability) and their schedule."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from ioc.db import connect
from ioc.settings import Settings
from storage import daily, policies, retention, rollups
from storage.settings import StorageSettings

log = logging.getLogger(__name__)


def resolve(settings: Settings, storage: StorageSettings) -> StorageSettings:
    """Fill the storage settings that default to shared ones (raw retention, partitions)."""
    return storage.model_copy(
        update={
            "retention_raw_days": storage.retention_raw_days or settings.raw_retention_days,
            "partitions_ahead_days": storage.partitions_ahead_days or settings.partition_days_ahead,
        }
    )


def run_rollups(url: str, storage: StorageSettings) -> Any:
    """One rollup refresh on a fresh autocommit connection."""
    with connect(url, autocommit=True) as conn:
        return rollups.refresh(conn, storage)


def run_retention(url: str, storage: StorageSettings) -> Any:
    """One retention and partition run."""
    with connect(url, autocommit=True) as conn:
        return retention.run(conn, storage)


def run_availability(url: str, storage: StorageSettings) -> Any:
    """Recompute today's (partial) and recent days' availability rows."""
    with connect(url, autocommit=True) as conn:
        return daily.refresh(conn, storage)


def apply_policies(url: str, storage: StorageSettings) -> policies.PolicyResult | None:
    """On TimescaleDB install or update the policies from the settings (None: plain path)."""
    with connect(url, autocommit=True) as conn:
        if not rollups.is_timescale(conn):
            return None
        return policies.apply_timescale_policies(conn, storage)


JOBS: dict[str, tuple[Callable[[str, StorageSettings], Any], str]] = {
    "retention": (run_retention, "retention_interval_s"),
    "rollups": (run_rollups, "rollup_interval_s"),
    "availability": (run_availability, "availability_interval_s"),
}


def _guarded(name: str, job: Callable[[str, StorageSettings], Any]) -> Callable[..., None]:
    def run(url: str, storage: StorageSettings) -> None:
        try:
            log.info("%s: %s", name, job(url, storage))
        except Exception:
            log.exception("%s job failed; retried at its next run", name)

    return run


def build_scheduler(url: str, storage: StorageSettings) -> BackgroundScheduler:
    """A background scheduler running every job at its interval, one instance at a time."""
    scheduler = BackgroundScheduler(timezone="UTC")
    for name, (job, interval_attr) in JOBS.items():
        scheduler.add_job(
            _guarded(name, job),
            "interval",
            seconds=getattr(storage, interval_attr),
            args=(url, storage),
            id=name,
            max_instances=1,
            coalesce=True,
        )
    return scheduler
