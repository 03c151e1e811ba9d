"""Absence rules: no report for k × the device's interval, or its last will says offline.

A parent presumed down by its children's evidence (``EvalContext.presumed_down``) is absent
too, with reason ``children_quiet``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import psycopg
from pydantic import Field

from alerts.rules.base import Condition, EvalContext, RuleBase, Texts, fmt_number

# Silence inside the latest monitoring-pipeline outage is not the devices' fault: see
# ioc_alert_overdue in migration 0200.
ABSENCE_SQL = """
SELECT d.id, extract(epoch FROM %(now)s - s.last_received_at)::float8 AS age,
       coalesce(s.online = false AND %(last_will)s, false) AS will,
       s.last_received_at, d.id = ANY(%(presumed)s::text[]) AS presumed
FROM devices d
LEFT JOIN device_status s ON s.device_id = d.id
WHERE d.type = ANY(%(types)s) AND d.decommissioned_at IS NULL
  AND (
    (%(last_will)s AND s.online = false)
    OR d.id = ANY(%(presumed)s::text[])
    OR ioc_alert_overdue(
        coalesce(s.last_received_at, CASE WHEN %(never_seen)s THEN d.created_at END),
        d.interval_s * %(factor)s, %(now)s, %(blind_start)s, %(blind_end)s)
  )
"""


class AbsenceRule(RuleBase):
    """Device offline: its last will, or silent for ``factor`` × its report interval."""

    kind: Literal["absence"] = "absence"
    placeholders: ClassVar[frozenset[str]] = frozenset({"age_s", "reason", "last_report"})
    severity: Literal["info", "warning", "critical"] = "critical"
    factor: float = Field(3.0, gt=0)
    last_will: bool = True
    never_seen: bool = True

    default_summary: ClassVar[Texts] = Texts(
        vi="{device_label} tại {site_name} mất kết nối",
        en="{device_label_en} at {site_name} is offline",
    )

    def evaluate(self, conn: psycopg.Connection, ctx: EvalContext) -> list[Condition]:
        """Devices offline by last will or report age (one query)."""
        rows = conn.execute(
            ABSENCE_SQL,
            {
                "now": ctx.now,
                "types": self.types,
                "factor": self.factor,
                "last_will": self.last_will,
                "never_seen": self.never_seen,
                "blind_start": ctx.blind_start,
                "blind_end": ctx.blind_end,
                "presumed": sorted(ctx.presumed_down),
            },
        ).fetchall()
        return [
            Condition(
                device_id,
                age,
                True,
                details={
                    "reason": "last_will"
                    if will
                    else "children_quiet"
                    if presumed
                    else "no_report",
                    "last_report": last.isoformat() if last else None,
                },
            )
            for device_id, age, will, last, presumed in rows
        ]

    def template_vars(self, cond: Condition) -> dict[str, Any]:
        """Adds the age of the last report."""
        return {**super().template_vars(cond), "age_s": fmt_number(cond.value)}
