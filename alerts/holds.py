"""Alerts held back (kept pending) while the facts are not in yet; every wait is bounded.

- **Parent state unknown.** A cut is found by each device's own detection: the broker
  declares an MQTT client gone 1.5 x its keep-alive after its last packet, so the wills of
  the devices behind a cut uplink arrive spread over up to that long, the uplink's own as
  likely last as first; a device without its own MQTT session (polled by an edge collector,
  a link known by ping) is found down when it misses a report interval. A device that went
  offline while none of its parents is known to be down, and none has spoken since its will,
  waits until every such parent could have been found down by the same mechanism (see
  :meth:`HoldPolicy.deadline`): if a parent then goes down the device is unreachable (its
  alert is suppressed by the parent's, one root-cause message); if a parent speaks, the
  device's own outage is genuine and its alert fires at once.
- **Children as evidence.** Several children of one parent going offline after the parent's
  last message, with the parent silent for one report interval, presume the parent down
  (:func:`presumed_down`): its offline alert opens then, not only when its will comes.
- **Broker restart.** When the broker stops, it delivers every client's will at once (and
  ingest gets them when it reconnects) although nothing happened to the devices. The engine's
  own MQTT connection drops too: wills received from shortly before that drop until
  ``alerts_broker_settle_s`` after the engine is back are held, and the pipeline is down
  (the blind window) meanwhile. A real outage (one commune's power, one uplink) leaves the
  engine connected and goes through topology as usual.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg

from alerts.reachability import CUT_CANDIDATES, DOWN, LATE_FACTOR, Topology
from alerts.settings import AlertSettings
from devices.catalogue import TYPES

# Wills are not messages: ingest leaves last_received_at alone and dates them in status_time.
HEARD_SQL = """
SELECT d.id, d.type, d.interval_s, d.observed_by IS NOT NULL, s.online, s.last_received_at,
       s.status_time, s.keepalive_s
FROM devices d LEFT JOIN device_status s ON s.device_id = d.id
WHERE d.id = ANY(%(ids)s)
"""
RECENT_WILLS_SQL = """
SELECT device_id FROM device_status WHERE online = false AND last_received_at >= %(since)s
"""
# Wills the broker sends as it shuts down may arrive a little before our connection drops.
SHUTDOWN_MARGIN = timedelta(seconds=5)
# MQTT 3.1.1 / 5: the broker drops a client silent for one and a half keep-alive periods.
KEEPALIVE_GRACE = 1.5


@dataclass(frozen=True)
class Heard:
    """What ingest last heard from one device, and how its outage would be detected."""

    type: str
    interval_s: float
    observed: bool  # polled by an edge collector: no MQTT session of its own
    heard: datetime | None  # its last message, or its birth
    quiet: datetime | None  # when it went quiet: its will, else its last message
    birth_keepalive_s: int | None = None

    @property
    def keepalive_s(self) -> float:
        """Its MQTT keep-alive: as its birth message said, else its type's default."""
        if self.birth_keepalive_s:
            return float(self.birth_keepalive_s)
        known = TYPES.get(self.type)
        return float(known.keepalive_s if known else 60)


@dataclass(frozen=True)
class HoldPolicy:
    """How long a quiet child waits for its parents, and when children accuse their parent."""

    margin: timedelta = timedelta(seconds=5)
    by_type: Mapping[str, float] = field(default_factory=dict)
    max_hold: timedelta = timedelta(minutes=5)
    suspect_children: int = 3

    @classmethod
    def from_settings(cls, settings: AlertSettings) -> HoldPolicy:
        """The policy of ``IOC_ALERTS_PARENT_HOLD_*`` and ``..._SUSPECT_CHILDREN``."""
        return cls(
            timedelta(seconds=settings.parent_hold_s),
            dict(settings.parent_hold_by_type),
            timedelta(seconds=settings.parent_hold_max_s),
            settings.parent_suspect_children,
        )

    def deadline(self, parent: Heard, quiet: datetime) -> datetime:
        """Latest time ``parent`` is found down if it was cut when its child went quiet."""
        by_silence = (parent.heard or quiet) + timedelta(seconds=parent.interval_s * LATE_FACTOR)
        override = self.by_type.get(parent.type)
        if override is not None:
            found = quiet + timedelta(seconds=override)
        elif parent.observed:
            found = by_silence
        else:
            found = min(by_silence, quiet + timedelta(seconds=KEEPALIVE_GRACE * parent.keepalive_s))
        return min(found + self.margin, quiet + self.max_hold)

    def judged(self, parent: Heard, quiet: datetime) -> datetime:
        """When a suspected parent's silence is judged (one interval, ``presumed_down``)."""
        late = (parent.heard or quiet) + timedelta(seconds=parent.interval_s * LATE_FACTOR)
        return min(late + self.margin, quiet + self.max_hold)


