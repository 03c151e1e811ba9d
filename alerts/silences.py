"""Silences and maintenance windows: label matchers, a validity period, optional recurrence."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import psycopg
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from ioc.bounds import clamped_sql
from ioc.ops.matchers import Matcher, cheap_first, match_all
from ioc.ops.silences import LABELS, Recurrence

log = logging.getLogger(__name__)

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


class Silence(BaseModel):
    """One silence as stored."""

    model_config = ConfigDict(extra="forbid")
    _ordered: list[Matcher] = PrivateAttr(default_factory=list)

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
        """All matchers hold (equality matchers are tested first)."""
        return match_all(self._ordered, labels)

    def model_post_init(self, context: Any, /) -> None:
        """Order the matchers once: cheap equality tests before regular expressions."""
        self._ordered = cheap_first(self.matchers)


class Silencer:
    """Mutes alerts matched by the silences active at one instant.

    A silence that cannot be evaluated (a stored row of the wrong shape, a regex RE2 refuses,
    a matcher that raises) is skipped and reported in ``skipped`` (id → reason); it mutes
    nothing and never fails the evaluation. The engine logs and counts them.
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
                silence = Silence(
                    id=sid, matchers=matchers, starts_at=starts, ends_at=ends, recurrence=recurrence
                )
            except (ValidationError, ValueError, TypeError) as exc:
                reason = str(exc).replace("\n", "; ")
                log.debug("silence %s skipped: stored row is invalid: %s", sid, reason)
                skipped[sid] = f"stored row is invalid: {reason}"
                continue
            silences.append(silence)
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
