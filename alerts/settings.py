"""Alert engine settings from ``IOC_ALERTS_*`` (and ``IOC_RULES``) environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings

from ioc.settings import ENV_CONFIG


class AlertSettings(BaseSettings):
    """Evaluation rhythm, reachability factors, leader election and self-monitoring."""

    model_config = ENV_CONFIG

    rules: Path | None = Field(
        None, description="Rules YAML (IOC_RULES); default: alerts/rules/default_rules.yaml."
    )
    alerts_evaluation_interval_s: float = Field(
        1.0, gt=0, description="Seconds between rule evaluations by the leader."
    )
    alerts_deliver_interval_s: float = Field(
        0.5, gt=0, description="Seconds between notification outbox deliveries by the leader."
    )
    alerts_leader_retry_s: float = Field(
        1.0, gt=0, description="Seconds between a standby's attempts to take the leader lock."
    )
    alerts_leader_lock_key: int = Field(
        0x10C_A1E7,
        ge=0,
        description="pg_advisory_lock key that elects the active `ioc alerts`.",
    )
    alerts_stale_factor: float = Field(
        1.5, gt=0, description="A device is stale after this many report intervals of silence."
    )
    alerts_offline_factor: float = Field(
        3.0,
        gt=0,
        description="A device is offline after this many intervals of silence; threshold "
        "values older than this are ignored.",
    )
    alerts_topology_refresh_s: float = Field(
        30.0, gt=0, description="Seconds between reloads of the topology (parents) graph."
    )
    alerts_pipeline_heartbeat_s: float = Field(
        20.0,
        ge=0,
        description="Ingest is down when no ingest instance heartbeat is newer (0 = off).",
    )
    alerts_pipeline_silence_s: float = Field(
        180.0,
        ge=0,
        description="Ingest is down when no device message arrived for this long (0 = off).",
    )
    alerts_recovery_grace_s: float = Field(
        60.0,
        ge=0,
        description="After a root cause recovers, its children's alerts stay suppressed this "
        "long while they reconnect (they resolve meanwhile instead of paging).",
    )
    alerts_parent_hold_s: float = Field(
        10.0,
        ge=0,
        description="An offline device whose parents' state is not known yet (none down, none "
        "heard since) waits this long for it, so wills arriving in any order still make one "
        "root-cause alert (0 = off).",
    )
    alerts_broker_settle_s: float = Field(
        60.0,
        ge=0,
        description="After the engine's own broker connection comes back, wills received "
        "around the drop stay held this long while devices reconnect (a broker restart is "
        "not an outage of every device).",
    )
    alerts_watch_ingest: bool = Field(
        True,
        description="Also watch ingest's retained MQTT status (ioc/system/ingest/+/status): "
        "every instance offline = pipeline down.",
    )
    alerts_heartbeat_url: str = Field(
        "",
        description="Dead man's switch: a healthchecks.io-style check URL outside this server "
        "(healthchecks, Uptime Kuma push, Better Stack) pinged by the leader; empty = off.",
    )
    alerts_heartbeat_url_2: str = Field(
        "", description="A second check URL (e.g. the second site's receiver); empty = off."
    )
    alerts_heartbeat_interval_s: float = Field(
        60.0, gt=0, description="Seconds between heartbeat pings by the leading engine."
    )
    alerts_heartbeat_timeout_s: float = Field(
        5.0, gt=0, description="Timeout of one heartbeat ping (it never delays evaluations)."
    )
    alerts_history_days: int = Field(
        90, ge=1, description="Days resolved alerts are kept (older ones are deleted)."
    )

    def rules_path(self) -> Path:
        """The rules file to load."""
        return self.rules or Path(__file__).parent / "rules" / "default_rules.yaml"
