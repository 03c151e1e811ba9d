"""Read-only checks of a drill's outcome: incidents in ``alerts`` or evidence in the data."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from devices.catalogue import all_metrics
from simulators.device import Message
from simulators.scenario import DataCheck, FaultStep
from simulators.world import World

ENGINE_RUNNING = """
SELECT to_regclass('alerts') IS NOT NULL AND EXISTS (
    SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database
    WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database())
"""
ALERT_WATERMARK = "SELECT coalesce(max(id), 0) FROM alerts"
NOTIFICATION_WATERMARK = "SELECT coalesce(max(id), 0) FROM notifications"
# Alerts of this drill, plus alerts already open when it started (one open alert per
# fingerprint: a fault repeated while an earlier run's alert is still open updates that alert).
NEW_ALERTS = """
SELECT id, rule, device_id, severity, state, suppressed_by, silenced_by, started_at,
       id > %(watermark)s AS new
FROM alerts
WHERE id > %(watermark)s OR id = ANY(%(open_before)s)
ORDER BY id
"""
OPEN_ALERTS = "SELECT coalesce(array_agg(id), '{}') FROM alerts WHERE state <> 'resolved'"
NEW_NOTIFICATIONS = """
SELECT count(*) FROM notifications
WHERE id > %(watermark)s AND (%(kind)s::text IS NULL OR kind = %(kind)s)
"""
STATUS_CHANGES = """
SELECT count(*) FILTER (WHERE NOT online), count(*) FILTER (WHERE online AND received_at > (
           SELECT min(received_at) FROM device_status_changes
           WHERE device_id = %(device)s AND NOT online AND received_at >= %(since)s)),
       count(*)
FROM device_status_changes WHERE device_id = %(device)s AND received_at >= %(since)s
"""
METRIC = """
SELECT count(*) FROM telemetry
WHERE device_id = %(device)s AND metric = %(metric)s AND time = ANY(%(times)s)
  AND (%(eq)s::float8 IS NULL OR value = %(eq)s)
  AND (%(below)s::float8 IS NULL OR value < %(below)s)
  AND (%(above)s::float8 IS NULL OR value > %(above)s)
"""
EVENT = """
SELECT count(*) FROM device_events
WHERE device_id = %(device)s AND type = %(event)s AND time = ANY(%(times)s) AND data @> %(data)s
"""
QUARANTINE = """
SELECT count(*) FROM quarantine
WHERE last_received_at >= %(since)s AND (%(device)s::text IS NULL OR topic LIKE %(pattern)s)
"""
OFFLINE_SHARE = """
SELECT count(DISTINCT c.device_id)::float8 / greatest(1, (
           SELECT count(*) FROM devices WHERE %(target)s IN (commune_code, site_id)))
FROM device_status_changes c JOIN devices d ON d.id = c.device_id
WHERE %(target)s IN (d.commune_code, d.site_id) AND NOT c.online AND c.received_at >= %(since)s
"""


def engine_running(conn: psycopg.Connection) -> bool:
    """True when the alerts table exists and an alert engine leader holds its lock."""
    row = conn.execute(ENGINE_RUNNING).fetchone()
    return bool(row and row[0])


class Evidence:
    """What this drill published, so checks only count this run's rows (exact timestamps)."""

    def __init__(self, wall_start: datetime, devices: set[str]) -> None:
        self.wall_start = wall_start
        self.devices = devices
        self.telemetry: dict[str, list[datetime]] = {d: [] for d in devices}
        self.readings: dict[str, list[datetime]] = {d: [] for d in devices}
        self.events: dict[str, list[datetime]] = {d: [] for d in devices}

    def record(self, message: Message) -> None:
        """Note the timestamps of a watched device's telemetry, backfill or event message."""
        if message.device not in self.devices or message.kind not in (
            "telemetry",
            "readings",
            "event",
        ):
            return
        body = json.loads(message.payload)
        if message.kind == "readings":
            times = [datetime.fromisoformat(r["ts"]) for r in body["readings"]]
            self.readings[message.device] += times
            self.telemetry[message.device] += times
        elif message.kind == "event":
            self.events[message.device].append(datetime.fromisoformat(body["ts"]))
        else:
            self.telemetry[message.device].append(datetime.fromisoformat(body["ts"]))


