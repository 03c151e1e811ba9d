"""Collector settings (``IOC_COLLECTOR_*``), built in ``main()`` and passed down."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, field_validator

from ioc.settings import AreaSettings, env_config


class CollectorSettings(AreaSettings):
    """Where the collector keeps its state and how it forwards."""

    model_config = env_config("IOC_COLLECTOR_")

    id: str | None = Field(
        None, description="This collector's device id (type `collector` in the inventory)."
    )
    state_dir: Path = Field(
        Path("/var/lib/ioc-collector"),
        description="Outbox (SQLite) and cached inventory live here.",
    )
    secrets_file: Path | None = Field(
        None, description="NAME=value file of device secrets (environment variables win)."
    )
    max_age_days: float = Field(7, gt=0, description="Oldest buffered reading kept.")
    max_bytes: int = Field(2**30, ge=1_000_000, description="Outbox size bound.")
    replay_rate: float = Field(
        20, gt=0, description="Backlog messages per second (each up to 100 readings)."
    )
    heartbeat_s: float = Field(30, gt=0, description="Own metrics every N seconds.")
    webhook_port: int | None = Field(
        None, ge=0, le=65535, description="Port of the vendor webhook receiver (off if unset)."
    )
    webhook_host: str = Field(
        "127.0.0.1",
        description="Address the receiver binds: loopback unless set (e.g. the collector's LAN "
        "address, or 0.0.0.0 for every interface, said in the log).",
    )
    receiver_header_timeout_s: float = Field(
        5.0, gt=0, le=120, description="A request's headers must arrive within this (else 408)."
    )
    receiver_body_timeout_s: float = Field(
        10.0, gt=0, le=300, description="...and its body within this after them (else 408)."
    )
    receiver_max_connections: int = Field(
        64, ge=1, le=10_000, description="Connections served at once; more get 503 and close."
    )
    push_allow: str = Field(
        "",
        description="Alarm-host pushes (POST /hikvision) are accepted from these networks "
        "(comma-separated addresses or CIDRs, e.g. `192.168.10.0/24`)...",
    )
    push_secret_env: str | None = Field(
        None,
        description="...or from any address with this shared secret (the name of a secret in "
        "the secrets file) as the HTTP password (Basic) or bearer token. Neither set: refused.",
    )
    error_repeat_s: float = Field(
        300.0,
        ge=0,
        description="A check that keeps failing in other words, or a device whose pushes keep "
        "being refused, makes at most one check_error event per this many seconds.",
    )
    inventory_max_bytes: int = Field(
        16 * 2**20, ge=1024, description="Largest inventory `--api` accepts (else: the cache)."
    )
    inventory_timeout_s: float = Field(
        30.0, gt=0, description="Whole inventory download deadline (else: the cache)."
    )
    client_prefix: str = Field(
        "ioc-collector-", description="MQTT client id prefix (the collector's id follows)."
    )
    jitter: float = Field(0.1, ge=0, le=0.5, description="Interval jitter fraction.")

    @field_validator("push_allow")
    @classmethod
    def _networks(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                ipaddress.ip_network(part.strip(), strict=False)  # ValueError names the part
        return value
