"""What the notifier knows about an alert, and the label set routes match on."""

from __future__ import annotations

from dataclasses import dataclass
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
