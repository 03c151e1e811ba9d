"""Settings of the ingest service, read from ``IOC_INGEST_*`` environment variables."""

from __future__ import annotations

import socket

from pydantic import Field

from ingest.sequence import DEFAULT_HOLD_S
from ingest.writer import LATEST_AHEAD_S
from ioc.contract import TOPIC_ROOT
from ioc.settings import AreaSettings, env_config


def _default_instance() -> str:
    return socket.gethostname().split(".")[0] or "ingest"


class IngestSettings(AreaSettings):
    """Batching, MQTT session, validation limits and self-monitoring of ``ioc ingest``."""

    model_config = env_config("IOC_INGEST_")

    instance: str = Field(
        default_factory=_default_instance,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="Name of this ingest instance (default: host name). It makes the MQTT "
        "client id `ioc-ingest-{instance}`, so keep it stable across restarts: the broker keeps "
        "the persistent session (and unacknowledged messages) under that id.",
    )
    group: str = Field(
        "ioc-ingest",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="MQTT 5 shared-subscription group: processes with the same group share "
        "`$share/{group}/#`.",
    )
    topic_prefix: str = Field(
        TOPIC_ROOT,
        description="Topic root. Ingest subscribes to `$share/{group}/#` (or `{prefix}/#` where "
        "the broker's ACL refuses that) and quarantines anything under a root that differs only "
        "in case, or with a wrong number of levels; other topics are not its business.",
    )
    session_expiry_s: int = Field(
        86400,
        ge=0,
        description="MQTT session expiry interval: how long the broker keeps queuing for this "
        "instance while it is down.",
    )
    keepalive_s: int = Field(30, ge=5, description="MQTT keepalive in seconds.")
    fast_reader: bool = Field(
        True,
        description="Read MQTT with ingest's bulk reader (ingest/fastclient.py, built on "
        "paho-mqtt's internals; 58 → 45 µs CPU per message, docs/performance.md); false: "
        "paho's stock client. A paho without those internals falls back to the stock client.",
    )
    batch_size: int = Field(
        2000, ge=1, le=30000, description="Messages per batch: a batch is written when full..."
    )
    batch_max_wait_s: float = Field(
        0.1, gt=0, description="...or when its oldest message has waited this long."
    )
    receive_maximum: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="MQTT 5 Receive Maximum (in-flight unacknowledged messages the broker may "
        "send). Default: 2 × batch_size, so one batch fills while the previous one commits.",
    )
    max_payload_bytes: int = Field(
        65536, ge=256, description="Larger payloads are quarantined as `oversized`."
    )
    quarantine_budget: int = Field(
        200,
        ge=1,
        description="Quarantine rows one device may add per `quarantine_budget_window_s`; more "
        "are acknowledged and counted (`ioc_ingest_quarantine_over_budget`) but not stored. "
        "Unregistered senders share ten times this.",
    )
    quarantine_budget_window_s: float = Field(
        3600.0, gt=0, description="Window of the per-device quarantine budget (seconds)."
    )
    max_future_s: float = Field(
        300.0, ge=0, description="Timestamps further than this ahead of now are quarantined."
    )
    latest_max_ahead_s: float = Field(
        LATEST_AHEAD_S,
        ge=0,
        description="A reading dated more than this ahead of the ingest clock is stored but never "
        "becomes the device's latest value (it would pin it until real time caught up).",
    )
    seq_gap_hold_s: float = Field(
        DEFAULT_HOLD_S,
        ge=0,
        description="How long (in the device's own time) a missing `seq` may still arrive out of "
        "order before it counts as a lost message in `device_status.seq_gaps`.",
    )
    registry_refresh_s: float = Field(
        60.0, gt=0, description="Reload the device registry this often."
    )
    unknown_refresh_min_s: float = Field(
        2.0,
        ge=0,
        description="An unknown device id is looked up in the database at most this often "
        "(devices imported while ingest runs are accepted within seconds).",
    )
    heartbeat_s: float = Field(
        5.0, gt=0, description="Update this instance's row in `ingest_instances` this often."
    )
    partitions_interval_s: float = Field(
        3600.0, gt=0, description="Call `ioc_ensure_partitions` this often (and at start)."
    )
    retry_max_s: float = Field(
        10.0, gt=0, description="Longest wait between retries while PostgreSQL is unavailable."
    )
    takeover_after_s: float = Field(
        120.0,
        ge=0,
        description="An instance of the group whose heartbeat is older than this has departed: "
        "a live instance resumes its broker session, writes what was queued for it and ends the "
        "session (0 = never; `ioc ingest retire NAME` does it on demand).",
    )
    takeover_check_s: float = Field(
        30.0, gt=0, description="Look for departed instances this often."
    )
    drain_quiet_s: float = Field(
        2.0,
        gt=0,
        description="A taken-over session is ended once everything it delivered is written and "
        "nothing more arrived for this long.",
    )
    drain_timeout_s: float = Field(
        300.0, gt=0, description="Give up one takeover after this long (it is retried later)."
    )
    ack_wait_s: float = Field(
        30.0,
        gt=0,
        description="IOC_BUS=nats: a message pulled by an instance that died is redelivered to "
        "another after this long (live instances keep theirs with in-progress acks).",
    )
    max_ack_pending: int = Field(
        20000,
        ge=1,
        description="IOC_BUS=nats: unacknowledged messages the bus hands out at once, all "
        "instances together (each holds at most its Receive Maximum).",
    )
    metrics_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Serve Prometheus metrics on this port (0 = off); worker i of "
        "`--workers N` uses port + i.",
    )
    metrics_host: str = Field("127.0.0.1", description="Address of the Prometheus endpoint.")

    @property
    def effective_receive_maximum(self) -> int:
        """Receive Maximum actually requested from the broker."""
        return self.receive_maximum or min(65535, 2 * self.batch_size)

    @property
    def client_id(self) -> str:
        """Stable MQTT client id of this instance."""
        return f"ioc-ingest-{self.instance}"

    @property
    def subscriptions(self) -> list[str]:
        """The shared subscription of the group, widest first: everything on the broker (so a
        topic with an extra level or another case of the root reaches quarantine), else, where
        the broker's ACL refuses that, everything under the topic root."""
        return [f"$share/{self.group}/#", f"$share/{self.group}/{self.topic_prefix}/#"]

    @property
    def subscription(self) -> str:
        """The shared subscription all ingest processes of the group use (when allowed)."""
        return self.subscriptions[0]

    @property
    def legacy_subscription(self) -> str:
        """The filter of earlier versions (dropped from persistent sessions that still hold it)."""
        return f"$share/{self.group}/{self.topic_prefix}/+/+/+"
