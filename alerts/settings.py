"""Alert engine settings from ``IOC_ALERTS_*`` (and ``IOC_RULES``) environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from devices.catalogue import TYPES
from ioc.settings import AreaSettings, env_config


class AlertSettings(AreaSettings):
    """Evaluation rhythm, reachability factors, leader election and self-monitoring."""

    model_config = env_config("IOC_ALERTS_")

    rules: Path | None = Field(
        None,
        validation_alias="IOC_RULES",
        description="Rules YAML (IOC_RULES); default: alerts/rules/default_rules.yaml.",
    )
    evaluation_interval_s: float = Field(
        1.0, gt=0, description="Seconds between rule evaluations by the leader."
    )
    deliver_interval_s: float = Field(
        0.5, gt=0, description="Seconds between notification outbox deliveries by the leader."
    )
    leader_retry_s: float = Field(
        1.0, gt=0, description="Seconds between a standby's attempts to take the leader lock."
    )
    leader_lock_key: int = Field(
        0x10C_A1E7,
        ge=0,
        description="pg_advisory_lock key that elects the active `ioc alerts`.",
    )
    stale_factor: float = Field(
        1.5, gt=0, description="A device is stale after this many report intervals of silence."
    )
    offline_factor: float = Field(
        3.0,
        gt=0,
        description="A device is offline after this many intervals of silence; threshold "
        "values older than this are ignored.",
    )
    topology_refresh_s: float = Field(
        30.0, gt=0, description="Seconds between reloads of the topology (parents) graph."
    )
    pipeline_heartbeat_s: float = Field(
        20.0,
        ge=0,
        description="Ingest is down when no ingest instance heartbeat is newer (0 = off).",
    )
    pipeline_silence_s: float = Field(
        180.0,
        ge=0,
        description="Ingest is down when no device message arrived for this long (0 = off).",
    )
    recovery_grace_s: float = Field(
        60.0,
        ge=0,
        description="After a root cause recovers, its children's alerts stay suppressed this "
        "long while they reconnect (they resolve meanwhile instead of paging).",
    )
    parent_hold_s: float = Field(
        5.0,
        ge=0,
        description="Margin added to a parent's detection time: an offline device whose "
        "parents' state is not known yet (none down, none heard since its will) waits until "
        "each parent could have been found down (its keep-alive x 1.5, or one report interval "
        "for devices without their own MQTT session) plus this, so wills spread over the "
        "detection time still make one root-cause alert.",
    )
    parent_hold_by_type: dict[str, float] = Field(
        default_factory=dict,
        description="Per parent type, seconds to wait for it instead of its keep-alive x 1.5, "
        'as JSON: {"link": 45}. A genuine outage of one device behind a silent parent is '
        "reported up to this (plus the margin) later.",
    )
    parent_hold_max_s: float = Field(
        300.0, gt=0, description="No device is held for its parents longer than this."
    )
    parent_suspect_children: int = Field(
        3,
        ge=0,
        description="This many children of one parent going offline after its last message, "
        "with the parent silent for one report interval, presume the parent down: its offline "
        "alert opens at once instead of at its will or after k intervals (0 = off).",
    )
    broker_settle_s: float = Field(
        60.0,
        ge=0,
        description="After the engine's own broker connection comes back, wills received "
        "around the drop stay held this long while devices reconnect (a broker restart is "
        "not an outage of every device).",
    )
    watch_ingest: bool = Field(
        True,
        description="Also watch ingest's retained MQTT status (ioc/system/ingest/+/status): "
        "every instance offline = pipeline down.",
    )
    heartbeat_url: str = Field(
        "",
        description="Dead man's switch: a healthchecks.io-style check URL outside this server "
        "(healthchecks, Uptime Kuma push, Better Stack) pinged by the leader; empty = off.",
    )
    heartbeat_url_2: str = Field(
        "", description="A second check URL (e.g. the second site's receiver); empty = off."
    )
    heartbeat_interval_s: float = Field(
        60.0, gt=0, description="Seconds between heartbeat pings by the leading engine."
    )
    heartbeat_timeout_s: float = Field(
        5.0, gt=0, description="Timeout of one heartbeat ping (it never delays evaluations)."
    )
    history_days: int = Field(
        90, ge=1, description="Days resolved alerts are kept (older ones are deleted)."
    )

    @field_validator("parent_hold_by_type")
    @classmethod
    def _known_types(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(TYPES))
        if unknown:
            raise ValueError(f"unknown device type(s) {unknown}; known: {sorted(TYPES)}")
        if any(v < 0 for v in value.values()):
            raise ValueError("hold times must not be negative")
        return value

    def rules_path(self) -> Path:
        """The rules file to load."""
        return self.rules or Path(__file__).parent / "rules" / "default_rules.yaml"
