"""Device reachability: last will, report age and topology combined into one state per device.

``online`` (reporting), ``stale`` (late), ``offline`` (last will, link down, or silent for
k intervals), ``unknown`` (never reported), ``unreachable`` (not reporting and every parent is
down: offline, late or unreachable itself; its root cause is the topmost down ancestor),
``unobserved`` (not reporting while the edge collector that polls it is down: nothing is
known about the device itself; its root cause is the collector).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

log = logging.getLogger(__name__)

# Own state of every device that is not plainly online (the blind window as in absence rules).
OWN_STATE_SQL = """
WITH down AS (
    SELECT DISTINCT device_id FROM device_latest
    WHERE metric = ANY(%(down_metrics)s) AND value = 0
), own AS (
    SELECT d.id,
        CASE
            WHEN s.online = false THEN 'offline'
            WHEN dn.device_id IS NOT NULL THEN 'offline'
            WHEN s.last_received_at IS NULL THEN 'unknown'
            WHEN ioc_alert_overdue(s.last_received_at, d.interval_s * %(offline)s,
                                   %(now)s, %(blind_start)s, %(blind_end)s) THEN 'offline'
            WHEN ioc_alert_overdue(s.last_received_at, d.interval_s * %(stale)s,
                                   %(now)s, %(blind_start)s, %(blind_end)s) THEN 'stale'
            WHEN ioc_alert_overdue(s.last_received_at, d.interval_s * %(late)s,
                                   %(now)s, %(blind_start)s, %(blind_end)s) THEN 'late'
            ELSE 'online'
        END AS state
    FROM devices d
    LEFT JOIN device_status s ON s.device_id = d.id
    LEFT JOIN down dn ON dn.device_id = d.id
    WHERE d.decommissioned_at IS NULL
      AND (s.online = false OR dn.device_id IS NOT NULL OR s.last_received_at IS NULL
           OR s.last_received_at < %(now)s - make_interval(secs => d.interval_s * %(late)s))
)
SELECT id, state FROM own WHERE state <> 'online'
"""

TOPOLOGY_SQL = """
SELECT d.id, d.type, coalesce(
    array_agg(p.parent_id ORDER BY p.parent_id = d.parent_id DESC, p.parent_id)
        FILTER (WHERE p.parent_id IS NOT NULL), '{}'), d.observed_by
FROM devices d
LEFT JOIN (
    SELECT device_id, parent_id FROM device_parents
    UNION SELECT id, parent_id FROM devices WHERE parent_id IS NOT NULL
) p ON p.device_id = d.id
WHERE d.decommissioned_at IS NULL
GROUP BY d.id, d.type, d.observed_by
"""
TOPOLOGY_SIGNATURE_SQL = """
SELECT (SELECT count(*) FROM devices), (SELECT max(updated_at) FROM devices),
       (SELECT count(*) FROM device_parents)
"""

WRITE_SQL = """
WITH desired AS (
    SELECT d.id AS device_id, coalesce(x.state, 'online') AS state, x.root AS root_cause_id
    FROM devices d
    LEFT JOIN unnest(%(ids)b::text[], %(states)b::text[], %(roots)b::text[]) AS x(id, state, root)
        ON x.id = d.id
    WHERE d.decommissioned_at IS NULL
), changed AS (
    SELECT ds.* FROM desired ds
    LEFT JOIN device_reachability r ON r.device_id = ds.device_id
    WHERE r.device_id IS NULL OR r.state <> ds.state
       OR r.root_cause_id IS DISTINCT FROM ds.root_cause_id
), upserted AS (
    INSERT INTO device_reachability AS r (device_id, state, since, root_cause_id, updated_at)
    SELECT device_id, state, %(now)s, root_cause_id, %(now)s FROM changed
    ON CONFLICT (device_id) DO UPDATE SET
        state = excluded.state,
        since = CASE WHEN r.state = excluded.state THEN r.since ELSE excluded.since END,
        root_cause_id = excluded.root_cause_id,
        updated_at = excluded.updated_at
    RETURNING device_id, state, root_cause_id
)
INSERT INTO device_reachability_changes AS c (time, device_id, state, root_cause_id)
SELECT %(now)s, device_id, state, root_cause_id FROM upserted
ON CONFLICT (device_id, time) DO UPDATE SET state = excluded.state,
    root_cause_id = excluded.root_cause_id
