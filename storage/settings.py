"""Settings of the storage jobs and reports: one class per job (``IOC_RETENTION_*``,
``IOC_ROLLUP_*``, ``IOC_AVAILABILITY_*``) and the reports (``IOC_REPORT_*``).

The entry point builds the four and passes them down together as a ``StorageSetup``, resolved
against the core settings by ``storage.jobs.resolve``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from ioc.errors import ConfigError
from ioc.settings import AreaSettings, env_config


class RetentionSettings(AreaSettings):
    """Retention per resolution, partitions kept ahead and compression of raw chunks."""

    model_config = env_config("IOC_RETENTION_")

    raw_days: int | None = Field(
        None,
        ge=1,
        description="Days of raw telemetry kept (whole daily partitions are dropped); "
        "default IOC_RAW_RETENTION_DAYS, which is also the oldest reading ingest accepts.",
    )
    # A field name cannot start with a digit: these two keep their variables by alias.
    five_minute_days: int = Field(
        366,
        ge=1,
        validation_alias="IOC_RETENTION_5M_DAYS",
        description="Days of 5-minute rollups kept.",
    )
    hourly_days: int = Field(
        1830,
        ge=1,
        validation_alias="IOC_RETENTION_1H_DAYS",
        description="Days of hourly rollups kept.",
    )
    events_days: int = Field(365, ge=1, description="Days of device events kept.")
    quarantine_days: int = Field(90, ge=1, description="Days of quarantined messages kept.")
    status_days: int = Field(
        1830,
        ge=1,
        description="Days of status and reachability changes kept (availability needs them).",
    )
    availability_days: int = Field(1830, ge=1, description="Days of daily availability rows kept.")
    interval_s: float = Field(
        3600, gt=0, description="Seconds between retention and partition runs."
    )
    lock_timeout_s: float = Field(
        5, gt=0, description="Longest wait for a table lock when detaching a partition."
    )
    # Variables without the area word keep their names.
    partitions_ahead_days: int | None = Field(
        None,
        ge=1,
        validation_alias="IOC_PARTITIONS_AHEAD_DAYS",
        description="Daily partitions kept ready ahead; default IOC_PARTITION_DAYS_AHEAD.",
    )
    compress_after_days: int = Field(
        2,
        ge=1,
        validation_alias="IOC_COMPRESS_AFTER_DAYS",
        description="TimescaleDB: compress raw chunks older than this.",
    )


class RollupSettings(AreaSettings):
    """When the 5-minute and hourly rollups are refreshed."""

    model_config = env_config("IOC_ROLLUP_")

    interval_s: float = Field(60, gt=0, description="Seconds between rollup refreshes.")
    lag_s: float = Field(
        60,
        ge=0,
        description="A bucket is materialized this long after it closes (later data is "
        "re-aggregated as late data).",
    )
    batch_hours: int = Field(
        24, ge=1, description="Hours of raw data aggregated per transaction when catching up."
    )


class AvailabilitySettings(AreaSettings):
    """When and how the daily availability rows are computed."""

    model_config = env_config("IOC_AVAILABILITY_")

    interval_s: float = Field(
        300, gt=0, description="Seconds between refreshes of today's availability rows."
    )
    recompute_days: int = Field(
        2, ge=0, description="Past days recomputed on every availability run (late data)."
    )
    gap_factor: float = Field(
        3,
        gt=1,
        description="A device silent for more than this many report intervals counts as "
        "offline from its first missed report.",
    )


class ReportSettings(AreaSettings):
    """Options of the availability reports."""

    model_config = env_config("IOC_REPORT_")

    timezone: str = Field("Asia/Ho_Chi_Minh", description="Time zone of report days and months.")
    worst_devices: int = Field(10, ge=1, description="Devices listed as the worst.")


@dataclass(frozen=True)
class StorageSetup:
    """Everything the storage jobs and reports read from the environment."""

    retention: RetentionSettings
    rollup: RollupSettings
    availability: AvailabilitySettings
    report: ReportSettings

    @property
    def raw_days(self) -> int:
        """Days of raw telemetry kept, once resolved against the core settings (jobs.resolve)."""
        if self.retention.raw_days is None:
            raise ConfigError(
                "storage settings used before storage.jobs.resolve() filled the raw retention "
                "(IOC_RETENTION_RAW_DAYS, default IOC_RAW_RETENTION_DAYS)"
            )
        return self.retention.raw_days
