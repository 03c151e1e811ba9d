"""Settings of the storage jobs and reports (``IOC_RETENTION_*``, ``IOC_ROLLUP_*``, ...)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from ioc.errors import ConfigError
from ioc.settings import ENV_CONFIG


class StorageSettings(BaseSettings):
    """Retention per resolution, rollup and availability job timing, report options."""

    model_config = ENV_CONFIG

    retention_raw_days: int | None = Field(
        None,
        ge=1,
        description="Days of raw telemetry kept (whole daily partitions are dropped); "
        "default IOC_RAW_RETENTION_DAYS, which is also the oldest reading ingest accepts.",
    )
    retention_5m_days: int = Field(366, ge=1, description="Days of 5-minute rollups kept.")
    retention_1h_days: int = Field(1830, ge=1, description="Days of hourly rollups kept.")
    retention_events_days: int = Field(365, ge=1, description="Days of device events kept.")
    retention_quarantine_days: int = Field(
        90, ge=1, description="Days of quarantined messages kept."
    )
    retention_status_days: int = Field(
        1830,
        ge=1,
        description="Days of status and reachability changes kept (availability needs them).",
    )
    retention_availability_days: int = Field(
        1830, ge=1, description="Days of daily availability rows kept."
    )
    retention_interval_s: float = Field(
        3600, gt=0, description="Seconds between retention and partition runs."
    )
    retention_lock_timeout_s: float = Field(
        5, gt=0, description="Longest wait for a table lock when detaching a partition."
    )
    partitions_ahead_days: int | None = Field(
        None,
        ge=1,
        description="Daily partitions kept ready ahead; default IOC_PARTITION_DAYS_AHEAD.",
    )
    rollup_interval_s: float = Field(60, gt=0, description="Seconds between rollup refreshes.")
    rollup_lag_s: float = Field(
        60,
        ge=0,
        description="A bucket is materialized this long after it closes (later data is "
        "re-aggregated as late data).",
    )
    rollup_batch_hours: int = Field(
        24, ge=1, description="Hours of raw data aggregated per transaction when catching up."
    )
    compress_after_days: int = Field(
        2, ge=1, description="TimescaleDB: compress raw chunks older than this."
    )
    availability_interval_s: float = Field(
        300, gt=0, description="Seconds between refreshes of today's availability rows."
    )
    availability_recompute_days: int = Field(
        2, ge=0, description="Past days recomputed on every availability run (late data)."
    )
    availability_gap_factor: float = Field(
        3,
        gt=1,
        description="A device silent for more than this many report intervals counts as "
        "offline from its first missed report.",
    )
    report_timezone: str = Field(
        "Asia/Ho_Chi_Minh", description="Time zone of report days and months."
    )
    report_worst_devices: int = Field(10, ge=1, description="Devices listed as the worst.")

    @property
    def raw_days(self) -> int:
        """Days of raw telemetry kept, once resolved against the core settings (jobs.resolve)."""
        if self.retention_raw_days is None:
            raise ConfigError(
                "storage settings used before storage.jobs.resolve() filled the raw retention "
                "(IOC_RETENTION_RAW_DAYS, default IOC_RAW_RETENTION_DAYS)"
            )
        return self.retention_raw_days
