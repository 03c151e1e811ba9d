"""Alerts held back (kept pending) while the facts are not in yet; every wait is bounded.

- **Parent state unknown.** Last wills arrive in any order: a camera's will may come before
  its uplink's. A device that went offline while none of its parents is known to be down, and
  none has spoken since, waits up to ``alerts_parent_hold_s``: if a parent then goes down the
  device is unreachable (its alert is suppressed by the parent's, one root-cause message);
  if a parent speaks, the device's own outage is genuine and its alert fires.
- **Broker restart.** When the broker stops, it delivers every client's will at once (and
  ingest gets them when it reconnects) although nothing happened to the devices. The engine's
  own MQTT connection drops too: wills received from shortly before that drop until
  ``alerts_broker_settle_s`` after the engine is back are held, and the pipeline is down
  (the blind window) meanwhile. A real outage (one commune's power, one uplink) leaves the
  engine connected and goes through topology as usual.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg

from alerts.reachability import DOWN, Topology

LAST_HEARD_SQL = """
SELECT device_id, last_received_at FROM device_status WHERE device_id = ANY(%(ids)s)
"""
RECENT_WILLS_SQL = """
SELECT device_id FROM device_status WHERE online = false AND last_received_at >= %(since)s
"""
# Wills the broker sends as it shuts down may arrive a little before our connection drops.
SHUTDOWN_MARGIN = timedelta(seconds=5)


def parents_unknown(
    conn: psycopg.Connection,
    topo: Topology,
    own: dict[str, str],
    unreachable: dict[str, str],
    now: datetime,
    hold: timedelta,
) -> frozenset[str]:
    """Offline devices whose parents' state is not known yet (within ``hold`` of going quiet)."""
    if hold <= timedelta(0):
        return frozenset()
    candidates = [
        d for d, s in own.items() if s == "offline" and d not in unreachable and topo.parents.get(d)
    ]
    if not candidates:
        return frozenset()
    ids = set(candidates) | {p for d in candidates for p in topo.parents[d]}
    heard: dict[str, datetime | None] = dict(
        conn.execute(LAST_HEARD_SQL, {"ids": sorted(ids)}).fetchall()
    )
    held = set()
    for device in candidates:
        quiet_since = heard.get(device)
        if quiet_since is None or now - quiet_since > hold:
            continue
        up = [p for p in topo.parents[device] if own.get(p) not in DOWN]
        spoke = [p for p in up if (heard.get(p) or quiet_since) > quiet_since]
        if up and not spoke:
            held.add(device)
    return frozenset(held)


def broker_restart_wills(conn: psycopg.Connection, dropped_at: datetime) -> frozenset[str]:
    """Devices marked offline by a will received around or after the broker went away."""
    rows = conn.execute(RECENT_WILLS_SQL, {"since": dropped_at - SHUTDOWN_MARGIN}).fetchall()
    return frozenset(r[0] for r in rows)
