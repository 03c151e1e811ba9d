"""Monthly availability report of a commune: per device, site and type, worst devices.

Availability = online / (online + offline): maintenance, unreachable (a parent was down) and
unknown time are excluded, so a camera is not blamed for its uplink; coverage says which share
of the period the figures rest on. A camera counts as online only while it delivers video and a
loudspeaker while it can play (``storage.daily``). Days missing from
``availability_daily`` (job not run yet) are computed on the fly from raw data; time that
cannot be accounted for at all counts as unknown.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
from pydantic import BaseModel, ConfigDict

from storage import daily
from storage.letterhead import Letterhead, default_letterhead, load_letterhead
from storage.settings import StorageSetup

STATES = ("online_s", "offline_s", "unreachable_s", "maintenance_s", "unknown_s")

COMMUNE = "SELECT name, province FROM communes WHERE code = %(code)s"
DEVICES = """
SELECT d.id, d.name, d.type, coalesce(t.name_vi, d.type), coalesce(d.site_id, ''),
       coalesce(s.name, '')
FROM devices d
LEFT JOIN device_types t ON t.type = d.type
LEFT JOIN sites s ON s.id = d.site_id
WHERE d.commune_code = %(code)s
  AND (d.decommissioned_at IS NULL OR d.decommissioned_at > %(lo)s)
ORDER BY d.type, d.id
"""
DAILY = """
SELECT a.day, a.device_id, a.online_s, a.offline_s, a.unreachable_s, a.maintenance_s,
       a.unknown_s
FROM availability_daily a JOIN devices d ON d.id = a.device_id
WHERE d.commune_code = %(code)s AND a.day >= %(d0)s AND a.day < %(d1)s
"""


class Totals(BaseModel):
    """Seconds per state and the availability derived from them."""

    model_config = ConfigDict(extra="forbid")

    online_s: float = 0.0
    offline_s: float = 0.0
    unreachable_s: float = 0.0
    maintenance_s: float = 0.0
    unknown_s: float = 0.0
    availability_pct: float | None = None
    # Share of the period the figures rest on (everything but unknown time): the headline
    # says "dữ liệu 92 % thời gian" so a figure from a few days never passes for a month.
    coverage_pct: float | None = None

    def add(self, other: Totals) -> None:
        """Accumulate another total's seconds."""
        for state in STATES:
            setattr(self, state, getattr(self, state) + getattr(other, state))

    def finish(self) -> None:
        """Derive the availability percentage (None when nothing is known)."""
        base = self.online_s + self.offline_s
        self.availability_pct = round(100 * self.online_s / base, 3) if base > 0 else None
        known = base + self.unreachable_s + self.maintenance_s
        period = known + self.unknown_s
        self.coverage_pct = round(100 * known / period, 3) if period > 0 else None


class DeviceAvailability(Totals):
    """One device's month."""

    device_id: str
    name: str
    type: str
    type_name: str
    site_id: str
    site_name: str


class GroupAvailability(Totals):
    """A site, a device type or the whole commune."""

    key: str
    name: str
    devices: int = 0


class AvailabilityReport(BaseModel):
    """What a commune hands to the province each month."""

    model_config = ConfigDict(extra="forbid")

    commune_code: str
    commune_name: str
    province: str
    month: date
    timezone: str
    period_start: datetime
    period_end: datetime
    generated_at: datetime
    partial: bool
    devices: list[DeviceAvailability]
    sites: list[GroupAvailability]
    types: list[GroupAvailability]
    total: GroupAvailability
    worst: list[DeviceAvailability]
    total_downtime_s: float
    own_downtime_s: float
    letterhead: Letterhead


def month_bounds(month: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Local start of the month and of the next month."""
    first = month.replace(day=1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    return datetime.combine(first, time(), tz), datetime.combine(nxt, time(), tz)


def monthly_report(
    conn: psycopg.Connection,
    commune_code: str,
    month: date,
    *,
    settings: StorageSetup,
    now: datetime | None = None,
) -> AvailabilityReport:
    """Build the availability report of ``commune_code`` for the month holding ``month``."""
    now = now or datetime.now(UTC)
    tz = ZoneInfo(settings.report.timezone)
    start, end = month_bounds(month, tz)
    row = conn.execute(COMMUNE, {"code": commune_code}).fetchone()
    if row is None:
        raise LookupError(f"unknown commune {commune_code!r}")
    commune_name, province = row
    devices = {
        r[0]: DeviceAvailability(
            device_id=r[0], name=r[1], type=r[2], type_name=r[3], site_id=r[4], site_name=r[5]
        )
        for r in conn.execute(DEVICES, {"code": commune_code, "lo": start}).fetchall()
    }
    seen_days: set[date] = set()
    params = {"code": commune_code, "d0": start.date(), "d1": end.date()}
    for day, device_id, *secs in conn.execute(DAILY, params).fetchall():
        if device_id in devices:
            seen_days.add(day)
            _add(devices[device_id], secs)
    horizon = (now - timedelta(days=settings.raw_days - 1)).astimezone(tz)
    day = start.date()
    while day < end.date() and datetime.combine(day, time(), tz) < now:
        if day not in seen_days and day >= horizon.date():
            for r in daily.compute_day(conn, settings, day, now, commune_code):
                if r["device_id"] in devices:
                    _add(devices[str(r["device_id"])], [r[s] for s in STATES])
        day += timedelta(days=1)
    period = (min(end, now) - start).total_seconds()
    for dev in devices.values():
        dev.unknown_s += max(0.0, period - sum(getattr(dev, s) for s in STATES))
        dev.finish()
    report = _assemble(commune_code, commune_name, province, start, end, now, tz, settings, devices)
    report.letterhead = load_letterhead(conn, commune_code, commune_name, province)
    return report


def _add(target: Totals, secs: list[object]) -> None:
    for state, value in zip(STATES, secs, strict=True):
        setattr(target, state, getattr(target, state) + float(value))  # type: ignore[arg-type]


def _group(items: list[DeviceAvailability], key: str, name: str) -> GroupAvailability:
    group = GroupAvailability(key=key, name=name, devices=len(items))
    for item in items:
        group.add(item)
    group.finish()
    return group


def _assemble(
    code: str,
    name: str,
    province: str,
    start: datetime,
    end: datetime,
    now: datetime,
    tz: ZoneInfo,
    settings: StorageSetup,
    devices: dict[str, DeviceAvailability],
) -> AvailabilityReport:
    items = list(devices.values())
    sites: dict[str, list[DeviceAvailability]] = {}
    types: dict[str, list[DeviceAvailability]] = {}
    for dev in items:
        sites.setdefault(dev.site_id, []).append(dev)
        types.setdefault(dev.type, []).append(dev)
    total = _group(items, code, name)
    ranked = sorted(
        (d for d in items if d.availability_pct is not None),
        key=lambda d: (d.availability_pct, -d.offline_s, d.device_id),
    )
    return AvailabilityReport(
        commune_code=code,
        commune_name=name,
        province=province,
        month=start.date(),
        timezone=str(tz),
        period_start=start,
        period_end=end,
        generated_at=now,
        partial=now < end,
        devices=items,
        sites=[_group(v, k, v[0].site_name or k) for k, v in sorted(sites.items())],
        types=[_group(v, k, v[0].type_name) for k, v in sorted(types.items())],
        total=total,
        worst=[d for d in ranked if d.offline_s > 0][: settings.report.worst_devices],
        total_downtime_s=total.offline_s + total.unreachable_s,
        own_downtime_s=total.offline_s,
        letterhead=default_letterhead(name, province),
    )
