"""Flapping rules: too many online/offline changes of a device within a window."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar, Literal

import psycopg
from pydantic import Field, field_validator, model_validator

from alerts.rules.base import Condition, EvalContext, RuleBase, Texts
from alerts.texts import number_text, vi_duration
from ioc.durations import format_duration, parse_duration

# Changes counted by arrival (ingest's clock); the device-time bound only serves the index.
FLAPPING_SQL = """
SELECT c.device_id, count(*) AS n
FROM device_status_changes c
JOIN devices d ON d.id = c.device_id
WHERE c.time > %(since)s - interval '1 day'
  AND c.received_at > %(since)s AND c.received_at <= %(now)s
  AND d.type = ANY(%(types)s) AND d.decommissioned_at IS NULL
GROUP BY c.device_id
HAVING count(*) >= %(clear)s
"""


class FlappingRule(RuleBase):
    """At least ``changes`` state changes within ``window`` (holds until below ``clear``)."""

    kind: Literal["flapping"] = "flapping"
    placeholders: ClassVar[frozenset[str]] = frozenset({"value", "window", "window_vi"})
    window: timedelta = timedelta(minutes=10)
    changes: int = Field(4, ge=2)
    clear: int | None = Field(None, ge=1)

    default_summary: ClassVar[Texts] = Texts(
        vi="{device_label} chập chờn: {value} lần đổi trạng thái trong {window_vi}",
        en="{device_label_en} is flapping: {value} state changes in {window}",
    )

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, value: object) -> timedelta:  # not _duration: that one parses `for`
        return parse_duration(value)

    @model_validator(mode="after")
    def _check(self) -> FlappingRule:
        if self.clear is not None and self.clear > self.changes:
            raise ValueError(f"clear must be at most changes ({self.changes})")
        return self

    def evaluate(self, conn: psycopg.Connection, ctx: EvalContext) -> list[Condition]:
        """Devices with many state changes in the window."""
        rows = conn.execute(
            FLAPPING_SQL,
            {
                "since": ctx.now - self.window,
                "now": ctx.now,
                "types": self.types,
                "clear": self.changes if self.clear is None else self.clear,
            },
        ).fetchall()
        return [Condition(device_id, float(n), n >= self.changes) for device_id, n in rows]

    def template_vars(self, cond: Condition) -> dict[str, Any]:
        """Adds the count and window."""
        return {
            **super().template_vars(cond),
            "value": number_text(int(cond.value or 0)),
            "window": format_duration(self.window),
            "window_vi": vi_duration(self.window.total_seconds()),
        }
