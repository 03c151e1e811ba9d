"""Per device and local day: seconds online, offline, unreachable, in maintenance, unknown.

A device is *down* when its last status says offline (last will) or when it is inside a report
gap: silent for more than k x its interval, counted from its first missed report (last message
+ interval) to its next message. Down time is *unreachable* (not the device's fault) when all of
its topology parents were down too, or the alert engine marked it unreachable; otherwise it is
*offline*. Maintenance windows (device-scoped silences) win over every other state; *unknown*
is the time before the first evidence of the device (no message or status yet).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg

from storage.intervals import Spans, intersect, merge, subtract, total
from storage.maintenance import MaintenanceWindows
from storage.settings import StorageSetup

log = logging.getLogger(__name__)

DEVICES = """
SELECT d.id, d.key, d.type, coalesce(d.site_id, ''), d.commune_code, d.interval_s,
       coalesce(array_agg(p.parent_id) FILTER (WHERE p.parent_id IS NOT NULL), '{}')
FROM devices d LEFT JOIN device_parents p ON p.device_id = d.id
WHERE (%(commune)s::text IS NULL OR d.commune_code = %(commune)s)
  AND (d.decommissioned_at IS NULL OR d.decommissioned_at > %(lo)s)
GROUP BY d.id
"""
# Report gaps longer than k x interval inside [lo, hi), plus each device's first/last message.
GAPS = """
WITH t AS MATERIALIZED (
    SELECT DISTINCT device_key, time FROM telemetry_points
    WHERE time >= %(lo)s AND time < %(hi)s AND device_key = ANY(%(keys)s)
), g AS (
    SELECT device_key, lag(time) OVER (PARTITION BY device_key ORDER BY time) AS prev, time
    FROM t
)
SELECT g.device_key, 'gap', g.prev, g.time FROM g JOIN devices d ON d.key = g.device_key
WHERE g.prev IS NOT NULL
  AND g.time - g.prev > make_interval(secs => d.interval_s * %(k)s)
UNION ALL
SELECT device_key, 'span', min(time), max(time) FROM t GROUP BY device_key
"""
# Newest message before lo per device: one backward index probe per (device, metric).
PREVIOUS = """
SELECT d.key, max(x.time)
FROM devices d JOIN device_type_metrics tm ON tm.type = d.type
CROSS JOIN LATERAL (
    SELECT p.time FROM telemetry_points p
    WHERE p.device_key = d.key AND p.metric_id = tm.metric_id
      AND p.time < %(lo)s AND p.time >= %(floor)s
    ORDER BY p.time DESC LIMIT 1) x
WHERE d.key = ANY(%(keys)s)
GROUP BY d.key
"""
STATUS = """
SELECT device_id, time, online FROM (
    SELECT DISTINCT ON (device_id) device_id, time, online FROM device_status_changes
    WHERE time < %(lo)s AND device_id = ANY(%(ids)s) ORDER BY device_id, time DESC) before
UNION ALL
SELECT device_id, time, online FROM device_status_changes
WHERE time >= %(lo)s AND time < %(hi)s AND device_id = ANY(%(ids)s)
ORDER BY 1, 2
"""
# Unobserved (its edge collector was down) counts apart like unreachable: not the device's fault.
REACH = """
SELECT device_id, time, state IN ('unreachable', 'unobserved') FROM (
    SELECT DISTINCT ON (device_id) device_id, time, state FROM device_reachability_changes
    WHERE time < %(lo)s AND device_id = ANY(%(ids)s) ORDER BY device_id, time DESC) before
UNION ALL
SELECT device_id, time, state IN ('unreachable', 'unobserved') FROM device_reachability_changes
WHERE time >= %(lo)s AND time < %(hi)s AND device_id = ANY(%(ids)s)
ORDER BY 1, 2
"""
# Values that say a reachable device does not do its job (the device_health view's failed rule,
# over time): a camera without video, a loudspeaker whose amplifier cannot play. Such time is
# not available time. The newest value before lo says how the day starts.
FAILING = """
SELECT x.device_key, x.metric, x.time, x.bad FROM (
    SELECT DISTINCT ON (p.device_key, p.metric_id) p.device_key, m.name AS metric, p.time,
           p.value < %(bad_below)s AS bad
    FROM telemetry_points p JOIN metrics m ON m.id = p.metric_id
    WHERE m.name IN ('stream_up', 'fps', 'amp_ok') AND p.device_key = ANY(%(keys)s)
      AND p.time < %(lo)s AND p.time >= %(floor)s
    ORDER BY p.device_key, p.metric_id, p.time DESC) x
