"""Compares what the broker acknowledged with what the database holds."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from tests.reliability.harness import METRICS, Msg

TELEMETRY = """
SELECT device_id, time, metric, count(*) FROM telemetry
WHERE time BETWEEN %(lo)s AND %(hi)s AND device_id = ANY(%(devices)s)
GROUP BY 1, 2, 3
"""
EVENTS = """
SELECT device_id, time, seq, count(*) FROM device_events
WHERE time BETWEEN %(lo)s AND %(hi)s AND device_id = ANY(%(devices)s)
GROUP BY 1, 2, 3
"""
QUARANTINE = "SELECT topic, payload, count(*), sum(occurrences) FROM quarantine GROUP BY 1, 2"
STORED_UP_TO = """
SELECT count(DISTINCT (device_key, time)) FROM telemetry_points WHERE time BETWEEN %(lo)s AND %(hi)s
"""
SEQ_GAPS = "SELECT coalesce(sum(seq_gaps), 0) FROM device_status WHERE device_id = ANY(%(devices)s)"
RESET = """
TRUNCATE telemetry_points, device_events, quarantine, device_status, device_latest_points,
         device_status_changes, ingest_instances
"""


@dataclass
class Tally:
    """Per-message outcome of one scenario."""

    sent: int = 0
    acked: int = 0
    stored: int = 0  # messages of the stream found in the database (telemetry, events, poison)
    lost: int = 0  # acknowledged by the broker, not in the database
    duplicated: int = 0  # a row (or a quarantine row) present more than once
    quarantine_redeliveries: int = 0  # quarantine occurrences beyond one (at-least-once, by design)
    lost_examples: list[str] = field(default_factory=list)


def tally(db: psycopg.Connection, sent: list[Msg], acked: list[Msg]) -> Tally:
    """Count stored, lost and duplicated messages of ``sent`` (``acked`` ⊆ ``sent``)."""
    if not sent:
        return Tally()
    params: dict[str, Any] = {
        "lo": min(m.ts for m in sent),
        "hi": max(m.ts for m in sent),
        "devices": sorted({m.device for m in sent}),
    }
    points: Counter[tuple[str, datetime, str]] = Counter()
    for device, ts, metric, n in db.execute(TELEMETRY, params):
        points[(device, ts, metric)] = n
    events = {(d, ts, seq): n for d, ts, seq, n in db.execute(EVENTS, params)}
    quarantine = {(t, p): (n, occ) for t, p, n, occ in db.execute(QUARANTINE)}
    result = Tally(sent=len(sent), acked=len(acked))
    acked_ids = {id(m) for m in acked}
    for msg in sent:
        counts = _counts(msg, points, events, quarantine)
        if all(c >= 1 for c in counts):
            result.stored += 1
        elif id(msg) in acked_ids:
            result.lost += 1
            if len(result.lost_examples) < 5:
                result.lost_examples.append(f"{msg.kind} {msg.device} seq={msg.seq} ts={msg.ts}")
        if any(c > 1 for c in counts):
            result.duplicated += 1
        if msg.kind == "poison":
            occurrences = quarantine.get((msg.topic, msg.payload.decode()), (0, 0))[1]
            result.quarantine_redeliveries += max(0, int(occurrences) - 1)
    return result


def _counts(
    msg: Msg,
    points: Counter[tuple[str, datetime, str]],
    events: dict[tuple[str, datetime, int], int],
    quarantine: dict[tuple[str, str], tuple[int, int]],
) -> list[int]:
    if msg.kind == "telemetry":
        return [points[(msg.device, msg.ts, metric)] for metric in METRICS]
    if msg.kind == "event":
        return [events.get((msg.device, msg.ts, msg.seq), 0)]
    return [quarantine.get((msg.topic, msg.payload.decode()), (0, 0))[0]]


def stored_telemetry(db: psycopg.Connection, lo: datetime, hi: datetime) -> int:
    """Distinct telemetry messages (device, time) stored between ``lo`` and ``hi``."""
    row = db.execute(STORED_UP_TO, {"lo": lo, "hi": hi}).fetchone()
    return int(row[0]) if row else 0


def telemetry_between(messages: Iterable[Msg], lo: datetime, hi: datetime) -> int:
    """How many of ``messages`` are telemetry with a timestamp in [lo, hi]."""
    return sum(1 for m in messages if m.kind == "telemetry" and lo <= m.ts <= hi)


def seq_gaps(db: psycopg.Connection, devices: list[str]) -> int:
    """Sum of `device_status.seq_gaps` over ``devices``."""
    row = db.execute(SEQ_GAPS, {"devices": devices}).fetchone()
    return int(row[0]) if row else 0


def reset(db: psycopg.Connection) -> None:
    """Empty the tables a scenario writes (the registry stays)."""
    db.execute(RESET)
