"""Silences and maintenance windows: label matchers, a validity period, optional recurrence."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ioc.bounds import check_instant, clamped_sql

log = logging.getLogger(__name__)

LABELS = ("commune", "site", "device", "type", "rule", "severity")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Bounds are clamped to what Python represents (ioc.bounds): a row written before the checks
# existed, or by hand, is still read; only whether it is in force at ``now`` matters here.
ACTIVE_SQL = f"""
SELECT id, matchers,
       {clamped_sql("starts_at")} AS starts_at,
       {clamped_sql("ends_at")} AS ends_at,
       recurrence
FROM silences
WHERE starts_at <= %(now)s AND ends_at > %(now)s
  AND (expired_at IS NULL OR expired_at > %(now)s)
"""
INSERT_SQL = """
INSERT INTO silences (matchers, starts_at, ends_at, recurrence, created_by, comment)
VALUES (%(matchers)s, %(starts_at)s, %(ends_at)s, %(recurrence)s, %(created_by)s, %(comment)s)
RETURNING id
"""
EXPIRE_SQL = """
UPDATE silences SET expired_at = %(now)s
WHERE id = %(id)s AND (expired_at IS NULL OR expired_at > %(now)s) AND ends_at > %(now)s
RETURNING id
"""


class Matcher(BaseModel):
    """``label op value`` with op ``=``, ``!=``, ``=~`` or ``!~`` (anchored regex)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    op: Literal["=", "!=", "=~", "!~"] = "="
    value: str

    @model_validator(mode="after")
    def _regex(self) -> Matcher:
        if self.op in ("=~", "!~"):
            try:
                re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"invalid regex {self.value!r}: {exc}") from exc
        return self

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether the label set satisfies this matcher (a missing label is empty)."""
        actual = labels.get(self.label, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found


class Recurrence(BaseModel):
    """A daily or weekly window in local time, e.g. every day 02:00–03:00 in Vietnam."""

    model_config = ConfigDict(extra="forbid")

    every: Literal["daily", "weekly"] = "daily"
    start: time
    end: time
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field(
        default_factory=list
    )
    tz: str = "Asia/Ho_Chi_Minh"

    @field_validator("tz")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _days(self) -> Recurrence:
        if self.every == "weekly" and not self.days:
            raise ValueError("a weekly window needs days, e.g. [sun]")
        if self.start == self.end:
            raise ValueError("start and end must differ")
        return self

    def zone(self) -> ZoneInfo:
        """The window's time zone."""
        return ZoneInfo(self.tz)

    def covers(self, now: datetime) -> bool:
        """Whether ``now`` falls in one of the windows (a window may cross midnight)."""
        local = now.astimezone(self.zone())
        for back in (0, 1):
            day: date = local.date() - timedelta(days=back)
            if self.every == "weekly" and WEEKDAYS[day.weekday()] not in self.days:
                continue
            begin = datetime.combine(day, self.start, local.tzinfo)
            finish = datetime.combine(day, self.end, local.tzinfo)
            if finish <= begin:
                finish += timedelta(days=1)
            if begin <= local < finish:
                return True
        return False


class Silence(BaseModel):
    """One silence as stored."""

    model_config = ConfigDict(extra="forbid")

    id: int
    matchers: list[Matcher] = Field(min_length=1)
    starts_at: datetime
    ends_at: datetime
    recurrence: Recurrence | None = None

    def active(self, now: datetime) -> bool:
        """In force at ``now`` (validity period and, if any, the recurring window)."""
        if not self.starts_at <= now < self.ends_at:
            return False
        return self.recurrence is None or self.recurrence.covers(now)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """All matchers hold."""
        return all(m.matches(labels) for m in self.matchers)


class Silencer:
    """Mutes alerts matched by the silences active at one instant.

    A silence that cannot be evaluated (a stored row of the wrong shape, a matcher that raises)
    is skipped and reported in ``skipped`` (id → reason); it never fails the evaluation.
    """

    def __init__(
        self, silences: list[Silence], now: datetime, skipped: dict[int, str] | None = None
    ) -> None:
        self.skipped: dict[int, str] = dict(skipped or {})
        self.active: list[Silence] = []
        for silence in silences:
            try:
                if silence.active(now):
                    self.active.append(silence)
            except Exception as exc:  # one bad silence costs only itself
                self._skip(silence.id, f"cannot tell whether it is in force: {exc}")

    def _skip(self, silence_id: int, reason: str) -> None:
        log.debug("silence %s skipped: %s", silence_id, reason)
        self.skipped[silence_id] = reason

    @classmethod
    def load(cls, conn: psycopg.Connection, now: datetime) -> Silencer:
        """The silences in force at ``now``; rows that do not validate are skipped."""
        rows = conn.execute(ACTIVE_SQL, {"now": now}).fetchall()
        silences = []
        skipped: dict[int, str] = {}
        for sid, matchers, starts, ends, recurrence in rows:
            try:
                silences.append(
                    Silence(
                        id=sid,
                        matchers=matchers,
                        starts_at=starts,
                        ends_at=ends,
                        recurrence=recurrence,
                    )
                )
            except ValueError as exc:  # pydantic's ValidationError included
                reason = str(exc).replace("\n", "; ")
                log.debug("silence %s skipped: stored row is invalid: %s", sid, reason)
                skipped[sid] = f"stored row is invalid: {reason}"
        return cls(silences, now, skipped)

    def muted_by(self, labels: Mapping[str, str]) -> list[int]:
        """Ids of the active silences matching these labels."""
        muted = []
        for silence in self.active:
            if silence.id in self.skipped:
                continue
            try:
                if silence.matches(labels):
                    muted.append(silence.id)
            except Exception as exc:  # e.g. a matcher that raises: skip it from now on
                self._skip(silence.id, f"cannot match labels: {exc}")
        return sorted(muted)


def matchers_for(**labels: str) -> list[dict[str, str]]:
    """Equality matchers from keyword labels: ``matchers_for(site="ts-ubnd")``."""
    unknown = set(labels) - set(LABELS)
    if unknown:
        raise ValueError(f"unknown label(s) {sorted(unknown)}; known: {list(LABELS)}")
    return [{"label": k, "op": "=", "value": v} for k, v in labels.items()]


def create_silence(
    conn: psycopg.Connection,
    *,
    matchers: list[dict[str, Any]] | list[Matcher],
    starts_at: datetime,
    ends_at: datetime,
    created_by: str,
    comment: str = "",
    recurrence: dict[str, Any] | Recurrence | None = None,
) -> int:
    """Store a validated silence and return its id."""
    checked = [Matcher.model_validate(m) for m in matchers]
    if not checked:
        raise ValueError("a silence needs at least one matcher")
    check_instant(starts_at)
    check_instant(ends_at)
    if ends_at <= starts_at:
        raise ValueError("ends_at must be after starts_at")
    rec = Recurrence.model_validate(recurrence) if recurrence is not None else None
    row = conn.execute(
        INSERT_SQL,
        {
            "matchers": Jsonb([m.model_dump() for m in checked]),
            "starts_at": starts_at,
            "ends_at": ends_at,
            "recurrence": Jsonb(rec.model_dump(mode="json")) if rec else None,
            "created_by": created_by,
            "comment": comment,
        },
    ).fetchone()
    assert row is not None
    return int(row[0])


def expire_silence(conn: psycopg.Connection, silence_id: int, now: datetime) -> bool:
    """End a silence early; False when it was not in force any more."""
    return conn.execute(EXPIRE_SQL, {"id": silence_id, "now": now}).fetchone() is not None
