"""Maintenance windows for availability: silences whose matchers select devices only.

The JSON shape is the alert engine's (``silences.matchers`` = ``[{label, op, value}]``,
``recurrence`` = ``{every: daily|weekly, start, end, days, tz}``); it is re-read here rather
than imported so storage does not depend on the alert engine. A silence with a matcher on any
other label (rule, severity) mutes alerts but is not a maintenance window.

Rows written by hand or by older versions may hold any bounds PostgreSQL takes ('infinity',
year 10000, starts after ends) or JSON of the wrong shape: bounds are read clamped to
``ioc.bounds`` and a row that still cannot be used is skipped (logged), never fatal.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from pydantic import ValidationError

from ioc.bounds import clamped_sql
from ioc.ops.matchers import Matcher, cheap_first, match_all
from storage.intervals import Spans, intersect, merge

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LABEL_ALIASES = {
    "commune": "commune",
    "commune_code": "commune",
    "site": "site",
    "site_id": "site",
    "device": "device",
    "device_id": "device",
    "type": "type",
    "device_type": "type",
}
SILENCES_BETWEEN = f"""
SELECT id, matchers, {clamped_sql("starts_at")},
       {clamped_sql("least(ends_at, coalesce(expired_at, ends_at))")}, recurrence
FROM silences
WHERE starts_at < %(hi)s AND least(ends_at, coalesce(expired_at, ends_at)) > %(lo)s
  AND starts_at < least(ends_at, coalesce(expired_at, ends_at))
"""
log = logging.getLogger(__name__)


def _recurring(rec: Mapping[str, Any], lo: float, hi: float) -> Spans:
    """Windows of a daily/weekly recurrence overlapping [lo, hi)."""
    zone = ZoneInfo(str(rec.get("tz") or "Asia/Ho_Chi_Minh"))
    start, end = time.fromisoformat(str(rec["start"])), time.fromisoformat(str(rec["end"]))
    days = set(rec.get("days") or [])
    weekly = rec.get("every") == "weekly"
    first: date = datetime.fromtimestamp(lo, zone).date() - timedelta(days=1)
    last: date = datetime.fromtimestamp(hi, zone).date()
    out: Spans = []
    day = first
    while day <= last:
        if not weekly or WEEKDAYS[day.weekday()] in days:
            begin = datetime.combine(day, start, zone)
            finish = datetime.combine(day, end, zone)
            if finish <= begin:
                finish += timedelta(days=1)
            out.append((begin.timestamp(), finish.timestamp()))
        day += timedelta(days=1)
    return merge(out)


class MaintenanceWindows:
    """The device-scoped silences overlapping one period, queried once."""

    def __init__(self, conn: psycopg.Connection, lo: float, hi: float) -> None:
        self.lo, self.hi = lo, hi
        rows = conn.execute(
            SILENCES_BETWEEN,
            {"lo": datetime.fromtimestamp(lo, UTC), "hi": datetime.fromtimestamp(hi, UTC)},
        ).fetchall()
        self.silences: list[tuple[list[Matcher], Spans]] = []
        for sid, matchers, starts, ends, rec in rows:
            try:
                window = self._window(matchers, starts, ends, rec)
            except Exception as exc:  # one unusable row costs only itself
                log.warning("silence %s skipped as a maintenance window: %s", sid, exc)
                continue
            if window is not None:
                self.silences.append(window)

    def _window(
        self, matchers: Any, starts: datetime, ends: datetime, rec: Any
    ) -> tuple[list[Matcher], Spans] | None:
        lo, hi = self.lo, self.hi
        if not isinstance(matchers, list) or not matchers:
            return None
        if any(not isinstance(m, dict) or m.get("label") not in LABEL_ALIASES for m in matchers):
            return None
        try:
            parsed = [
                Matcher.model_validate({**m, "label": LABEL_ALIASES[m["label"]]}) for m in matchers
            ]
        except ValidationError:  # e.g. a regex RE2 refuses: it selects no device
            return None
        spans = [(max(lo, starts.timestamp()), min(hi, ends.timestamp()))]
        if rec:
            spans = intersect(spans, _recurring(rec, lo, hi))
        return cheap_first(parsed), merge(spans)

    def for_device(self, labels: Mapping[str, str]) -> Spans:
        """Union of the windows whose matchers all select this device."""
        out: Spans = []
        for matchers, spans in self.silences:
            if match_all(matchers, labels):
                out.extend(spans)
        return merge(out)