def _heard(conn: psycopg.Connection, ids: set[str]) -> dict[str, Heard]:
    out = {}
    for device, dtype, interval, observed, online, last, status_time, keepalive in conn.execute(
        HEARD_SQL, {"ids": sorted(ids)}
    ):
        heard, quiet = last, last
        if online is True and status_time is not None and (last is None or status_time > last):
            heard = status_time  # a birth after its last message
        if online is False and status_time is not None and (last is None or status_time > last):
            quiet = status_time  # its will
        out[device] = Heard(dtype, float(interval), bool(observed), heard, quiet, keepalive)
    return out


def parents_unknown(
    conn: psycopg.Connection,
    topo: Topology,
    own: dict[str, str],
    unreachable: dict[str, str],
    now: datetime,
    policy: HoldPolicy,
) -> frozenset[str]:
    """Offline devices whose parents could still be found down (see the module docstring)."""
    candidates = [
        d for d, s in own.items() if s == "offline" and d not in unreachable and topo.parents.get(d)
    ]
    if not candidates:
        return frozenset()
    heard = _heard(conn, set(candidates) | {p for d in candidates for p in topo.parents[d]})
    # Children offline since a parent's last message: enough of them put it under suspicion,
    # and its children wait for its silence to be judged (``presumed_down``) whatever its
    # keep-alive says (its own will may be lost or late).
    accused: dict[str, int] = {}
    for device in candidates:
        quiet = heard[device].quiet if device in heard else None
        for p in topo.parents[device]:
            last = heard[p].heard if p in heard else None
            if quiet is not None and (last is None or quiet > last):
                accused[p] = accused.get(p, 0) + 1
    held = set()
    for device in candidates:
        child = heard.get(device)
        quiet = child.quiet if child else None
        if quiet is None:
            continue
        up = [p for p in topo.parents[device] if own.get(p) not in DOWN and p in heard]
        if not up or any((h := heard[p].heard) is not None and h > quiet for p in up):
            continue  # a parent is down (topology decides) or spoke since: the outage is its own
        deadlines = [policy.deadline(heard[p], quiet) for p in up]
        k = policy.suspect_children
        deadlines += [
            policy.judged(heard[p], quiet) for p in up if k > 0 and accused.get(p, 0) >= k
        ]
        if now < max(deadlines):
            held.add(device)
    return frozenset(held)


def presumed_down(
    conn: psycopg.Connection, topo: Topology, own: dict[str, str], policy: HoldPolicy
) -> frozenset[str]:
    """Parents silent for one interval whose children keep going offline after them.

    ``suspect_children`` children offline since the parent's last message are taken as
    evidence that the parent itself is cut: it counts as offline now, so its alert opens and
    suppresses theirs, instead of waiting for its will or for k report intervals.
    """
    k = policy.suspect_children
    suspects = [p for p, s in own.items() if s in ("late", "stale") and topo.children.get(p)]
    if k <= 0 or not suspects:
        return frozenset()
    kids = {p: [c for c in topo.children[p] if own.get(c) in CUT_CANDIDATES] for p in suspects}
    suspects = [p for p in suspects if len(kids[p]) >= k]
    if not suspects:
        return frozenset()
    heard = _heard(conn, set(suspects) | {c for p in suspects for c in kids[p]})
    down = set()
    for parent in suspects:
        last = heard[parent].heard if parent in heard else None
        after = [
            c
            for c in kids[parent]
            if c in heard and (q := heard[c].quiet) is not None and (last is None or q > last)
        ]
        if len(after) >= k:
            down.add(parent)
    return frozenset(down)


def broker_restart_wills(conn: psycopg.Connection, dropped_at: datetime) -> frozenset[str]:
    """Devices marked offline by a will received around or after the broker went away."""
    rows = conn.execute(RECENT_WILLS_SQL, {"since": dropped_at - SHUTDOWN_MARGIN}).fetchall()
    return frozenset(r[0] for r in rows)
