"""Sequence-gap rules: messages a device numbered (``seq``) never reached ingest.

Ingest counts them in ``device_status.seq_gaps``, a counter that only grows (reordered messages
are not counted: ingest waits ``IOC_INGEST_SEQ_GAP_HOLD_S`` for a late one). This kind alerts
on its increase within a window: the engine remembers each device's previous value in memory.
A device first seen (engine start, failover, or memory older than the window) starts from its
current value, so a historical total never fires.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

import psycopg
from pydantic import Field, PrivateAttr, field_validator, model_validator

from alerts.rules.base import Condition, EvalContext, RuleBase, Texts
from alerts.texts import number_text, vi_duration
from ioc.durations import format_duration, parse_duration

# A device without a status row has no gaps yet (0). ``open``: this rule has an open alert for
# the device, so that an alert open across an engine restart is not resolved at once.
SEQ_GAPS_SQL = """
SELECT d.id, coalesce(s.seq_gaps, 0) AS gaps, s.last_seq,
       EXISTS (SELECT 1 FROM alerts a WHERE a.rule = %(rule)s AND a.device_id = d.id
               AND a.state <> 'resolved') AS open
FROM devices d
LEFT JOIN device_status s ON s.device_id = d.id
WHERE d.type = ANY(%(types)s) AND d.decommissioned_at IS NULL
"""


@dataclass
class _Track:
    """What the engine remembers of one device's counter."""

    counter: int
    seen_at: datetime
    increases: deque[tuple[datetime, int]] = field(default_factory=deque)

    def in_window(self, since: datetime) -> int:
        """Increase of the counter after ``since`` (older increases are forgotten)."""
        while self.increases and self.increases[0][0] <= since:
            self.increases.popleft()
        return sum(n for _, n in self.increases)


class SeqGapRule(RuleBase):
    """The gap counter grew by at least ``gaps`` within ``window``; resolves a window later."""

    kind: Literal["seq_gaps"] = "seq_gaps"
    placeholders: ClassVar[frozenset[str]] = frozenset(
        {"value", "window", "window_vi", "gaps", "seq_gaps_total", "last_seq"}
    )
    window: timedelta = timedelta(minutes=15)
    gaps: int = Field(1, ge=1)

    default_summary: ClassVar[Texts] = Texts(
        vi="{device_label} tại {site_name} mất {value} bản tin (thiếu số thứ tự) trong {window_vi}",
        en="{device_label_en} at {site_name} lost {value} message(s) (missing seq) in {window}",
    )

    _tracks: dict[str, _Track] = PrivateAttr(default_factory=dict)

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, value: object) -> timedelta:
        return parse_duration(value)

    @model_validator(mode="after")
    def _check(self) -> SeqGapRule:
        if self.window <= timedelta(0):
            raise ValueError("window must be longer than 0")
        return self

    def evaluate(self, conn: psycopg.Connection, ctx: EvalContext) -> list[Condition]:
        """Devices whose gap counter grew within the window (``fire`` from ``gaps`` on)."""
        rows = conn.execute(SEQ_GAPS_SQL, {"rule": self.name, "types": self.types}).fetchall()
        since = ctx.now - self.window
        tracks: dict[str, _Track] = {}
        conditions = []
        for device_id, counter, last_seq, open_ in rows:
            track = self._tracks.get(device_id)
            if track is None or track.seen_at <= since or counter < track.counter:
                # Unknown, forgotten or reset: start from the current value. An alert already
                # open when the engine (re)started stays open one window unless gaps continue.
                restarted = track is None and open_
                track = _Track(counter, ctx.now)
                if restarted:
                    track.increases.append((ctx.now, 0))
            elif counter > track.counter:
                track.increases.append((ctx.now, counter - track.counter))
            track.counter, track.seen_at = counter, ctx.now
            tracks[device_id] = track
            increase = track.in_window(since)
            if track.increases:
                details = {
                    "gaps": increase,
                    "seq_gaps_total": counter,
                    "last_seq": last_seq,
                    "window": format_duration(self.window),
                }
                conditions.append(
                    Condition(device_id, float(increase), increase >= self.gaps, details=details)
                )
        self._tracks = tracks  # devices gone from the registry are forgotten
        return conditions

    def template_vars(self, cond: Condition) -> dict[str, Any]:
        """Adds the number of gaps and the window."""
        return {
            **super().template_vars(cond),
            "value": number_text(int(cond.value or 0)),
            "window": format_duration(self.window),
            "window_vi": vi_duration(self.window.total_seconds()),
        }