def _number(metric: str, value: Any) -> float | None:
    """Wire value → stored number (enum label → index, bool → 0/1)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, str):
        spec = all_metrics().get(metric)
        if spec is None or value not in spec.enum_values:
            raise ValueError(f"metric {metric}: unknown label {value!r}")
        return float(spec.enum_values.index(value))
    return float(value)


def measure(conn: psycopg.Connection, check: DataCheck, seen: Evidence) -> float:
    """The observed quantity of a data check (it passes when ≥ ``check.min``)."""
    since = seen.wall_start
    device = check.device
    if check.check in ("offline", "online", "status_changes"):
        row = conn.execute(STATUS_CHANGES, {"device": device, "since": since}).fetchone()
        offline, online_after, total = row or (0, 0, 0)
        return float(
            {"offline": offline, "online": online_after, "status_changes": total}[check.check]
        )
    if check.check in ("metric", "backfill"):
        assert device is not None
        times = (seen.readings if check.check == "backfill" else seen.telemetry)[device]
        metric = check.metric or "online"
        params: dict[str, Any] = {
            "device": device, "metric": metric, "times": times,
            "eq": _number(metric, check.value), "below": check.below, "above": check.above,
        }  # fmt: skip
        return float(conn.execute(METRIC, params).fetchone()[0])  # type: ignore[index]
    if check.check == "event":
        assert device is not None
        params = {"device": device, "event": check.event, "times": seen.events[device],
                  "data": Jsonb(check.data)}  # fmt: skip
        return float(conn.execute(EVENT, params).fetchone()[0])  # type: ignore[index]
    if check.check == "quarantine":
        params = {"since": since, "device": device, "pattern": f"%/{device}/%"}
        return float(conn.execute(QUARANTINE, params).fetchone()[0])  # type: ignore[index]
    row = conn.execute(OFFLINE_SHARE, {"target": check.target, "since": since}).fetchone()
    return float(row[0]) if row else 0.0


def derived_checks(faults: list[FaultStep], world: World) -> list[tuple[int, DataCheck]]:
    """What each injected fault must make visible in the data (fault index, check)."""
    out: list[tuple[int, DataCheck]] = []
    for i, step in enumerate(faults):
        hit = world.targets(step.target, step.fault)
        first = hit[0].id

        def add(i: int = i, **kw: Any) -> None:
            out.append((i, DataCheck(**kw)))

        fault = step.fault
        if fault in ("uplink_cut", "link_down", "outage"):
            add(check="offline", device=first)
            buffered = [d for d in _behind(world, first) if d.buffers]
            if fault != "outage" and buffered:
                add(check="backfill", device=buffered[0].id, metric="online")
        elif fault == "power_cut":
            cut = [d for d in hit if d.type != "speaker"]
            if cut:
                add(check="offline", device=cut[0].id)
            standalone = [d for d in hit if d.type == "speaker" and not d.parents]
            if standalone:
                add(check="metric", device=standalone[0].id, metric="mains_ok", value=False)
        elif fault == "storm":
            add(
                check="offline_share",
                target=step.target if step.target != "*" else hit[0].commune,
                min=0.05,
            )
        elif fault == "flapping":
            add(check="status_changes", device=first, min=4)
        elif fault == "video_loss":
            add(check="metric", device=first, metric="fps", value=0)
            add(check="event", device=first, event="video_loss")
        elif fault == "tamper":
            add(check="event", device=first, event="tamper")
        elif fault == "disk_failure":
            add(check="metric", device=first, metric="disk_status", value="smartfailed")
            add(check="event", device=first, event="disk_failure")
        elif fault == "amp_fault":
            add(check="metric", device=first, metric="amp_ok", value=False)
            add(check="event", device=first, event="amp_fault")
        elif fault == "weak_signal":
            add(check="metric", device=first, metric="rsrp_dbm", below=-100)
        elif fault == "link_degraded":
            add(check="metric", device=first, metric="loss_pct", above=10)
        elif fault == "emergency_broadcast":
            add(check="event", device=first, event="broadcast", data={"priority": "emergency"})
        elif fault == "malformed":
            add(check="quarantine", device=first)
    return out


def _behind(world: World, device_id: str) -> list[Any]:
    found, stack = [], list(world.devices[device_id].children)
    while stack:
        device = stack.pop(0)
        if len(device.parents) == 1:
            found.append(device)
            stack.extend(device.children)
    return found


def describe(check: DataCheck) -> str:
    """A short human form of a data check."""
    parts = [check.check, check.device or check.target or ""]
    if check.metric and check.check == "metric":
        cond = (
            f"= {check.value}" if check.value is not None
            else f"< {check.below}" if check.below is not None else f"> {check.above}"
        )  # fmt: skip
        parts.append(f"{check.metric} {cond}")
    if check.event:
        parts.append(check.event + (f" {check.data}" if check.data else ""))
    return " ".join(p for p in parts if p)
