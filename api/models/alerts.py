"""Alerts, their timeline, acknowledgement and assignment; silences."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator, model_validator

from api.models.common import Input, Instant, NfcStr, ShownJson, Timestamp

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


class Matcher(Input):
    """One label condition; all matchers of a silence must hold."""

    label: Literal["commune", "site", "device", "type", "rule", "severity"]
    op: Literal["=", "!=", "=~", "!~"] = Field("=", description="=~ and !~ match whole values.")
    value: str = Field(max_length=200)

    @model_validator(mode="after")
    def _regex_compiles(self) -> Matcher:
        if self.op in ("=~", "!~"):
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"value is not a valid regular expression: {exc}") from None
        return self


class Recurrence(Input):
    """A daily or weekly window in local time inside the silence's validity period."""

    every: Literal["daily", "weekly"] = "daily"
    start: time
    end: time
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field([], max_length=7)
    tz: str = "Asia/Ho_Chi_Minh"

    @model_validator(mode="after")
    def _valid(self) -> Recurrence:
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.tz!r}") from None
        if self.every == "weekly" and not self.days:
            raise ValueError("a weekly window needs days, e.g. [sun]")
        if self.start == self.end:
            raise ValueError("start and end must differ")
        return self


class SilenceCreate(Input):
    """A silence or maintenance window; alerts matching every matcher are muted."""

    matchers: list[Matcher] = Field(min_length=1, max_length=20)
    starts_at: Instant | None = Field(None, description="Default: now (1970 to 9000 UTC).")
    ends_at: Instant = Field(description="End, in the future (before 9000 UTC).")
    recurrence: Recurrence | None = Field(None, description="Optional recurring window.")
    comment: str = Field(min_length=1, max_length=1000)

    @field_validator("ends_at")
    @classmethod
    def _future(cls, value: datetime) -> datetime:
        if value <= datetime.now(UTC):
            raise ValueError("ends_at must be in the future")
        return value


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