RETURNING device_id
"""

CURRENT_UNREACHABLE_SQL = """
SELECT device_id, root_cause_id FROM device_reachability
WHERE state IN ('unreachable', 'unobserved') AND root_cause_id IS NOT NULL
"""

# A parent counts as down for its children when offline, cut off itself, or silent for more
# than one report interval ("late": shown as online, used only here). A silent device behind
# a silent parent is taken as cut off, not as broken, until the parent is back (then its own
# alerts go through) or confirmed offline (then they are suppressed by the parent's alert).
# One interval is the bound that makes a parent suspect before a child reporting every
# interval/k seconds can be overdue (a loudspeaker at 30 s × 3 behind a link at 60 s).
DOWN = frozenset({"offline", "unreachable", "stale", "late"})
LATE_FACTOR = 1.0
CUT_CANDIDATES = frozenset({"offline", "unknown"})
# Registry edits show up within this many seconds (a cheap signature query, not every tick).
SIGNATURE_EVERY_S = 5.0


@dataclass
class Topology:
    """Parents (primary first) and children of every device, with device types."""

    parents: dict[str, list[str]] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    types: dict[str, str] = field(default_factory=dict)
    observer: dict[str, str] = field(default_factory=dict)  # device → its edge collector

    @classmethod
    def load(cls, conn: psycopg.Connection) -> Topology:
        """Read the whole graph (one query)."""
        topo = cls()
        for device_id, device_type, parents, observed_by in conn.execute(TOPOLOGY_SQL):
            topo.types[device_id] = device_type
            if observed_by:
                topo.observer[device_id] = observed_by
            topo.parents[device_id] = list(parents)
            for parent in parents:
                topo.children[parent].append(device_id)
        return topo

    def cut_off(self, own: dict[str, str]) -> dict[str, str]:
        """Devices cut off from every parent, mapped to their root cause (topmost down)."""
        down = {d for d, s in own.items() if s in DOWN}
        unreachable: set[str] = set()
        queue = list(down)
        while queue:
            parent = queue.pop()
            for child in self.children.get(parent, ()):
                if child in unreachable or own.get(child) not in CUT_CANDIDATES:
                    continue  # reporting (or merely late) devices are not taken as cut off
                if all(p in down or p in unreachable for p in self.parents[child]):
                    unreachable.add(child)
                    queue.append(child)
        roots: dict[str, str] = {}

        def root(device: str) -> str:
            if device not in unreachable:
                return device
            if device not in roots:
                roots[device] = device  # guards against a cycle in bad data
                roots[device] = root(self.parents[device][0])
            return roots[device]

        return {device: root(device) for device in unreachable}

    def unobserved(self, own: dict[str, str]) -> dict[str, str]:
        """Devices not plainly online whose collector is down, mapped to the collector.

        Their silence (or last reading) says nothing about them while nobody polls them.
        """
        return {
            device: collector
            for device, collector in self.observer.items()
            if device in own and own.get(collector) in DOWN | CUT_CANDIDATES
        }


@dataclass
class ReachabilityResult:
    """This tick's unreachable devices, their root causes' impact, and transitions written."""

    unreachable: dict[str, str]
    impact: dict[str, dict[str, int]]
    changes: int = 0
    own: dict[str, str] = field(default_factory=dict)  # own state of every device not online
    presumed: frozenset[str] = frozenset()  # silent parents taken as offline (their children)


class Reachability:
    """Maintains ``device_reachability`` set-wise each tick; caches the topology graph."""

    def __init__(self, stale_factor: float, offline_factor: float, refresh_s: float) -> None:
        self.stale_factor = stale_factor
        self.offline_factor = offline_factor
        self.refresh_s = refresh_s
        self._topology: Topology | None = None
        self._signature: tuple[object, ...] | None = None
        self._loaded_at = 0.0
        self._checked_at = 0.0

    def topology(self, conn: psycopg.Connection) -> Topology:
        """The graph, reloaded when the registry changed or the refresh period passed."""
        now = time.monotonic()
        if self._topology is not None and now < self._checked_at + SIGNATURE_EVERY_S:
            return self._topology
        self._checked_at = now
        signature = tuple(conn.execute(TOPOLOGY_SIGNATURE_SQL).fetchone() or ())
        stale = now - self._loaded_at > self.refresh_s
        if self._topology is None or signature != self._signature or stale:
            self._topology = Topology.load(conn)
            self._signature = signature
            self._loaded_at = now
        return self._topology

    def update(
        self,
        conn: psycopg.Connection,
        now: datetime,
        blind_start: datetime | None,
        blind_end: datetime | None,
        frozen: bool = False,
        presume: Callable[[Topology, dict[str, str]], frozenset[str]] | None = None,
    ) -> ReachabilityResult:
        """Compute and store every device's state; ``frozen`` (pipeline down) only reads.

        ``presume(topology, own)`` names silent devices to take as offline (evidence from
        their children, see ``alerts.holds.presumed_down``).
        """
        topo = self.topology(conn)
        if frozen:
            unreachable: dict[str, str] = dict(conn.execute(CURRENT_UNREACHABLE_SQL).fetchall())
            return ReachabilityResult(unreachable, _impact(topo, unreachable))
        own: dict[str, str] = dict(
            conn.execute(
                OWN_STATE_SQL,
                {
                    "now": now,
                    "offline": self.offline_factor,
                    "stale": self.stale_factor,
                    "late": min(LATE_FACTOR, self.stale_factor),
                    "blind_start": blind_start,
                    "blind_end": blind_end,
                    "down_metrics": ["up", "online"],
                },
            ).fetchall()
        )
        presumed = presume(topo, own) if presume is not None else frozenset()
        own.update(dict.fromkeys(presumed, "offline"))
        unobserved = topo.unobserved(own)
        unreachable = topo.cut_off({d: s for d, s in own.items() if d not in unobserved})
        states = {d: s for d, s in own.items() if s != "late"}
        states.update(dict.fromkeys(unreachable, "unreachable"))
        states.update(dict.fromkeys(unobserved, "unobserved"))
        unreachable.update(unobserved)  # muted by the collector's alert like a cut-off child
        ids = sorted(states)
        changed = conn.execute(
            WRITE_SQL,
            {
                "now": now,
                "ids": ids,
                "states": [states[i] for i in ids],
                "roots": [unreachable.get(i) for i in ids],
            },
        ).fetchall()
        if changed:
            log.info("reachability: %d transition(s)", len(changed))
        impact = _impact(topo, unreachable)
        return ReachabilityResult(unreachable, impact, len(changed), own, presumed)


def _impact(topo: Topology, unreachable: dict[str, str]) -> dict[str, dict[str, int]]:
    impact: dict[str, dict[str, int]] = defaultdict(dict)
    for device, root in unreachable.items():
        device_type = topo.types.get(device, "?")
        impact[root][device_type] = impact[root].get(device_type, 0) + 1
    return dict(impact)
