"""Alerts, their timeline, acknowledgement and assignment; silences."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from api.models.common import Input, NfcStr, ShownJson, Timestamp
from ioc.ops.silences import SilenceSpec

AlertStateFilter = Literal["pending", "firing", "resolved", "suppressed", "open"]
Severity = Literal["info", "warning", "critical"]


class AlertPublic(BaseModel):
    """An alert; ``suppressed`` is true when topology or a silence mutes it."""

    id: int
    fingerprint: str
    rule: str
    kind: str
    severity: str
    state: str
    suppressed: bool
    device_id: str | None
    commune_code: str | None
    site_id: str | None
    device_type: str | None
    labels: ShownJson
    annotations: ShownJson
    summary: str
    summary_en: str
    value: float | None
    started_at: Timestamp
    fired_at: Timestamp | None
    resolved_at: Timestamp | None
    suppressed_by: int | None
    silenced_by: list[int]
    acknowledged_at: Timestamp | None
    acknowledged_by: str | None
    ack_note: str | None
    assignee: str | None
    escalation_level: int
    updated_at: Timestamp


class AlertsPublic(BaseModel):
    """A page of alerts, newest first."""

    data: list[AlertPublic]
    count: int
    limit: int
    offset: int


class HistoryEntry(BaseModel):
    """One step of an alert's timeline."""

    time: Timestamp
    action: str
    actor: str | None
    note: str | None
    data: ShownJson


class AlertDetail(AlertPublic):
    """An alert with its full timeline."""

    timeline: list[HistoryEntry]


class AlertAck(Input):
    """An acknowledgement."""

    note: str = Field("", max_length=2000)


class AlertAssign(Input):
    """Who handles the alert (null to unassign)."""

    assignee: NfcStr | None = Field(min_length=1, max_length=100)


class SilenceCreate(SilenceSpec):
    """A silence or maintenance window; alerts matching every matcher are muted."""


class SilencePublic(BaseModel):
    """A silence with its current state."""

    id: int
    matchers: list[dict[str, Any]]
    starts_at: Timestamp
    ends_at: Timestamp
    recurrence: ShownJson | None
    created_by: str
    comment: str
    created_at: Timestamp
    expired_at: Timestamp | None
    state: Literal["pending", "active", "expired"]


class SilencesPublic(BaseModel):
    """A page of silences, newest first."""

    data: list[SilencePublic]
    count: int
    limit: int
    offset: int
