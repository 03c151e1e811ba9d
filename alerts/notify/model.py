"""The notifier's vocabulary: alerts, groups, messages and the plan one tick applies.

A tick reads a ``TickState`` (``store.read``), the planner turns it into one ``Plan``
(``planner.plan``, pure) and the store applies the plan in the tick's transaction
(``store.apply``); the outbox then sends what the plan enqueued.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class AlertInfo:
    """One row of ``alerts`` joined with registry names (``store.SELECT_ALERTS``, class_row)."""

    id: int
    fingerprint: str
    rule: str
    severity: str
    state: str
    labels: dict[str, str]
    annotations: dict[str, Any]
    summary: str
    summary_en: str
    started_at: datetime
    fired_at: datetime | None
    resolved_at: datetime | None
    suppressed_by: int | None
    silenced: bool
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    escalation_level: int
    device_id: str | None
    device_name: str | None
    device_type: str | None
    site_id: str | None
    site_name: str | None
    commune_code: str | None
    commune_name: str | None
    notified_at: datetime | None = None

    @property
    def notifiable(self) -> bool:
        """Firing, not suppressed by a root cause and not silenced."""
        return self.state == "firing" and self.suppressed_by is None and not self.silenced

    @property
    def unsent_resolved(self) -> bool:
        """Fired, resolved, never in a message, and not muted: to report once as brief."""
        return (
            self.state == "resolved"
            and self.fired_at is not None
            and self.notified_at is None
            and self.suppressed_by is None
            and not self.silenced
        )

    @property
    def lasted(self) -> timedelta:
        """How long the alert fired (until now for open alerts: zero is never assumed)."""
        if self.fired_at is None or self.resolved_at is None:
            return timedelta.max
        return self.resolved_at - self.fired_at

    @property
    def since(self) -> datetime:
        """When the alert fired (or started, for rows without ``fired_at``)."""
        return self.fired_at or self.started_at

    def snapshot(self, status: str) -> dict[str, Any]:
        """JSON-ready view stored in the outbox payload (what the message will say)."""
        return {
            "id": self.id,
            "status": status,
            "fingerprint": self.fingerprint,
            "rule": self.rule,
            "severity": self.severity,
            "labels": self.labels,
            "annotations": self.annotations,
            "summary": self.summary,
            "summary_en": self.summary_en,
            "started_at": self.since.isoformat(),
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
            "acknowledged_at": self.acknowledged_at.isoformat() if self.acknowledged_at else None,
            "acknowledged_by": self.acknowledged_by,
            "escalation_level": self.escalation_level,
            "device_id": self.device_id,
            "device_name": self.device_name,
            "device_type": self.device_type,
            "site_id": self.site_id,
            "site_name": self.site_name,
            "commune_code": self.commune_code,
            "commune_name": self.commune_name,
        }


def group_labels(labels: dict[str, str], group_by: list[str]) -> dict[str, str]:
    """The subset of labels an alert is grouped by (missing labels are empty)."""
    return {name: labels.get(name, "") for name in group_by}


def group_key(route: str, grouped: dict[str, str]) -> str:
    """Alertmanager-style group key: ``route:{commune="21025"}``."""
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(grouped.items()))
    return f"{route}:{{{inner}}}"


@dataclass(frozen=True)
class GroupState:
    """One ``notify_groups`` row."""

    route: str
    group_key: str
    receiver: str
    labels: dict[str, str]
    alert_ids: frozenset[int] = frozenset()
    flushes: int = 0
    last_flush_at: datetime | None = None

    def flushed(self, ids: frozenset[int], now: datetime) -> GroupState:
        """The state after a message at ``now`` that leaves ``ids`` in the group."""
        return replace(self, alert_ids=ids, flushes=self.flushes + 1, last_flush_at=now)


@dataclass(frozen=True)
class Message:
    """One message to one receiver about one group."""

    kind: str  # firing, resolved, repeat, escalation
    route: str
    group_key: str
    receiver: str
    group_labels: dict[str, str]
    firing: list[AlertInfo]
    resolved: list[AlertInfo] = field(default_factory=list)
    level: int = 0
    # Fired and resolved before any message carried them: "đã tự khắc phục".
    brief: list[AlertInfo] = field(default_factory=list)

    @property
    def alert_ids(self) -> list[int]:
        """Every alert the message is about."""
        return [a.id for a in self.firing + self.resolved + self.brief]

    def dedup_key(self, seq: int) -> str:
        """Deterministic key: the same decision made twice yields the same key."""
        ids = (
            ",".join(str(a.id) for a in self.firing)
            + "/"
            + ",".join(str(a.id) for a in self.resolved + self.brief)
        )
        digest = hashlib.sha256(ids.encode()).hexdigest()[:16]
        tag = f"L{self.level}" if self.kind == "escalation" else str(seq)
        return f"{self.kind}|{self.route}|{self.group_key}|{tag}|{digest}"

    def payload(self, language: str, seq: int) -> dict[str, Any]:
        """The outbox ``payload``: a snapshot of what the message says."""
        return {
            "kind": self.kind,
            "route": self.route,
            "group_key": self.group_key,
            "group_labels": self.group_labels,
            "receiver": self.receiver,
            "language": language,
            "level": self.level,
            "seq": seq,
            "alerts": [a.snapshot("firing") for a in self.firing]
            + [a.snapshot("resolved") for a in self.resolved]
            + [{**a.snapshot("resolved"), "brief": True} for a in self.brief],
        }


@dataclass(frozen=True)
class Note:
    """An outbox row to write: the message, its sequence in the group, channel and language."""

    message: Message
    seq: int
    channel: str
    language: str


@dataclass(frozen=True)
class Escalation:
    """Raise the note's firing alerts to its level where that is still due at apply time.

    Only the alerts that actually rise go out (the note narrowed to them) and join ``group``,
    the escalation receiver's own group, so that their resolution reaches it too; when none
    rises (acknowledged or resolved meanwhile) the escalation is dropped.
    """

    note: Note
    group: GroupState

    def narrowed(self, ids: set[int], now: datetime) -> tuple[Note, GroupState]:
        """The note and group state for the alerts that rose (``ids``)."""
        message = self.note.message
        firing = [a for a in message.firing if a.id in ids]
        group = self.group.flushed(self.group.alert_ids | {a.id for a in firing}, now)
        note = replace(self.note, message=replace(message, firing=firing))
        return note, group


@dataclass(frozen=True)
class TickState:
    """What a tick reads: every group's state and the alerts the groups may carry."""

    groups: dict[tuple[str, str], GroupState]
    alerts: dict[int, AlertInfo]


@dataclass(frozen=True)
class Plan:
    """Everything one tick writes, in order: group states, outbox notes, escalations."""

    groups: tuple[GroupState, ...] = ()
    notes: tuple[Note, ...] = ()
    escalations: tuple[Escalation, ...] = ()

    @property
    def notified(self) -> list[int]:
        """Alerts now in a message (``alerts.notified_at``; a brief one is reported once)."""
        return sorted({i for note in self.notes for i in note.message.alert_ids})
