"""Collector settings (``IOC_COLLECTOR_*``), built in ``main()`` and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings

from ioc.settings import ENV_CONFIG


class CollectorSettings(BaseSettings):
    """Where the collector keeps its state and how it forwards."""

    model_config = ENV_CONFIG

    collector_id: str | None = Field(
        None, description="This collector's device id (type `collector` in the inventory)."
    )
    collector_state_dir: Path = Field(
        Path("/var/lib/ioc-collector"),
        description="Outbox (SQLite) and cached inventory live here.",
    )
    collector_secrets_file: Path | None = Field(
        None, description="NAME=value file of device secrets (environment variables win)."
    )
    collector_max_age_days: float = Field(7, gt=0, description="Oldest buffered reading kept.")
    collector_max_bytes: int = Field(2**30, ge=1_000_000, description="Outbox size bound.")
    collector_replay_rate: float = Field(
        20, gt=0, description="Backlog messages per second (each up to 100 readings)."
    )
    collector_heartbeat_s: float = Field(30, gt=0, description="Own metrics every N seconds.")
    collector_webhook_port: int | None = Field(
        None, ge=0, le=65535, description="Port of the vendor webhook receiver (off if unset)."
    )
    collector_webhook_host: str = Field("0.0.0.0", description="Address the receiver binds.")
    collector_jitter: float = Field(0.1, ge=0, le=0.5, description="Interval jitter fraction.")
