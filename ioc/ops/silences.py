"""What a silence is: label matchers, a validity period and an optional recurring window.

The engine (alerts/silences.py) evaluates them; ioc/actions.py creates and expires them; the
API's request body (api/models/alerts.py) extends ``SilenceSpec``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from ioc.bounds import Instant
from ioc.ops.matchers import Matcher

# The labels a silence may match on (every alert carries them).
Label = Literal["commune", "site", "device", "type", "rule", "severity"]
LABELS: tuple[str, ...] = get_args(Label)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, str_strip_whitespace=True)


class SilenceMatcher(Matcher):
    """A matcher on one of the labels every alert carries (``LABELS``)."""

    label: Label


class Recurrence(BaseModel):
    """A daily or weekly window in local time, e.g. every day 02:00–03:00 in Vietnam."""

    model_config = STRICT

    every: Literal["daily", "weekly"] = "daily"
    start: time
    end: time
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = Field([], max_length=7)
    tz: str = "Asia/Ho_Chi_Minh"

    @field_validator("tz")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
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


class SilenceSpec(BaseModel):
    """A silence or maintenance window to create; alerts matching every matcher are muted."""

    model_config = STRICT

    matchers: list[SilenceMatcher] = Field(min_length=1, max_length=20)
    starts_at: Instant | None = Field(None, description="Default: now (1970 to 9000 UTC).")
    ends_at: Instant = Field(description="End, in the future (before 9000 UTC).")
    recurrence: Recurrence | None = Field(None, description="Optional recurring window.")
    comment: str = Field(min_length=1, max_length=1000)
