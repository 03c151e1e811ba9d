"""Simulated time: epoch seconds that run ``speed`` times faster than the wall clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone

# Vietnam has kept UTC+07:00 without daylight saving since 1975; a fixed offset is exact and
# much cheaper than zoneinfo on the hot path.
VN_TZ = timezone(timedelta(hours=7), "ICT")


def format_ts(t: float) -> str:
    """RFC 3339 with milliseconds and the Vietnam offset, e.g. 2026-11-23T06:00:00.000+07:00."""
    return datetime.fromtimestamp(t, VN_TZ).isoformat(timespec="milliseconds")


def local_time(t: float) -> tuple[float, int, int]:
    """(hour of day as a float, weekday 0=Monday, day of month) in Vietnam local time."""
    local = datetime.fromtimestamp(t, VN_TZ)
    return local.hour + local.minute / 60 + local.second / 3600, local.weekday(), local.day


def latest_local(hhmm: str, now: float) -> float:
    """The latest ``HH:MM`` (Vietnam time) at or before ``now``: a drill's simulated start."""
    hour, minute = (int(part) for part in hhmm.split(":"))
    local = datetime.fromtimestamp(now, VN_TZ)
    at = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if at.timestamp() > now:
        at -= timedelta(days=1)
    return at.timestamp()


def to_datetime(t: float) -> datetime:
    """Aware UTC datetime of an epoch time."""
    return datetime.fromtimestamp(t, UTC)


class SimClock:
    """Maps wall-clock time to simulated time: ``sim = start + speed * (wall - wall0)``."""

    def __init__(self, start: float, speed: float = 1.0, wall0: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.start = start
        self.speed = speed
        self.wall0 = time.time() if wall0 is None else wall0

    @classmethod
    def ending_now(cls, speed: float, duration: float | None) -> SimClock:
        """A clock whose simulated time reaches the wall clock when ``duration`` real s end.

        With ``speed > 1`` the simulated clock starts in the past so that payload timestamps
        never lie in the future (ingest rejects those); without a duration it starts now.
        """
        now = time.time()
        lag = (duration or 0.0) * (speed - 1) if speed > 1 else 0.0
        return cls(now - lag, speed, now)

    def now(self) -> float:
        """Current simulated epoch time."""
        return self.start + self.speed * (time.time() - self.wall0)

    def wall_of(self, sim: float) -> float:
        """Wall-clock epoch time at which simulated time ``sim`` is reached."""
        return self.wall0 + (sim - self.start) / self.speed