UNION ALL
SELECT p.device_key, m.name, p.time,
       CASE m.name WHEN 'fps' THEN p.value <= 0 ELSE p.value < 0.5 END
FROM telemetry_points p JOIN metrics m ON m.id = p.metric_id
WHERE m.name IN ('stream_up', 'fps', 'amp_ok') AND p.device_key = ANY(%(keys)s)
  AND p.time >= %(lo)s AND p.time < %(hi)s
ORDER BY 1, 2, 3
"""
# Which metric proves which type does its job (others: reachable is enough).
FUNCTION_METRICS = {"camera": ("stream_up", "fps"), "speaker": ("amp_ok",)}
UPSERT = """
INSERT INTO availability_daily (day, device_id, online_s, offline_s, unreachable_s,
                                maintenance_s, unknown_s, complete, computed_at)
VALUES (%(day)s, %(device_id)s, %(online_s)s, %(offline_s)s, %(unreachable_s)s,
        %(maintenance_s)s, %(unknown_s)s, %(complete)s, now())
ON CONFLICT (day, device_id) DO UPDATE SET online_s = excluded.online_s,
    offline_s = excluded.offline_s, unreachable_s = excluded.unreachable_s,
    maintenance_s = excluded.maintenance_s, unknown_s = excluded.unknown_s,
    complete = excluded.complete, computed_at = excluded.computed_at
