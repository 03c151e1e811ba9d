"""Event rules: a device event (tamper, video loss, missed broadcast) opens an alert."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar, Literal

import psycopg
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from alerts.rules.base import Condition, EvalContext, RuleBase, Severity, Texts
from alerts.texts import vi_word
from devices.catalogue import TYPES
from ioc.durations import parse_duration

# Matching events in the window per device and severity key, unless a clearing event followed.
# The window is judged by arrival (ingest's clock); the bound on the device's own timestamp
# only lets the time index and partition pruning work (device clocks may lag up to a day).
EVENT_SQL = """
SELECT e.device_id, e.data ->> %(severity_field)s AS key, count(*) AS n, max(e.time) AS last,
       (array_agg(e.data ORDER BY e.time DESC))[1] AS data
FROM device_events e
JOIN devices d ON d.id = e.device_id
WHERE e.type = %(event)s AND e.time > %(since)s - interval '1 day'
  AND e.received_at > %(since)s AND e.received_at <= %(now)s
  AND d.type = ANY(%(types)s) AND d.decommissioned_at IS NULL
  AND e.data @> %(match)s
  AND NOT EXISTS (
    SELECT 1 FROM device_events c
    WHERE c.device_id = e.device_id AND c.type = %(clear_event)s
      AND c.time > e.time AND c.received_at <= %(now)s)
GROUP BY e.device_id, 2
"""


class SeverityBy(BaseModel):
    """Severity chosen by a field of the event data, e.g. a bulletin's priority."""

    model_config = ConfigDict(extra="forbid")

    field: str
    values: dict[str, Severity]


class EventRule(RuleBase):
    """Fires when a matching event arrives; resolves ``resolve_after`` the last one."""

    kind: Literal["event"] = "event"
    placeholders: ClassVar[frozenset[str]] = frozenset(
        {"event", "count", "last_event", "event_data"}
    )
    placeholder_prefixes: ClassVar[tuple[str, ...]] = ("data_",)
    event: str
    match: dict[str, str | int | float | bool] = Field(default_factory=dict)
    severity_by: SeverityBy | None = None
    resolve_after: timedelta = timedelta(hours=1)
    clear_event: str | None = None

    default_summary: ClassVar[Texts] = Texts(
        vi="{device_label} tại {site_name}: sự kiện {event}",
        en="{device_label_en} at {site_name}: event {event}",
    )

    @field_validator("resolve_after", mode="before")
    @classmethod
    def _resolve_after(cls, value: object) -> timedelta:  # not _duration: that one parses `for`
        return parse_duration(value)

    @model_validator(mode="after")
    def _check(self) -> EventRule:
        for name in filter(None, (self.event, self.clear_event)):
            missing = [t for t in self.types if name not in TYPES[t].events]
            if missing:
                raise ValueError(f"event {name!r} is not an event of device type(s) {missing}")
        return self

    def evaluate(self, conn: psycopg.Connection, ctx: EvalContext) -> list[Condition]:
        """Devices with a matching event inside the window."""
        rows = conn.execute(
            EVENT_SQL,
            {
                "event": self.event,
                "types": self.types,
                "now": ctx.now,
                "since": ctx.now - self.resolve_after,
                "match": Jsonb(self.match),
                "severity_field": self.severity_by.field if self.severity_by else None,
                "clear_event": self.clear_event,
            },
        ).fetchall()
        conditions = []
        for device_id, key, count, last, data in rows:
            severity = None
            if self.severity_by is not None:
                severity = self.severity_by.values.get(key or "", self.severity)
            details = {"event": self.event, "count": count, "last_event": last.isoformat()}
            details["event_data"] = data
            conditions.append(Condition(device_id, float(count), True, severity, details))
        return conditions

    def template_vars(self, cond: Condition) -> dict[str, Any]:
        """Adds the event's data fields (e.g. schedule_id, priority)."""
        data = cond.details.get("event_data") or {}
        extra = {f"data_{k}": v for k, v in data.items() if isinstance(k, str)}
        # ``data_<key>_vi``: the value in Vietnamese (priority "emergency" -> "khẩn cấp").
        extra.update({f"data_{k}_vi": vi_word(v) for k, v in data.items() if isinstance(k, str)})
        return {**super().template_vars(cond), **extra}

    def fingerprint(self, cond: Condition) -> str:
        """Severity is part of the identity only when the event chooses it."""
        base = f"{self.name}:{cond.device_id}"
        return f"{base}:{cond.severity}" if self.severity_by else base
