"""Silences and maintenance windows: label matchers, a validity period, optional recurrence."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import psycopg
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from ioc.matchers import Matcher, cheap_first, match_all
from ioc.silences import LABELS, Recurrence

log = logging.getLogger(__name__)

ACTIVE_SQL = """
SELECT id, matchers, starts_at, ends_at, recurrence FROM silences
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
    """Mutes alerts matched by the silences active at one instant."""

    def __init__(self, silences: list[Silence], now: datetime) -> None:
        self.active = [s for s in silences if s.active(now)]

    @classmethod
    def load(cls, conn: psycopg.Connection, now: datetime) -> Silencer:
        """The silences in force at ``now``."""
        rows = conn.execute(ACTIVE_SQL, {"now": now}).fetchall()
        silences = []
        for sid, matchers, starts, ends, recurrence in rows:
            try:
                silence = Silence(
                    id=sid, matchers=matchers, starts_at=starts, ends_at=ends, recurrence=recurrence
                )
            except ValidationError as exc:  # e.g. a regex RE2 refuses, stored before RE2
                log.warning("silence %s skipped, it cannot be evaluated: %s", sid, exc)
                continue
            silences.append(silence)
        return cls(silences, now)

    def muted_by(self, labels: Mapping[str, str]) -> list[int]:
        """Ids of the active silences matching these labels."""
        return sorted(s.id for s in self.active if s.matches(labels))


def matchers_for(**labels: str) -> list[dict[str, str]]:
    """Equality matchers from keyword labels: ``matchers_for(site="ts-ubnd")``."""
    unknown = set(labels) - set(LABELS)
    if unknown:
        raise ValueError(f"unknown label(s) {sorted(unknown)}; known: {list(LABELS)}")
    return [{"label": k, "op": "=", "value": v} for k, v in labels.items()]
