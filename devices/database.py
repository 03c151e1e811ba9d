"""Bring a database to a usable state: migrations, then the device catalogue, then partitions.

The one sequence behind ``ioc migrate``, ``ioc demo``, the test plugin and the bench scripts.
It lives in ``devices`` (not the core) because the catalogue is the registry's.
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.store import sync_catalogue
from ioc import migrate
from ioc.db import connect
from ioc.settings import Settings


@dataclass(frozen=True)
class Prepared:
    """What ``prepare_database`` did."""

    created_database: bool
    applied: list[str]
    partitions: int


def prepare_database(url: str, *, back_days: int, ahead_days: int, create: bool = True) -> Prepared:
    """Create the database (``create``), migrate, sync the catalogue, create daily partitions."""
    created = migrate.create_database_if_missing(url) if create else False
    applied = migrate.apply(url)
    with connect(url) as conn:
        sync_catalogue(conn)
        partitions = migrate.ensure_partitions(conn, back_days, ahead_days)
        conn.commit()
    return Prepared(created, applied, partitions)


def prepare_for(settings: Settings) -> Prepared:
    """``prepare_database`` with the settings' URL, raw retention and partitions ahead."""
    return prepare_database(
        settings.database_url,
        back_days=settings.raw_retention_days + 1,
        ahead_days=settings.partition_days_ahead,
    )