"""
DONE_DAYS = "SELECT DISTINCT day FROM availability_daily WHERE day >= %(d0)s AND complete"


@dataclass
class _Dev:
    id: str
    key: int
    type: str
    site: str
    commune: str
    interval: int
    parents: list[str]


def _flags(rows: list[tuple[str, datetime, bool]], lo: float, hi: float) -> dict[str, Spans]:
    """Spans where the flag was true, from (device, time, flag) changes sorted by time."""
    out: dict[str, Spans] = {}
    since: dict[str, float | None] = {}
    for dev, when, flag in rows:
        ts = max(lo, when.timestamp())
        if flag and since.get(dev) is None:
            since[dev] = ts
        elif not flag and since.get(dev) is not None:
            out.setdefault(dev, []).append((since[dev] or lo, ts))
            since[dev] = None
        since.setdefault(dev, None)
    for dev, start in since.items():
        if start is not None:
            out.setdefault(dev, []).append((start, hi))
    return {k: merge(v) for k, v in out.items()}


def _failing(
    conn: psycopg.Connection,
    devs: list[_Dev],
    params: dict[str, object],
    lo: float,
    hi: float,
) -> dict[int, Spans]:
    """Spans per device key where a function metric said it does not do its job."""
    keys = [d.key for d in devs if d.type in FUNCTION_METRICS]
    if not keys:
        return {}
    # (fps uses <= 0; the flags 0/1 use < 0.5; the "before" row applies the flag test to fps
    # too, where any fps below 0.5 means no usable video.)
    rows = conn.execute(FAILING, {**params, "keys": keys, "bad_below": 0.5}).fetchall()
    spans = _flags([(f"{key}:{metric}", when, bad) for key, metric, when, bad in rows], lo, hi)
    out: dict[int, Spans] = {}
    for name, found in spans.items():
        key = int(name.split(":", 1)[0])
        out[key] = merge(out.get(key, []) + found)
    return out


def compute_day(
    conn: psycopg.Connection,
    settings: StorageSetup,
    day: date,
    now: datetime,
    commune: str | None = None,
) -> list[dict[str, object]]:
    """Availability rows of one local day (partial when the day is not over)."""
    tz = ZoneInfo(settings.report.timezone)
    start = datetime.combine(day, time(), tz)
    lo, hi = start.timestamp(), (start + timedelta(days=1)).timestamp()
    cap = min(hi, now.timestamp())
    if cap <= lo:
        return []
    devs = [
        _Dev(*row) for row in conn.execute(DEVICES, {"commune": commune, "lo": start}).fetchall()
    ]
    if not devs:
        return []
    k = settings.availability.gap_factor
    look = min(now.timestamp(), hi + k * max(d.interval for d in devs))
    keys = [d.key for d in devs]
    ids = [d.id for d in devs]
    utc = {"lo": start.astimezone(UTC), "hi": datetime.fromtimestamp(cap, UTC)}
    gaps: dict[int, Spans] = {}
    spans: dict[int, tuple[float, float]] = {}
    params = {"lo": utc["lo"], "hi": datetime.fromtimestamp(look, UTC), "keys": keys, "k": k}
    for key, kind, a, b in conn.execute(GAPS, params).fetchall():
        if kind == "gap":
            gaps.setdefault(key, []).append((a.timestamp(), b.timestamp()))
        else:
            spans[key] = (a.timestamp(), b.timestamp())
    floor = utc["lo"] - timedelta(days=settings.raw_days + 1)
    prev = {
        key: t.timestamp()
        for key, t in conn.execute(
            PREVIOUS, {"lo": utc["lo"], "floor": floor, "keys": keys}
        ).fetchall()
    }
    status_rows = conn.execute(STATUS, {**utc, "ids": ids}).fetchall()
    offline = _flags([(d, t, not online) for d, t, online in status_rows], lo, cap)
    first_status: dict[str, float] = {}
    for dev_id, when, _ in status_rows:
        first_status.setdefault(dev_id, when.timestamp())
    unreach = _flags(conn.execute(REACH, {**utc, "ids": ids}).fetchall(), lo, cap)
    failing = _failing(conn, devs, {**utc, "floor": floor}, lo, cap)
    windows = MaintenanceWindows(conn, lo, cap)
    window = [(lo, cap)]
    down: dict[str, Spans] = {}
    evidence: dict[str, float] = {}
    for d in devs:
        iv = float(d.interval)
        own: Spans = list(offline.get(d.id, []))
        seen = [t for t in (prev.get(d.key), *(spans.get(d.key) or ())) if t is not None]
        if seen:
            own += [(a + iv, b) for a, b in gaps.get(d.key, [])]
            first_in = spans[d.key][0] if d.key in spans else None
            before = prev.get(d.key)
            if before is not None and first_in is not None and first_in - before > k * iv:
                own.append((before + iv, first_in))
            last = max(seen)
            if look - last > k * iv:
                own.append((last + iv, look))
        starts = [*seen, first_status.get(d.id, float("inf"))]
        evidence[d.id] = min(starts)
        down[d.id] = intersect(own, window)
    rows = []
    for d in devs:
        labels = {"device": d.id, "type": d.type, "site": d.site, "commune": d.commune}
        maint = intersect(windows.for_device(labels), window)
        rest = subtract(window, maint)
        unknown = intersect(rest, [(lo, evidence[d.id])])
        rest = subtract(rest, unknown)
        parents = [down[p] for p in d.parents if p in down]
        cut: Spans = parents[0] if parents else []
        for p_down in parents[1:]:
            cut = intersect(cut, p_down)
        # A child's gap starts at its own last report, up to one interval before its parent's.
        slack = float(d.interval)
        cut = [(a - slack, b + slack) for a, b in cut]
        blamed_elsewhere = merge(cut + unreach.get(d.id, []))
        # Reachable but without video / unable to play counts as the device's own down time.
        own_down = intersect(rest, merge(down[d.id] + failing.get(d.key, [])))
        unreachable = intersect(own_down, blamed_elsewhere)
        rows.append(
            {
                "day": day,
                "device_id": d.id,
                "online_s": total(subtract(rest, own_down)),
                "offline_s": total(subtract(own_down, unreachable)),
                "unreachable_s": total(unreachable),
                "maintenance_s": total(maint),
                "unknown_s": total(unknown),
                "complete": cap >= hi,
            }
        )
    return rows


def refresh(conn: psycopg.Connection, settings: StorageSetup, now: datetime | None = None) -> int:
    """Compute missing or incomplete days within raw retention and the recent days; upsert."""
    now = now or datetime.now(UTC)
    today = now.astimezone(ZoneInfo(settings.report.timezone)).date()
    d0 = today - timedelta(days=settings.raw_days - 1)
    done = {r[0] for r in conn.execute(DONE_DAYS, {"d0": d0}).fetchall()}
    recent = today - timedelta(days=settings.availability.recompute_days)
    days = [
        d0 + timedelta(days=i)
        for i in range((today - d0).days + 1)
        if (d0 + timedelta(days=i)) not in done or d0 + timedelta(days=i) >= recent
    ]
    written = 0
    for day in days:
        rows = compute_day(conn, settings, day, now)
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(UPSERT, rows)
        written += len(rows)
    log.info("availability: %d day(s), %d row(s)", len(days), written)
    return written
